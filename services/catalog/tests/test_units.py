"""Units: language negotiation, localisation, search folding, natural order, If-Match."""

from __future__ import annotations

import pytest

from catalog.common.concurrency import IfMatchMissing, StaleWrite, check_if_match, etag
from catalog.common.i18n import localize, preferred_language
from catalog.common.search import fold, sort_key


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("lv", "lv"),
        ("en-GB,en;q=0.9", "en"),
        ("de, en;q=0.3, lv;q=0.8", "lv"),
        ("fr", None),
        ("lv;q=0", None),
        ("*", None),
    ],
)
def test_preferred_language(header: str | None, expected: str | None) -> None:
    assert preferred_language(header) == expected


def test_localize_replaces_texts_only() -> None:
    body = {"text": {"lv": "Iepirkumi", "en": "Procurement"}, "target": {"lv": "x", "role": "r"}}
    assert localize(body, "en") == {"text": "Procurement", "target": {"lv": "x", "role": "r"}}
    assert localize({"t": {"lv": "Tikai latviski", "en": None}}, "en") == {"t": "Tikai latviski"}
    assert localize(body, None) is body


def test_fold_and_natural_order() -> None:
    assert fold("Ierēdņu ĀRLIETU") == "ierednu arlietu"
    codes = ["1.10", "1.2", "M2.11.1", "M2.3.1", "1.1.1"]
    assert sorted(codes, key=sort_key) == ["1.1.1", "1.2", "1.10", "M2.3.1", "M2.11.1"]


def test_if_match() -> None:
    check_if_match('"v3"', 3)
    check_if_match('W/"v3"', 3)
    check_if_match('"v1", "v3"', 3)
    check_if_match("*", 3)
    with pytest.raises(IfMatchMissing):
        check_if_match(None, 3)
    with pytest.raises(StaleWrite):
        check_if_match(etag(2), 3)
