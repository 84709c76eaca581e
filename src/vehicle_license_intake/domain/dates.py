"""Dates as vendors print them, to ISO 8601."""

from __future__ import annotations

import re
from datetime import date

_SEPARATED = re.compile(r"^(\d{4})\s*[-./年]\s*(\d{1,2})\s*[-./月]\s*(\d{1,2})\s*日?$")
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_YEAR_MONTH = re.compile(r"(\d{4})\s*(?:年|[-./])\s*(\d{1,2})\s*月?")


class InvalidDate(ValueError):
    """The text looks like no date, or names a day that does not exist."""


def parse_date(text: str) -> date:
    cleaned = text.strip()
    match = _SEPARATED.match(cleaned) or _COMPACT.match(cleaned)
    if not match:
        raise InvalidDate(cleaned)
    year, month, day = (int(part) for part in match.groups())
    try:
        return date(year, month, day)
    except ValueError as error:
        raise InvalidDate(cleaned) from error


def latest_year_month(text: str) -> tuple[int, int] | None:
    """The latest valid year-month mentioned in the text (inspection stamps), if any."""
    found = [(int(year), int(month)) for year, month in _YEAR_MONTH.findall(text) if 1 <= int(month) <= 12]
    return max(found) if found else None
