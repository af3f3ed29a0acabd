"""The shipped default definitions: all 71 plan indicators, loaded idempotently."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import Session, create_engine

from indicators.cli import load
from indicators.definitions import service as definitions
from indicators.definitions.spec import KINDS, DefinitionSpec
from indicators.models import metadata
from indicators.settings import IndicatorsSettings
from pilnveide_kit.db import normalise_url
from pilnveide_kit.testing import clear_tables

#: Annex 2 of the plan: how many performance indicators each measure has (71 in all).
INDICATORS_PER_MEASURE = {
    "1.1": 6,
    "1.2": 3,
    "1.3": 3,
    "1.4": 3,
    "1.5": 2,
    "1.6": 2,
    "1.7": 2,
    "2.1": 2,
    "2.2": 4,
    "2.3": 3,
    "2.4": 2,
    "3.1": 4,
    "3.2": 4,
    "3.3": 2,
    "3.4": 3,
    "4.1": 3,
    "4.2": 3,
    "4.3": 3,
    "5.1": 6,
    "5.2": 3,
    "5.3": 3,
    "5.4": 3,
    "5.5": 2,
}
CATALOG_SEED = (
    Path(__file__).resolve().parents[2]
    / "catalog"
    / "src"
    / "catalog"
    / "seed"
    / "plan_2021_2027.json"
)


def _expected_codes() -> set[str]:
    return {f"{m}.{n}" for m, count in INDICATORS_PER_MEASURE.items() for n in range(1, count + 1)}


def test_default_set_covers_all_71_plan_indicators() -> None:
    plan, items = definitions.default_definitions()
    assert plan == "LAP-2021-2027"
    codes = [i.code for i in items]
    assert len(codes) == len(set(codes)) == 71
    assert set(codes) == _expected_codes()
    kinds = Counter(i.spec.kind for i in items)
    assert set(kinds) <= set(KINDS)
    assert kinds["manual"] < 71 / 2, "most indicators are computed from the records"


def test_default_set_matches_the_catalog_seed_when_present() -> None:
    if not CATALOG_SEED.exists():
        pytest.skip(
            "the catalog's seed plan is not in this tree yet (annex 2 counts checked above)"
        )
    seed = json.loads(CATALOG_SEED.read_text(encoding="utf-8"))
    seed_codes = {
        str(indicator["code"])
        if "." in str(indicator["code"])
        else f"{measure['code']}.{indicator['code']}"
        for priority in seed["priorities"]
        for measure in priority["measures"]
        for indicator in measure["indicators"]
    }
    _plan, items = definitions.default_definitions()
    assert {i.code for i in items} == seed_codes


def test_loading_is_idempotent_and_keeps_api_changes(settings: IndicatorsSettings) -> None:
    engine = create_engine(normalise_url(settings.database_url))
    try:
        first = load(settings)
        assert (first.created, first.updated, first.unchanged) == (71, 0, 0)
        second = load(settings)
        assert (second.created, second.updated, second.unchanged) == (0, 0, 71)
        with Session(engine) as session:
            current = definitions.get(session, "1.5.1")
            spec = DefinitionSpec.model_validate(current.spec)
            changed = spec.model_copy(update={"title": "changed"})
            definitions.replace(
                session, "1.5.1", changed, author="vk-admin", if_match=definitions.etag(current)
            )
            session.commit()
        third = load(settings)
        assert (third.kept_local, third.unchanged) == (1, 70)
    finally:
        clear_tables(engine, metadata)
        engine.dispose()
