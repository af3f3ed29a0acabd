"""Personal-code validation, the keyed pseudonym, and the production pepper rule."""

from __future__ import annotations

import pytest

from learning_records.people.pseudonyms import (
    InvalidPersonalCode,
    normalise_personal_code,
    pseudonymise,
    synthetic_personal_code,
)
from learning_records.settings import LearningRecordsSettings

PEPPER = "a-test-pepper-of-some-length"


@pytest.mark.parametrize(
    "value",
    ["010100-10005", "01010010005", " 010100-10005 ", "320000-12345", "32000012345"],
)
def test_valid_codes_normalise_to_eleven_digits(value: str) -> None:
    assert normalise_personal_code(value) == value.strip().replace("-", "")


@pytest.mark.parametrize(
    "value",
    [
        "010100-10004",  # check digit
        "310200-10005",  # 31 February
        "010100-30005",  # century digit 3
        "3200001234",  # ten digits
        "32000-012345",  # hyphen in the wrong place
        "0101001000A",
        "",
    ],
)
def test_malformed_codes_are_refused_without_repeating_them(value: str) -> None:
    with pytest.raises(InvalidPersonalCode) as raised:
        normalise_personal_code(value)
    assert value.strip() == "" or value.strip() not in str(raised.value)


def test_pseudonym_is_keyed_and_ignores_the_hyphen() -> None:
    code = synthetic_personal_code(7)
    assert pseudonymise(code, PEPPER) == pseudonymise(code.replace("-", ""), PEPPER)
    assert pseudonymise(code, PEPPER) != pseudonymise(code, PEPPER + "x")
    assert len(pseudonymise(code, PEPPER)) == 64


def test_synthetic_codes_are_distinct_and_valid() -> None:
    codes = [synthetic_personal_code(n) for n in range(0, 200_000, 13)]
    assert len(set(codes)) == len(codes)
    for code in codes:
        normalise_personal_code(code)


def test_production_refuses_the_default_pepper(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match="PSEUDONYM_PEPPER"):
        LearningRecordsSettings(environment="production")
    monkeypatch.setenv("RECORDS_PSEUDONYM_PEPPER", "s" * 32)
    with pytest.raises(ValueError, match="RECORDS_CATALOG_URL"):
        LearningRecordsSettings(environment="production")
    monkeypatch.setenv("RECORDS_CATALOG_URL", "http://catalog:8001")
    assert LearningRecordsSettings(environment="production").pseudonym_pepper == "s" * 32
