"""Realistic synthetic licenses: cards that look like the real ones (see the modules)."""
