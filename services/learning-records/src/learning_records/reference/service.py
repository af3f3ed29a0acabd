"""Applying catalog changes to the copy, and reading the copy: known codes, tags, sync state."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, exists, func
from sqlmodel import Session, col, select

from learning_records.bulk import insert_rows
from learning_records.changes.service import change_feed
from learning_records.models import as_utc, utcnow
from learning_records.reference.models import (
    ENTITIES,
    CatalogCourseTag,
    CatalogEntry,
    CatalogSyncState,
)

#: The catalog's reference lists whose codes records are checked against.
ROLES, POSITION_GROUPS, MANAGEMENT_LEVELS = "roles", "position_groups", "management_levels"
LEAVING_REASONS = "leaving_reasons"
#: A management level records accept whatever the catalog's list says: "not a manager".
NO_MANAGEMENT_LEVEL = "none"


def sync_state(session: Session) -> CatalogSyncState:
    """The copy's state row (created on first use)."""
    state = session.get(CatalogSyncState, 1)
    if state is None:
        state = CatalogSyncState(id=1)
        session.add(state)
        session.flush()
    return state


def last_change_id(session: Session) -> int:
    """The id of the last catalog change the copy has applied (0: never synced)."""
    state = session.get(CatalogSyncState, 1)
    return 0 if state is None else state.last_change_id


def apply_changes(
    session: Session,
    changes: Iterable[Mapping[str, Any]],
    reference_lists: Iterable[Mapping[str, Any]] = (),
) -> int:
    """Apply catalog changes in order (those already applied are skipped); how many applied.

    `reference_lists` are whole lists (`GET /v1/reference`), applied as of the first sync.
    Each applied change is also a change of this service's feed (entity `catalog_<kind>`), so
    the indicators' cached results, keyed by the feed's head, are recomputed.
    """
    feed = change_feed(session)  # the writers' lock: one applier at a time, in commit order
    state = sync_state(session)
    applied = 0
    now = utcnow()
    for whole in reference_lists:
        if _keep(session, "reference_list", whole, change_id=state.last_change_id, now=now):
            feed.record("catalog_reference_list", "update", whole["code"])
            applied += 1
    for change in changes:
        change_id = int(change["id"])
        if change_id <= state.last_change_id:
            continue
        entity, snapshot = str(change["entity"]), dict(change.get("snapshot") or {})
        snapshot.setdefault("code", change["entity_code"])
        snapshot.setdefault("version", change.get("version", 1))
        if entity in ENTITIES and _keep(session, entity, snapshot, change_id=change_id, now=now):
            feed.record(
                f"catalog_{entity}", str(change.get("operation") or "update"), snapshot["code"]
            )
            applied += 1
        state.last_change_id = change_id
    state.last_attempt_at = state.last_success_at = now
    state.last_error = None
    session.add(state)
    session.flush()
    return applied


def _keep(
    session: Session, entity: str, snapshot: Mapping[str, Any], *, change_id: int, now: Any
) -> bool:
    """Store a snapshot unless an equal or newer one is kept; whether it changed the copy."""
    code = str(snapshot["code"])
    version = int(snapshot.get("version") or 1)
    entry = session.get(CatalogEntry, (entity, code))
    if entry is not None and (entry.version > version or entry.data == dict(snapshot)):
        return False
    if entry is None:
        entry = CatalogEntry(
            entity=entity, code=code, version=version, change_id=change_id, synced_at=now
        )
    entry.version, entry.change_id, entry.synced_at = version, change_id, now
    entry.archived = bool(snapshot.get("archived", False))
    entry.data = dict(snapshot)
    session.add(entry)
    if entity == "course":
        session.execute(delete(CatalogCourseTag).where(col(CatalogCourseTag.course_code) == code))
        tags = dict.fromkeys(str(t) for t in snapshot.get("tags") or [])
        insert_rows(session, CatalogCourseTag, [{"tag": t, "course_code": code} for t in tags])
    session.flush()
    return True


def record_failure(session: Session, reason: str) -> None:
    """Note a failed sync attempt (the copy itself stays as it was)."""
    state = sync_state(session)
    state.last_attempt_at = utcnow()
    state.last_error = reason[:500]
    session.add(state)


