"""Competency gaps: the catalog's required levels per group against the latest assessments.

Requirements come from the catalog copy's frameworks (`requirements`: position group,
competency or null for every competency, level). A person's groups are the position group,
management level and roles of their current employment, and the catalog's `all_positions`
group applies to everyone; where several groups require the same competency, the highest
level counts. The assessed level is the latest assessment (by date, then by write) the client
may see.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session, col

from learning_records.competencies.schemas import CompetencyGap, GapSummary
from learning_records.employment.service import Job, current_jobs, hr_links
from learning_records.people.access import record_visible
from learning_records.reference.service import current_documents
from learning_records.results.models import CompetencyAssessment
from pilnveide_kit.auth import Principal

#: The catalog's position group that every employee belongs to.
EVERYONE = "all_positions"


@dataclass(frozen=True)
class Required:
    """One competency a group requires at a level."""

    framework: str
    competency: str
    level: int
    group: str


def _leaves(nodes: Iterable[Any]) -> list[str]:
    """Competency codes without children (areas group competencies; they are not assessed)."""
    found: list[str] = []
    for node in nodes:
        if not isinstance(node, Mapping) or not node.get("code"):
            continue
        children = node.get("children") or []
        found.extend(_leaves(children) if children else [str(node["code"])])
    return found


def requirements_by_group(
    session: Session, framework: str | None = None
) -> dict[str, dict[tuple[str, str], Required]]:
    """group → (framework, competency) → what it requires; a named competency overrides the
    group's every-competency requirement in the same framework."""
    by_group: dict[str, dict[tuple[str, str], Required]] = defaultdict(dict)
    for document in current_documents(session, "framework"):
        code = str(document.get("code"))
        if framework is not None and code != framework:
            continue
        leaves = _leaves(document.get("competencies") or [])
        requirements = document.get("requirements") or []
        general = [r for r in requirements if r.get("competency") is None]
        specific = [r for r in requirements if r.get("competency") is not None]
        for req in general + specific:
            group, level = str(req["position_group"]), int(req["level"])
            targets = leaves if req.get("competency") is None else [str(req["competency"])]
            for competency in targets:
                by_group[group][(code, competency)] = Required(code, competency, level, group)
    return by_group


def _required_for(
    job: Job, by_group: Mapping[str, Mapping[tuple[str, str], Required]]
) -> dict[tuple[str, str], Required]:
    """The highest required level of each competency over the job's groups."""
    found: dict[tuple[str, str], Required] = {}
    for group in sorted(job.groups() | {EVERYONE}):
        for key, req in by_group.get(group, {}).items():
            if key not in found or req.level > found[key].level:
                found[key] = req
    return found


def latest_assessments(
    session: Session, principal: Principal, person_ids: list[int]
) -> dict[tuple[int, str, str], tuple[int, str, date]]:
    """(person, framework, competency) → (level, method, date) of the latest visible assessment."""
    if not person_ids:
        return {}
    a = CompetencyAssessment
    ranked = (
        select(
            col(a.person_id),
            col(a.framework),
            col(a.competency),
            col(a.level),
            col(a.method),
            col(a.assessed_on),
            func.row_number()
            .over(
                partition_by=[col(a.person_id), col(a.framework), col(a.competency)],
                order_by=[col(a.assessed_on).desc(), col(a.seq).desc()],
            )
            .label("rank"),
        )
        .where(col(a.person_id).in_(sorted(set(person_ids))), record_visible(principal, a))
        .subquery()
    )
    rows = session.execute(
        select(
            ranked.c.person_id,
            ranked.c.framework,
            ranked.c.competency,
            ranked.c.level,
            ranked.c.method,
            ranked.c.assessed_on,
        ).where(ranked.c.rank == 1)
    ).all()
    return {(int(p), f, c): (int(lv), m, d) for p, f, c, lv, m, d in rows}


def _status(gap: int | None) -> str:
    if gap is None:
        return "not_assessed"
    return "below" if gap > 0 else "meets" if gap == 0 else "above"


def gaps(
    session: Session,
    principal: Principal,
    as_of: date,
    *,
    institution: str | None = None,
    person_id: int | None = None,
    position_group: str | None = None,
    framework: str | None = None,
) -> list[CompetencyGap]:
    """One row per current employment and required competency, ordered by person."""
    jobs = current_jobs(
        session,
        principal,
        as_of,
        institution=institution,
        person_id=person_id,
        position_group=position_group,
    )
    by_group = requirements_by_group(session, framework)
    people = [job.person_id for job in jobs]
    assessed = latest_assessments(session, principal, people)
    links = hr_links(session, principal, people, institution)
    rows: list[CompetencyGap] = []
    for job in jobs:
        link = links.get((job.person_id, job.institution))
        for (fw, competency), req in sorted(_required_for(job, by_group).items()):
            level, method, on = assessed.get((job.person_id, fw, competency), (None, None, None))
            gap = None if level is None else req.level - level
            rows.append(
                CompetencyGap(
                    pseudonym=job.pseudonym,
                    source_system=link[0] if link else None,
                    external_id=link[1] if link else None,
                    institution=job.institution,
                    position_group=job.position_group,
                    framework=fw,
                    competency=competency,
                    required_by=req.group,
                    required_level=req.level,
                    assessed_level=level,
                    method=method,
                    assessed_on=on,
                    gap=gap,
                    status=_status(gap),
                )
            )
    return rows


def summarise(rows: list[CompetencyGap]) -> list[GapSummary]:
    """Per institution, position group, competency and required level: how many meet it."""
    counts: dict[tuple[str, str | None, str, str, int], dict[str, int]] = defaultdict(
        lambda: {"people": 0, "meeting": 0, "below": 0, "not_assessed": 0}
    )
    for row in rows:
        key = (
            row.institution,
            row.position_group,
            row.framework,
            row.competency,
            row.required_level,
        )
        tally = counts[key]
        tally["people"] += 1
        if row.status in ("meets", "above"):
            tally["meeting"] += 1
        else:
            tally[row.status] += 1
    return [
        GapSummary(
            institution=inst,
            position_group=group,
            framework=fw,
            competency=competency,
            required_level=level,
            **tally,
        )
        for (inst, group, fw, competency, level), tally in sorted(
            counts.items(), key=lambda item: (item[0][0], item[0][1] or "", *item[0][2:])
        )
    ]
