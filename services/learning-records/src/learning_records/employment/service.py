"""Who works where on a date: current employments with their roles, and HR systems' own ids."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import or_, select
from sqlmodel import Session, col

from learning_records.employment.models import Employment, RoleAssignment
from learning_records.people.access import record_visible, role_visible
from learning_records.people.models import Person, PersonLink
from pilnveide_kit.auth import Principal


@dataclass
class Job:
    """A current employment as the HR views read it."""

    person_id: int
    pseudonym: str
    institution: str
    position_group: str | None
    management_level: str | None
    civil_servant: bool
    valid_from: date
    #: Each role held on the date, with the day it started.
    roles: dict[str, date] = field(default_factory=dict)

    def groups(self) -> set[str]:
        """The position group, management level and roles: codes a requirement can name."""
        codes = set(self.roles)
        codes.update(c for c in (self.position_group, self.management_level) if c)
        return codes


def current_jobs(
    session: Session,
    principal: Principal,
    as_of: date,
    *,
    institution: str | None = None,
    person_id: int | None = None,
    position_group: str | None = None,
) -> list[Job]:
    """Employments the client may see that are current on as_of (with their current roles)."""
    e = Employment
    query = (
        select(
            col(e.id),
            col(e.person_id),
            col(Person.pseudonym),
            col(e.institution),
            col(e.position_group),
            col(e.management_level),
            col(e.civil_servant),
            col(e.valid_from),
        )
        .join(Person, col(Person.id) == col(e.person_id))
        .where(
            record_visible(principal, e),
            col(e.valid_from) <= as_of,
            or_(col(e.valid_to).is_(None), col(e.valid_to) >= as_of),
        )
        .order_by(col(Person.pseudonym), col(e.institution), col(e.id))
    )
    if institution is not None:
        query = query.where(col(e.institution) == institution)
    if person_id is not None:
        query = query.where(col(e.person_id) == person_id)
    if position_group is not None:
        query = query.where(col(e.position_group) == position_group)
    jobs: dict[int, Job] = {}
    for job_id, pid, pseudonym, inst, group, level, civil, start in session.execute(query).all():
        jobs[int(job_id)] = Job(int(pid), pseudonym, inst, group, level, bool(civil), start)
    if jobs:
        r = RoleAssignment
        roles = session.execute(
            select(col(r.employment_id), col(r.role), col(r.valid_from)).where(
                col(r.employment_id).in_(list(jobs)),
                role_visible(principal, r),
                col(r.valid_from) <= as_of,
                or_(col(r.valid_to).is_(None), col(r.valid_to) >= as_of),
            )
        ).all()
        for job_id, role, start in roles:
            held = jobs[int(job_id)].roles
            held[role] = min(start, held.get(role, start))
    return list(jobs.values())


def hr_links(
    session: Session, principal: Principal, person_ids: Collection[int], institution: str | None
) -> dict[tuple[int, str], tuple[str, str]]:
    """(person, institution) → the (source_system, external_id) that institution's HR pushed.

    The earliest link of each institution counts; only links the client may see.
    """
    if not person_ids:
        return {}
    link = PersonLink
    query = (
        select(
            col(link.person_id),
            col(link.institution),
            col(link.source_system),
            col(link.external_id),
        )
        .where(
            col(link.person_id).in_(sorted(set(person_ids))),
            col(link.institution).is_not(None),
            record_visible(principal, link),
        )
        .order_by(col(link.id).desc())
    )
    if institution is not None:
        query = query.where(col(link.institution) == institution)
    found: dict[tuple[int, str], tuple[str, str]] = {}
    for pid, inst, system, external in session.execute(query).all():
        found[(int(pid), str(inst))] = (system, external)  # the earliest (last seen) wins
    return found
