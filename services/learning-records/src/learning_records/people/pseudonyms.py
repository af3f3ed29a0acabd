"""Latvian personal codes: validation, normalisation and the keyed pseudonym that replaces them.

The code itself is never stored or logged: it is validated, normalised and turned into an
HMAC-SHA-256 pseudonym with the deployment's secret pepper at the edge of the service. Error
messages never repeat the code.
"""

from __future__ import annotations

import hmac
import re
from datetime import date

_SHAPE = re.compile(r"^(\d{6})-?(\d{5})$")
_CENTURIES = {"0": 1800, "1": 1900, "2": 2000}
_PSEUDONYM = re.compile(r"^[0-9a-f]{64}$")


class InvalidPersonalCode(ValueError):
    """The value is not a well-formed Latvian personal code (the message never holds it)."""


def normalise_personal_code(value: str) -> str:
    """The code's 11 digits, after checking the old (DDMMYY-CNNNN) or new (32xxxx-xxxxx) form."""
    match = _SHAPE.match(value.strip())
    if match is None:
        raise InvalidPersonalCode(
            "a personal code has 11 digits, optionally with a hyphen after the sixth"
        )
    digits = match.group(1) + match.group(2)
    if digits.startswith("32"):
        return digits
    century = _CENTURIES.get(digits[6])
    if century is None:
        raise InvalidPersonalCode("the century digit of an old-form personal code is not 0, 1 or 2")
    try:
        date(century + int(digits[4:6]), int(digits[2:4]), int(digits[0:2]))
    except ValueError as exc:
        raise InvalidPersonalCode(
            "an old-form personal code does not start with a valid date"
        ) from exc
    if _old_form_check_digit(digits) != int(digits[10]):
        raise InvalidPersonalCode("the check digit of the old-form personal code does not match")
    return digits


def _old_form_check_digit(digits: str) -> int:
    # Weights 1 6 3 7 9 10 5 8 4 2 on the digit values; they sum to 55, hence the ord('0') term.
    a, b, c, d, e, f, g, h, i, j = map(ord, digits[:10])
    total = a + 6 * b + 3 * c + 7 * d + 9 * e + 10 * f + 5 * g + 8 * h + 4 * i + 2 * j - 48 * 55
    return (1101 - total) % 11


def pseudonymise(value: str, pepper: str) -> str:
    """The keyed pseudonym (64 hex characters) of a personal code; InvalidPersonalCode if bad."""
    digits = normalise_personal_code(value)
    return hmac.digest(pepper.encode(), digits.encode(), "sha256").hex()


def is_pseudonym(value: str) -> bool:
    """Whether a string has the shape of a pseudonym this service issues."""
    return bool(_PSEUDONYM.match(value))


def synthetic_personal_code(number: int) -> str:
    """A valid old-form code, distinct for each number below 33.6 million (tests and benchmarks)."""
    day_index, serial = number % 33_600, number // 33_600 % 1000
    day, month, year = 1 + day_index % 28, 1 + day_index // 28 % 12, day_index // 336
    head = f"{day:02d}{month:02d}{year:02d}1{serial:03d}"
    if _old_form_check_digit(head) == 10:  # no code has this serial in 19xx; take 20xx instead
        head = f"{head[:6]}2{head[7:]}"
    return f"{head[:6]}-{head[6:]}{_old_form_check_digit(head)}"