def has_courses(session: Session) -> bool:
    """Whether the copy knows any course (before the first sync, course codes are not judged)."""
    return bool(
        session.execute(select(exists().where(col(CatalogEntry.entity) == "course"))).scalar()
    )


def known_courses_query() -> Any:
    """A subquery of the course codes the catalog has (for `IN` filters)."""
    return select(col(CatalogEntry.code)).where(col(CatalogEntry.entity) == "course")


#: The last resort map per database, with the version of the copy it was resolved from.
_RESORTS: dict[str, tuple[tuple[Any, ...], dict[str, str]]] = {}


def institution_resorts(session: Session) -> dict[str, str]:
    """Each institution of the copy with its resort: the top of its parent chain.

    A ministry heads its own resort, and so does an institution others are placed under (the
    State Chancellery heads the Prime Minister's: VAS, PKC, KNAB), so its own staff count in it.
    A parent the catalog does not list is kept as the resort; an institution with no parent
    that heads nothing (a university, a municipality) is in no resort and is left out. The
    indicators service resolves resorts from the catalog the same way (`with_resorts`).

    Resolved again only when the copy's institutions changed (their count, latest change and
    sync time, read in the caller's snapshot): every aggregation grouped by resort asks.
    """
    entry: Any = CatalogEntry
    version = tuple(
        session.execute(
            select(
                func.count(), func.max(col(entry.change_id)), func.max(col(entry.synced_at))
            ).where(col(CatalogEntry.entity) == "institution")
        ).one()
    )
    database = str(session.connection().engine.url)
    known = _RESORTS.get(database)
    if known is not None and known[0] == version:
        return dict(known[1])
    found = _resolve_resorts(session)
    _RESORTS[database] = (version, found)
    return dict(found)


def _resolve_resorts(session: Session) -> dict[str, str]:
    # Only the two fields, read in the database (not every institution's whole JSON document
    # parsed in Python on each aggregation that groups by resort).
    data: Any = CatalogEntry.__table__.c.data  # type: ignore[attr-defined]
    rows = session.execute(
        select(col(CatalogEntry.code), data["parent"].as_string(), data["kind"].as_string()).where(
            col(CatalogEntry.entity) == "institution"
        )
    ).all()
    parents = {code: (parent or None) for code, parent, _kind in rows}
    kinds = {code: kind for code, _parent, kind in rows}
    heads = {parent for parent in parents.values() if parent}
    found: dict[str, str] = {}
    for code in parents:
        top, seen = code, {code}
        while (up := parents.get(top)) and up not in seen:
            seen.add(up)
            top = up
        if top != code or kinds[code] == "ministry" or code in heads:
            found[code] = top
    return found


@dataclass(frozen=True)
class FrameworkScale:
    """A framework's competency codes and its proficiency levels."""

    competencies: frozenset[str]
    levels: frozenset[int]


@dataclass
class ReferenceCodes:
    """The codes records are checked against; an empty part means "not synced yet: not judged"."""

    lists: dict[str, frozenset[str]] = field(default_factory=dict)
    institutions: frozenset[str] = frozenset()
    frameworks: dict[str, FrameworkScale] = field(default_factory=dict)
    courses: frozenset[str] = frozenset()

    def check_list(self, name: str, list_code: str, value: str | None) -> str | None:
        """Why a value is not a code of a reference list (None: fine or not judged)."""
        known = self.lists.get(list_code)
        if value is None or not known or value in known:
            return None
        if list_code == MANAGEMENT_LEVELS and value == NO_MANAGEMENT_LEVEL:
            return None
        return f"{name}: {value!r} is not a known code; valid: {', '.join(sorted(known))}"

    def check_institution(self, name: str, value: str | None) -> str | None:
        """Why a value is not an institution of the catalog's registry."""
        if value is None or not self.institutions or value in self.institutions:
            return None
        return (
            f"{name}: {value!r} is not an institution of the catalog's registry "
            "(GET /catalog/v1/institutions lists them)"
        )

    def check_assessment(self, framework: str, competency: str, level: int) -> str | None:
        """Why a framework, competency or level is not one of the catalog's frameworks."""
        if not self.frameworks:
            return None
        scale = self.frameworks.get(framework)
        if scale is None:
            valid = ", ".join(sorted(self.frameworks))
            return f"framework: {framework!r} is not known; valid: {valid}"
        if scale.competencies and competency not in scale.competencies:
            return (
                f"competency: {competency!r} is not a competency of {framework}; valid: "
                f"{', '.join(sorted(scale.competencies))}"
            )
        if scale.levels and level not in scale.levels:
            low, high = min(scale.levels), max(scale.levels)
            return f"level: {level} is outside the scale of {framework}; valid: {low}–{high}"
        return None

    def course_unknown(self, course_code: str) -> bool:
        """Whether a course code is missing from a synced catalog."""
        return bool(self.courses) and course_code not in self.courses


