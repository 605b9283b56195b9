"""NPI format and check digit.

An NPI is 10 digits whose last digit is a Luhn check digit computed over the prefix 80840
followed by the first nine digits (CMS, "Requirements for the NPI check digit").
"""

from __future__ import annotations


def luhn_check_digit(payload: str) -> int:
    """The Luhn digit that makes `payload + digit` valid."""
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # doubled positions, counted from the right of the payload
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return (10 - total % 10) % 10


def npi_check_digit(first_nine: str) -> int:
    return luhn_check_digit("80840" + first_nine)


def is_valid_npi(value: object) -> bool:
    """True for a 10-digit string or int whose check digit is right."""
    text = str(value).strip() if value is not None else ""
    if len(text) != 10 or not text.isdigit() or text[0] not in "12":
        return False
    return npi_check_digit(text[:9]) == int(text[9])


def make_npi(first_nine: str) -> str:
    """Complete nine digits into a valid NPI (used for synthetic demo providers)."""
    if len(first_nine) != 9 or not first_nine.isdigit():
        raise ValueError("an NPI prefix is nine digits")
    return first_nine + str(npi_check_digit(first_nine))


def npi_error(value: object) -> str | None:
    """A user-facing reason why `value` is not an NPI, or None when it is one."""
    text = str(value).strip() if value is not None else ""
    if not text:
        return "NPI is required"
    if not text.isdigit() or len(text) != 10:
        return "an NPI is exactly 10 digits"
    if text[0] not in "12":
        return "an NPI starts with 1 or 2"
    if not is_valid_npi(text):
        return "the NPI's check digit is wrong (likely a typo)"
    return None
