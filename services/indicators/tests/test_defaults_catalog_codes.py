"""The default definitions filter only by codes the catalog's seed files define."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

SEED = Path(__file__).resolve().parents[2] / "catalog" / "src" / "catalog" / "seed"
DEFAULTS = (
    Path(__file__).resolve().parents[1] / "src" / "indicators" / "defaults" / "plan_2021_2027.json"
)
#: Filter keys and the catalog reference list their codes come from.
LISTED = {
    "roles": "roles",
    "management_levels": "management_levels",
    "position_groups": "position_groups",
}


def _load(name: str) -> Any:
    return json.loads((SEED / name).read_text(encoding="utf-8"))


def _reference_lists() -> dict[str, set[str]]:
    lists = _load("reference_lists.json")["lists"]
    return {entry["code"]: {item["code"] for item in entry["items"]} for entry in lists}


def _walk(node: Any) -> Any:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


def _measure_codes() -> set[str]:
    plan = _load("plan_2021_2027.json")
    return {
        str(node["code"])
        for node in _walk(plan)
        if isinstance(node.get("code"), str) and re.fullmatch(r"\d+\.\d+", node["code"])
    }


def _filters() -> list[tuple[str, dict[str, Any]]]:
    """Every filter of the defaults: the records filter and the denominator's population."""
    found = []
    for item in json.loads(DEFAULTS.read_text(encoding="utf-8"))["definitions"]:
        spec = item["spec"]
        found.append((item["code"], spec.get("filter") or {}))
        denominator = spec.get("denominator") or {}
        found.append((f"{item['code']} denominator", denominator.get("filter") or {}))
        found.append((f"{item['code']} population", spec.get("population") or {}))
    return found


def test_every_role_level_and_position_group_is_in_the_catalog_reference_lists() -> None:
    lists = _reference_lists()
    unknown = [
        (where, key, code)
        for where, chosen in _filters()
        for key, list_code in LISTED.items()
        for code in chosen.get(key) or []
        if code not in lists[list_code]
    ]
    assert unknown == []
    used = {key for _where, chosen in _filters() for key in LISTED if chosen.get(key)}
    assert used == set(LISTED)  # the check above really looked at each kind of code


def test_every_course_and_course_tag_is_in_the_catalog_learning_offer() -> None:
    offer = _load("learning_offer.json")
    courses = {course["code"] for course in offer["courses"]}
    measures = _measure_codes()
    tags = {f"measure:{m}" for m in measures}
    tags |= {f"programme:{programme['code']}" for programme in offer["programmes"]}
    entries = [*offer["programmes"], *offer["courses"]]
    tags |= {tag for entry in entries for tag in entry["tags"]}
    # Tags the catalog derives from a course's flags and target groups.
    tags |= {"mandatory" for entry in entries if entry["mandatory"]}
    tags |= {"knowledge_test" for entry in offer["courses"] if entry["knowledge_test"]}
    tags |= {f"target_group:{g}" for entry in entries for g in entry["target_groups"]}
    tags |= {f"format:{entry['format']}" for entry in entries}
    tags |= {f"provider:{entry['provider']}" for entry in entries if entry.get("provider")}
    assert {"1.1", "5.5"} <= measures
    unknown_courses = [
        (where, code)
        for where, chosen in _filters()
        for code in chosen.get("courses") or []
        if code not in courses
    ]
    unknown_tags = [
        (where, tag)
        for where, chosen in _filters()
        for tag in [
            *(chosen.get("course_tags") or []),
            *(chosen.get("course_tags_all") or []),
            *([chosen["all_courses_of"]] if chosen.get("all_courses_of") else []),
        ]
        if tag not in tags
    ]
    assert unknown_courses == []
    assert unknown_tags == []
