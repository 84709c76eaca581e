"""Vehicle identification numbers (车辆识别代号, GB 16735 / ISO 3779)."""

from __future__ import annotations

import re

VIN_PATTERN = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")

_TRANSLITERATION: dict[str, int] = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_WEIGHTS: tuple[int, ...] = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
# Position 10: the model year, in a 30-year cycle from 1980 (A) (letters I, O, Q, U, Z and 0 unused).
MODEL_YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"

# Single characters OCR commonly reads in place of another (DOMAIN.md), read -> could be.
OCR_CONFUSIONS: dict[str, tuple[str, ...]] = {
    "O": ("0",),
    "Q": ("0",),
    "I": ("1",),
    "B": ("8",),
    "8": ("B",),
    "S": ("5",),
    "5": ("S",),
    "Z": ("2",),
    "2": ("Z",),
    "D": ("0",),
    "0": ("D",),
}


def transliterate(char: str) -> int:
    return _TRANSLITERATION[char]


def normalize_vin(raw: str) -> str:
    return re.sub(r"[\s\-·]", "", raw).upper()


def is_well_formed(vin: str) -> bool:
    return bool(VIN_PATTERN.match(vin))


def check_digit(vin: str) -> str:
    """The check digit (position 9) a well-formed VIN must carry."""
    total = sum(transliterate(char) * weight for char, weight in zip(vin, _WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def with_check_digit(vin: str) -> str:
    """The VIN with position 9 set to the check digit its other 16 characters call for."""
    return vin[:8] + check_digit(vin[:8] + "0" + vin[9:]) + vin[9:]


def has_valid_check_digit(vin: str) -> bool:
    return is_well_formed(vin) and vin[8] == check_digit(vin)


def model_year_candidates(vin: str) -> tuple[int, int] | None:
    """Position 10 repeats every 30 years: both possible years, or None if it is no year code."""
    index = MODEL_YEAR_CODES.find(vin[9]) if len(vin) >= 10 else -1
    if index < 0:
        return None
    return 1980 + index, 2010 + index


def model_year(vin: str, latest_possible: int) -> int | None:
    """The most recent candidate year not later than `latest_possible`, if any."""
    candidates = model_year_candidates(vin)
    if candidates is None:
        return None
    fitting = [year for year in candidates if year <= latest_possible]
    return max(fitting) if fitting else None


def single_confusion_suggestion(vin: str) -> str | None:
    """The one VIN, differing from `vin` by one common OCR confusion, whose check digit is valid."""
    if len(vin) != 17 or has_valid_check_digit(vin):
        return None
    suggestions: set[str] = set()
    for position, char in enumerate(vin):
        for replacement in OCR_CONFUSIONS.get(char, ()):
            candidate = vin[:position] + replacement + vin[position + 1 :]
            if has_valid_check_digit(candidate):
                suggestions.add(candidate)
    return suggestions.pop() if len(suggestions) == 1 else None
