"""Vehicle records (SPEC §12): the function that joins the two pages of a license into one record
per plate, fed by the outcome and review events of the stack's bus through its own queue."""
