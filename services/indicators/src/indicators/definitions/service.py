"""Definition versions: create, replace (next version), retire, read any version, load defaults."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from indicators.definitions.models import DefinitionCreate, IndicatorDefinition
from indicators.definitions.spec import DefinitionSpec
from pilnveide_kit.errors import Conflict, NotFound, PreconditionFailed, PreconditionRequired

DEFAULTS_DIR = Path(__file__).resolve().parents[1] / "defaults"
DEFAULTS_FILE = DEFAULTS_DIR / "plan_2021_2027.json"
#: The institution strategies' computable indicators (seeds 002 and 004).
STRATEGY_DEFAULTS = (
    DEFAULTS_DIR / "strategy_vk_2025_2029.json",
    DEFAULTS_DIR / "strategy_lm_2024_2027.json",
)
DEFAULTS_AUTHOR = "defaults"


class MissingStatusRule(ValueError):
    """A shipped default counts enrolments without saying which statuses count."""


class DefinitionNotFound(NotFound):
    """No definition (or no such version) for an indicator code."""

    slug, title = "definition-not-found", "Definition Not Found"


class DefinitionExists(Conflict):
    """A definition for the code exists already; replace it with PUT instead."""

    slug, title = "definition-exists", "Definition Exists"


class DefinitionVersionMismatch(PreconditionFailed):
    """If-Match names another version than the current one."""

    slug, title = "definition-version-mismatch", "Definition Changed"


class IfMatchRequired(PreconditionRequired):
    """Changing a definition needs If-Match with its current ETag."""

    slug, title = "if-match-required", "If-Match Required"


def etag(row: IndicatorDefinition) -> str:
    """The ETag of a definition version."""
    return f'"{row.code}@{row.version}"'


def natural_key(code: str) -> list[Any]:
    """Sort 1.2.1 before 1.10.1."""
    return [
        (0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"[.\-]", code)
    ]


def latest(session: Session, code: str) -> IndicatorDefinition | None:
    """The newest version of a code (possibly retired)."""
    return session.exec(
        select(IndicatorDefinition)
        .where(IndicatorDefinition.code == code)
        .order_by(col(IndicatorDefinition.version).desc())
        .limit(1)
    ).first()


def get(session: Session, code: str, version: int | None = None) -> IndicatorDefinition:
    """A given version, or the current one (404 when none or when retired)."""
    if version is not None:
        row = session.exec(
            select(IndicatorDefinition).where(
                IndicatorDefinition.code == code, IndicatorDefinition.version == version
            )
        ).first()
        if row is None:
            raise DefinitionNotFound(f"Indicator {code} has no definition version {version}")
        return row
    row = latest(session, code)
    if row is None or row.retired:
        raise DefinitionNotFound(f"Indicator {code} has no current definition")
    return row


def versions(session: Session, code: str) -> list[IndicatorDefinition]:
    """Every version of a code, oldest first."""
    rows = list(
        session.exec(
            select(IndicatorDefinition)
            .where(IndicatorDefinition.code == code)
            .order_by(col(IndicatorDefinition.version))
        )
    )
    if not rows:
        raise DefinitionNotFound(f"Indicator {code} has no definition")
    return rows


def current_all(session: Session, plan: str | None = None) -> dict[str, IndicatorDefinition]:
    """The current (not retired) version of every code, optionally of one plan."""
    newest = (
        select(IndicatorDefinition.code, func.max(IndicatorDefinition.version).label("version"))
        .group_by(col(IndicatorDefinition.code))
        .subquery()
    )
    query = select(IndicatorDefinition).join(
        newest,
        (col(IndicatorDefinition.code) == newest.c.code)
        & (col(IndicatorDefinition.version) == newest.c.version),
    )
    if plan is not None:
        query = query.where(IndicatorDefinition.plan == plan)
    return {row.code: row for row in session.exec(query) if not row.retired}


def create(session: Session, payload: DefinitionCreate, author: str) -> IndicatorDefinition:
    """Version 1 of a new indicator's definition (409 when the code has one already)."""
    if latest(session, payload.code) is not None:
        raise DefinitionExists(
            f"Indicator {payload.code} has a definition; replace it with PUT and If-Match"
        )
    row = _row(payload.code, 1, payload.plan, payload.spec, author, payload.note)
    session.add(row)
    session.flush()
    return row


def check_if_match(current: IndicatorDefinition, if_match: str | None) -> None:
    """428 without If-Match, 412 when it names another version."""
    if not if_match:
        raise IfMatchRequired("Send If-Match with the ETag of the version you are replacing")
    wanted = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in wanted and etag(current) not in wanted:
        raise DefinitionVersionMismatch(
            f"The current version of {current.code} is {current.version}",
            current_etag=etag(current),
        )


def replace(
    session: Session,
    code: str,
    spec: DefinitionSpec,
    *,
    author: str,
    if_match: str | None,
    note: str | None = None,
) -> IndicatorDefinition:
    """The next version of a definition; the previous ones stay and can still be computed."""
    current = get(session, code)
    check_if_match(current, if_match)
    row = _row(code, current.version + 1, current.plan, spec, author, note)
    session.add(row)
    session.flush()
    return row


def retire(
    session: Session, code: str, *, author: str, if_match: str | None
) -> IndicatorDefinition:
    """End an indicator's computation with a retired version; history stays reproducible."""
    current = get(session, code)
    check_if_match(current, if_match)
    row = _row(
        code,
        current.version + 1,
        current.plan,
        DefinitionSpec.model_validate(current.spec),
        author,
        "retired",
    )
    row.retired = True
    session.add(row)
    session.flush()
    return row


@dataclass
class LoadReport:
    """What loading the default definitions did."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    kept_local: int = 0


def default_definitions(path: Path = DEFAULTS_FILE) -> tuple[str, list[DefinitionCreate]]:
    """The plan code and definitions of the shipped default file (validated)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    plan = str(document["plan"])
    missing = [
        str(item.get("code"))
        for item in document["definitions"]
        if not DefinitionSpec.model_validate(item["spec"]).has_status_rule
    ]
    if missing:
        raise MissingStatusRule(
            f"{path.name}: {', '.join(missing)} count enrolments without a status rule "
            "(set `counts` from the verb of the text, or `filter.statuses`)"
        )
    items = [
        DefinitionCreate.model_validate({**item, "plan": plan}) for item in document["definitions"]
    ]
    return plan, items


def load_defaults(session: Session, items: Sequence[DefinitionCreate]) -> LoadReport:
    """Load default definitions idempotently; a definition changed through the API is kept."""
    report = LoadReport()
    for item in items:
        current = latest(session, item.code)
        if current is None:
            session.add(_row(item.code, 1, item.plan, item.spec, DEFAULTS_AUTHOR, item.note))
            report.created += 1
        elif current.created_by != DEFAULTS_AUTHOR:
            report.kept_local += 1
        elif DefinitionSpec.model_validate(current.spec) == item.spec and not current.retired:
            report.unchanged += 1
        else:
            session.add(
                _row(
                    item.code, current.version + 1, item.plan, item.spec, DEFAULTS_AUTHOR, item.note
                )
            )
            report.updated += 1
    session.flush()
    return report


def _row(
    code: str, version: int, plan: str, spec: DefinitionSpec, author: str, note: str | None
) -> IndicatorDefinition:
    return IndicatorDefinition(
        code=code,
        version=version,
        plan=plan,
        kind=spec.kind,
        spec=spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        | {"kind": spec.kind},
        created_by=author,
        note=note,
    )
