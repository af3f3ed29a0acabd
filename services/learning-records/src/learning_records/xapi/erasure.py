"""Erasing a person from the LRS: the statements about them, their documents, the index rows."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlmodel import Session, col

from learning_records.people.models import Person, PersonLink
from learning_records.xapi.identity import agent_key
from learning_records.xapi.models import (
    XapiDocument,
    XapiStatement,
    XapiStatementActivity,
    XapiStatementAgent,
)
from learning_records.xapi.settings import XapiSettings

S = XapiStatement.__table__  # type: ignore[attr-defined]
AG = XapiStatementAgent.__table__  # type: ignore[attr-defined]
AC = XapiStatementActivity.__table__  # type: ignore[attr-defined]
D = XapiDocument.__table__  # type: ignore[attr-defined]


def person_agent_key(pseudonym: str, settings: XapiSettings | None = None) -> str:
    """The agent key of a person's pseudonymous account (what a personal code becomes)."""
    home_page = (settings or XapiSettings()).pseudonym_home_page
    key = agent_key({"account": {"homePage": home_page, "name": pseudonym}})
    assert key is not None
    return key


def person_agent_keys(
    session: Session, pseudonym: str, settings: XapiSettings | None = None
) -> list[str]:
    """Every agent key that names a person: the pseudonymous account, and the accounts carrying
    the person's HR ids (each homePage whose source system, RECORDS_XAPI_HR_SOURCE_SYSTEMS or
    the homePage itself, is a system that sent the person)."""
    settings = settings or XapiSettings()
    keys = {person_agent_key(pseudonym, settings)}
    links = session.execute(
        select(col(PersonLink.source_system), col(PersonLink.external_id))
        .join(Person, col(Person.id) == col(PersonLink.person_id))
        .where(col(Person.pseudonym) == pseudonym)
    ).all()
    for system, external_id in links:
        pages = [page for page, name in settings.hr_source_systems.items() if name == system]
        pages.append(system)  # an unlisted homePage is its own source system
        for page in pages:
            for variant in {page.rstrip("/"), page.rstrip("/") + "/"}:
                keys.add(f"account:{variant}|{external_id}")
    return sorted(keys)


def erase_xapi_person(
    session: Session, pseudonym: str, *, dry_run: bool, settings: XapiSettings | None = None
) -> dict[str, int]:
    """Rows about a person in every partition: the statements naming them anywhere (actor,
    object, group member, context) by pseudonym or HR id, those statements' index rows, and the
    state and agent profile documents of those agents. Counted, and deleted unless dry_run
    (call it before the person's links are deleted)."""
    keys = person_agent_keys(session, pseudonym, settings)
    seqs = sorted(set(session.scalars(select(AG.c.seq).where(AG.c.agent_key.in_(keys)))))
    counts = {
        "xapi_statement": len(seqs),
        "xapi_statement_agent": _count(session, AG, AG.c.seq.in_(seqs)),
        "xapi_statement_activity": _count(session, AC, AC.c.seq.in_(seqs)),
        "xapi_document": _count(session, D, D.c.agent_key.in_(keys)),
    }
    if dry_run:
        return counts
    for start in range(0, len(seqs), 5000):
        part = seqs[start : start + 5000]
        session.execute(delete(AC).where(AC.c.seq.in_(part)))
        session.execute(delete(AG).where(AG.c.seq.in_(part)))
        session.execute(delete(S).where(S.c.seq.in_(part)))
    session.execute(delete(D).where(D.c.agent_key.in_(keys)))
    return counts


def _count(session: Session, table: object, condition: object) -> int:
    return int(session.scalar(select(func.count()).select_from(table).where(condition)) or 0)  # type: ignore[arg-type]