def _competency_codes(nodes: Iterable[Any]) -> set[str]:
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, Mapping) and node.get("code"):
            found.add(str(node["code"]))
            found |= _competency_codes(node.get("children") or [])
    return found


def reference_codes(session: Session) -> ReferenceCodes:
    """Every code the copy knows (a few hundred small rows; documents only of lists, frameworks)."""
    codes = ReferenceCodes()
    institutions: set[str] = set()
    courses: set[str] = set()
    for entity, code in session.execute(
        select(col(CatalogEntry.entity), col(CatalogEntry.code)).where(
            col(CatalogEntry.entity).in_(["institution", "course"])
        )
    ).all():
        (institutions if entity == "institution" else courses).add(code)
    for entity, code, data in session.execute(
        select(col(CatalogEntry.entity), col(CatalogEntry.code), col(CatalogEntry.data)).where(
            col(CatalogEntry.entity).in_(["reference_list", "framework"])
        )
    ).all():
        if entity == "reference_list":
            items = data.get("items") or []
            codes.lists[code] = frozenset(str(i["code"]) for i in items if i.get("code"))
        else:
            levels = {int(level["level"]) for level in data.get("levels") or [] if "level" in level}
            codes.frameworks[code] = FrameworkScale(
                frozenset(_competency_codes(data.get("competencies") or [])), frozenset(levels)
            )
    codes.institutions, codes.courses = frozenset(institutions), frozenset(courses)
    return codes


def current_documents(session: Session, entity: str) -> list[dict[str, Any]]:
    """The kept snapshots of one kind of catalog resource that are not archived, by code."""
    rows = session.execute(
        select(col(CatalogEntry.data))
        .where(col(CatalogEntry.entity) == entity, col(CatalogEntry.archived).is_(False))
        .order_by(col(CatalogEntry.code))
    ).scalars()
    return [dict(data) for data in rows]


def course_titles(session: Session, codes: Iterable[str]) -> dict[str, str]:
    """The Latvian (else English) title of each catalog course the copy knows."""
    wanted = sorted(set(codes))
    if not wanted:
        return {}
    titles: dict[str, str] = {}
    for code, data in session.execute(
        select(col(CatalogEntry.code), col(CatalogEntry.data)).where(
            col(CatalogEntry.entity) == "course", col(CatalogEntry.code).in_(wanted)
        )
    ).all():
        title = data.get("title")
        if isinstance(title, Mapping):
            title = title.get("lv") or title.get("en")
        if title:
            titles[code] = str(title)
    return titles


def status(session: Session) -> dict[str, Any]:
    """The copy's state and how many resources of each kind it holds."""
    state = session.get(CatalogSyncState, 1)
    counts = {entity: 0 for entity in ENTITIES}
    for (entity,) in session.execute(select(col(CatalogEntry.entity))).all():
        counts[entity] = counts.get(entity, 0) + 1
    return {
        "catalog_version": 0 if state is None else state.last_change_id,
        "last_attempt_at": None
        if state is None or state.last_attempt_at is None
        else as_utc(state.last_attempt_at),
        "last_success_at": None
        if state is None or state.last_success_at is None
        else as_utc(state.last_success_at),
        "last_error": None if state is None else state.last_error,
        "counts": counts,
    }
