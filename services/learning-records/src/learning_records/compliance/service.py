"""Compliance: the catalog's mandatory learning rules applied to current employees.

A rule (catalog `mandatory_learning`) names courses (any one counts), an audience (everyone,
civil servants, position groups, roles, management levels), an optional period from the start
of the employment (or of the role that brings the person into the audience), an optional date
before which starts are not covered, and whether a passed knowledge test is needed. A rule is
met by a completed enrolment of one of its courses the client may see (with a passed test of
that course when the rule asks for one).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlmodel import Session, col

from learning_records.compliance.schemas import (
    ExpiringCertificate,
    Obligation,
    RuleSummary,
)
from learning_records.employment.service import Job, current_jobs, hr_links
from learning_records.enrolments.models import Enrolment
from learning_records.people.access import record_visible
from learning_records.people.models import Person
from learning_records.reference.service import course_titles, current_documents
from learning_records.results.models import Certificate, TestAttempt
from pilnveide_kit.auth import Principal


def _title(document: Mapping[str, Any]) -> str | None:
    title = document.get("title")
    if isinstance(title, Mapping):
        return title.get("lv") or title.get("en")
    return None if title is None else str(title)


def _start(job: Job, rule: Mapping[str, Any]) -> date | None:
    """When the rule began to apply to this job (None: it does not apply)."""
    audience = rule.get("audience") or {}
    starts: list[date] = []
    if (
        audience.get("everyone")
        or (audience.get("civil_servants") and job.civil_servant)
        or (job.position_group and job.position_group in (audience.get("position_groups") or []))
        or (
            job.management_level
            and job.management_level in (audience.get("management_levels") or [])
        )
    ):
        starts.append(job.valid_from)
    starts += [start for role, start in job.roles.items() if role in (audience.get("roles") or [])]
    if not starts:
        return None
    start = min(starts)
    effective = rule.get("effective_from")
    if effective and start < date.fromisoformat(str(effective)):
        return None
    return start


def _completions(
    session: Session, principal: Principal, person_ids: list[int], courses: set[str]
) -> dict[tuple[int, str], date]:
    """(person, course) → the earliest completion date the client may see."""
    if not person_ids or not courses:
        return {}
    e = Enrolment
    rows = session.execute(
        select(col(e.person_id), col(e.course_code), col(e.completed_on), col(e.status_date)).where(
            col(e.person_id).in_(sorted(set(person_ids))),
            col(e.course_code).in_(sorted(courses)),
            col(e.status) == "completed",
            record_visible(principal, e),
        )
    ).all()
    found: dict[tuple[int, str], date] = {}
    for pid, course, completed_on, status_date in rows:
        day = completed_on or status_date
        key = (int(pid), str(course))
        found[key] = min(day, found.get(key, day))
    return found


def _passed_tests(
    session: Session, principal: Principal, person_ids: list[int], courses: set[str]
) -> set[tuple[int, str]]:
    """(person, course) pairs with a passed knowledge test the client may see."""
    if not person_ids or not courses:
        return set()
    t = TestAttempt
    rows = session.execute(
        select(col(t.person_id), col(t.course_code)).where(
            col(t.person_id).in_(sorted(set(person_ids))),
            col(t.course_code).in_(sorted(courses)),
            col(t.passed).is_(True),
            record_visible(principal, t),
        )
    ).all()
    return {(int(p), str(c)) for p, c in rows}


def obligations(
    session: Session,
    principal: Principal,
    as_of: date,
    *,
    institution: str | None = None,
    person_id: int | None = None,
    rule: str | None = None,
) -> list[Obligation]:
    """Every rule that applies to a current employment, with its status on as_of."""
    rules = [r for r in current_documents(session, "mandatory_learning") if not r.get("archived")]
    if rule is not None:
        rules = [r for r in rules if r.get("code") == rule]
    jobs = current_jobs(session, principal, as_of, institution=institution, person_id=person_id)
    people = [job.person_id for job in jobs]
    courses = {str(c) for r in rules for c in r.get("courses") or []}
    done = _completions(session, principal, people, courses)
    tested = _passed_tests(session, principal, people, courses)
    links = hr_links(session, principal, people, institution)
    found: list[Obligation] = []
    for job in jobs:
        link = links.get((job.person_id, job.institution))
        for doc in rules:
            start = _start(job, doc)
            if start is None:
                continue
            days = doc.get("within_days_of_start")
            due = start + timedelta(days=int(days)) if days else start
            met = sorted(
                (day, course)
                for course in doc.get("courses") or []
                if (day := done.get((job.person_id, course))) is not None
                and (not doc.get("requires_passed_test") or (job.person_id, course) in tested)
            )
            status = "met" if met else "due" if as_of <= due else "missing"
            found.append(
                Obligation(
                    pseudonym=job.pseudonym,
                    source_system=link[0] if link else None,
                    external_id=link[1] if link else None,
                    institution=job.institution,
                    position_group=job.position_group,
                    rule=str(doc["code"]),
                    rule_title=_title(doc),
                    courses=[str(c) for c in doc.get("courses") or []],
                    started_on=start,
                    due_on=due,
                    status=status,
                    missing_since=due if status == "missing" else None,
                    completed_course=met[0][1] if met else None,
                    completed_on=met[0][0] if met else None,
                )
            )
    return found


def summarise(rows: list[Obligation]) -> list[RuleSummary]:
    """Per rule: how many people it applies to, and how many have met, are due, are missing it."""
    tally: dict[str, dict[str, int]] = defaultdict(
        lambda: {"applies": 0, "met": 0, "due": 0, "missing": 0}
    )
    for row in rows:
        tally[row.rule]["applies"] += 1
        tally[row.rule][row.status] += 1
    return [RuleSummary(rule=code, **counts) for code, counts in sorted(tally.items())]


def expiring_certificates(
    session: Session, principal: Principal, institution: str, as_of: date, within_days: int
) -> list[ExpiringCertificate]:
    """The institution's unrevoked certificates that expired or expire by as_of + within_days,
    unless the person holds a certificate of the same course valid beyond that day."""
    c = Certificate
    horizon = as_of + timedelta(days=within_days)
    rows = session.execute(
        select(
            col(c.person_id),
            col(Person.pseudonym),
            col(c.course_code),
            col(c.certificate_number),
            col(c.issued_on),
            col(c.valid_until),
        )
        .join(Person, col(Person.id) == col(c.person_id))
        .where(
            col(c.institution) == institution,
            record_visible(principal, c),
            col(c.revoked_on).is_(None),
            col(c.valid_until).is_not(None),
        )
        .order_by(col(c.valid_until), col(Person.pseudonym), col(c.id))
    ).all()
    #: (person, course) pairs with a certificate still valid after the horizon: renewed.
    renewed = {(pid, course) for pid, _p, course, _n, _i, until in rows if until > horizon}
    renewed |= {
        (int(pid), str(course))
        for pid, course in session.execute(
            select(col(c.person_id), col(c.course_code)).where(
                and_(col(c.institution) == institution, record_visible(principal, c)),
                col(c.revoked_on).is_(None),
                col(c.valid_until).is_(None),
            )
        ).all()
    }
    due = [r for r in rows if r[5] <= horizon and (r[0], r[2]) not in renewed]
    links = hr_links(session, principal, [r[0] for r in due], institution)
    titles = course_titles(session, [r[2] for r in due])
    found: list[ExpiringCertificate] = []
    for pid, pseudonym, course, number, issued, until in due:
        link = links.get((int(pid), institution))
        found.append(
            ExpiringCertificate(
                pseudonym=pseudonym,
                source_system=link[0] if link else None,
                external_id=link[1] if link else None,
                institution=institution,
                course_code=course,
                course_title=titles.get(course),
                certificate_number=number,
                issued_on=issued,
                valid_until=until,
                days_left=(until - as_of).days,
                status="expired" if until < as_of else "expiring",
            )
        )
    return found
