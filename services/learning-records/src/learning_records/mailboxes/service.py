"""Registering people's work mailboxes (as `mbox_sha1sum` only) and finding people by them.

The address is hashed as xAPI defines `mbox_sha1sum`: SHA-1 of the `mailto:` IRI, here of
"mailto:" + the address in lower case, so that the same address in any case is one mailbox. Only
the hash is stored; the address is neither stored nor logged nor echoed.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlmodel import Session, col

from learning_records.bulk import insert_rows
from learning_records.employment.models import Employment
from learning_records.mailboxes.models import PersonMailbox
from learning_records.mailboxes.schemas import MailboxItem, MailboxOutcome, MailboxRegistration
from learning_records.models import utcnow
from learning_records.people.access import record_visible
from learning_records.people.pseudonyms import InvalidPersonalCode, is_pseudonym, pseudonymise
from learning_records.people.service import chunks, person_ids_by_link, person_ids_by_pseudonym
from pilnveide_kit.auth import Principal

M = PersonMailbox.__table__  # type: ignore[attr-defined]


def mbox_sha1sum(mbox: str) -> str:
    """The `mbox_sha1sum` of an address or `mailto:` IRI (the address lower-cased)."""
    address = mbox[len("mailto:") :] if mbox.lower().startswith("mailto:") else mbox
    iri = f"mailto:{address.strip().lower()}"
    return hashlib.sha1(iri.encode(), usedforsecurity=False).hexdigest()  # as xAPI defines it


def _hash_of(item: MailboxItem) -> str | None:
    if item.email is not None and item.mbox_sha1sum is None:
        address = item.email.strip()
        if address.lower().startswith("mailto:"):
            address = address[len("mailto:") :]
        local, at, domain = address.partition("@")
        if not (local and at and domain) or any(c.isspace() for c in address):
            return None
        return mbox_sha1sum(address)
    if item.mbox_sha1sum is not None and item.email is None:
        return item.mbox_sha1sum.lower()
    return None


def register_mailboxes(
    session: Session,
    institution: str,
    body: MailboxRegistration,
    principal: Principal,
    pepper: str,
) -> list[MailboxOutcome]:
    """Register (or remove) each item's mailbox for the institution; per-item outcomes. A person
    must be named by exactly one reference and be employed at the institution (any time)."""
    outcomes: list[MailboxOutcome | None] = [None] * len(body.items)
    hashes: dict[int, str] = {}
    pseudonyms: dict[int, str] = {}
    links: dict[int, tuple[str, str]] = {}
    for index, item in enumerate(body.items):
        digest = _hash_of(item)
        if digest is None:
            outcomes[index] = _rejected(index, None, "give either a valid email or mbox_sha1sum")
            continue
        hashes[index] = digest
        if item.remove:
            continue
        named = [
            item.personal_code is not None,
            item.pseudonym is not None,
            item.external_id is not None,
        ]
        if sum(named) != 1:
            outcomes[index] = _rejected(
                index, digest, "name the person by one of personal_code, pseudonym, external_id"
            )
        elif item.personal_code is not None:
            try:
                pseudonyms[index] = pseudonymise(item.personal_code, pepper)
            except InvalidPersonalCode as exc:
                outcomes[index] = _rejected(index, digest, f"personal_code: {exc}")
        elif item.pseudonym is not None:
            if not is_pseudonym(item.pseudonym):
                outcomes[index] = _rejected(index, digest, "not a pseudonym")
            else:
                pseudonyms[index] = item.pseudonym
        else:
            links[index] = (item.source_system or body.source_system, str(item.external_id))
    by_pseudonym = person_ids_by_pseudonym(session, pseudonyms.values(), create=False)
    by_link = person_ids_by_link(session, links.values(), principal)
    people: dict[int, int] = {}
    for index, pseudonym in pseudonyms.items():
        if pseudonym in by_pseudonym:
            people[index] = by_pseudonym[pseudonym]
    for index, link in links.items():
        if link in by_link:
            people[index] = by_link[link]
    employed = _employed(session, institution, set(people.values()), principal)
    for index in list(pseudonyms) + list(links):
        if outcomes[index] is None and people.get(index) not in employed:
            outcomes[index] = _rejected(
                index, hashes[index], f"no person employed at {institution} is known by this"
            )
    current = _current(session, institution, sorted(set(hashes.values())))
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    moves: list[dict[str, Any]] = []
    removals: list[str] = []
    for index, item in enumerate(body.items):
        if outcomes[index] is not None:
            continue
        digest = hashes[index]
        held = current.get(digest)
        if item.remove:
            outcome = "not_found" if held is None else "removed"
            if held is not None:
                removals.append(digest)
                current.pop(digest)
        elif held is None:
            outcome = "registered"
            inserts.append(
                {
                    "mbox_sha1sum": digest,
                    "institution": institution,
                    "person_id": people[index],
                    "source_system": body.source_system,
                    "updated_at": now,
                }
            )
            current[digest] = people[index]
        elif held == people[index]:
            outcome = "unchanged"
        else:
            outcome = "moved"
            moves.append({"target": digest, "person": people[index], "source": body.source_system})
            current[digest] = people[index]
        outcomes[index] = MailboxOutcome(index=index, mbox_sha1sum=digest, outcome=outcome)
    _write(session, institution, inserts, moves, removals, now)
    return [o for o in outcomes if o is not None]


def tally(outcomes: list[MailboxOutcome]) -> dict[str, int]:
    """Items per outcome."""
    return dict(Counter(o.outcome for o in outcomes))


def _rejected(index: int, digest: str | None, detail: str) -> MailboxOutcome:
    return MailboxOutcome(index=index, mbox_sha1sum=digest, outcome="rejected", detail=detail)


def _employed(
    session: Session, institution: str, people: set[int], principal: Principal
) -> set[int]:
    found: set[int] = set()
    for part in chunks(sorted(people)):
        found.update(
            session.execute(
                select(col(Employment.person_id)).where(
                    col(Employment.person_id).in_(part),
                    col(Employment.institution) == institution,
                    record_visible(principal, Employment),
                )
            ).scalars()
        )
    return found


def _current(session: Session, institution: str, digests: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for part in chunks(digests):
        rows = session.execute(
            select(M.c.mbox_sha1sum, M.c.person_id).where(
                M.c.institution == institution, M.c.mbox_sha1sum.in_(part)
            )
        ).all()
        found.update({digest: int(person_id) for digest, person_id in rows})
    return found


def _write(
    session: Session,
    institution: str,
    inserts: list[dict[str, Any]],
    moves: list[dict[str, Any]],
    removals: list[str],
    now: Any,
) -> None:
    if removals:
        session.execute(
            delete(M).where(M.c.institution == institution, M.c.mbox_sha1sum.in_(removals))
        )
    if moves:
        session.execute(
            update(M)
            .where(M.c.institution == institution, M.c.mbox_sha1sum == bindparam("target"))
            .values(
                person_id=bindparam("person"), source_system=bindparam("source"), updated_at=now
            )
            .execution_options(synchronize_session=False),
            moves,
        )
    insert_rows(session, PersonMailbox, inserts)


def people_by_mailbox(session: Session, digests: list[str]) -> dict[str, list[tuple[str, int]]]:
    """mbox_sha1sum → every (institution, person id) registered for it."""
    found: dict[str, list[tuple[str, int]]] = {}
    for part in chunks(sorted(set(digests))):
        for digest, institution, person_id in session.execute(
            select(M.c.mbox_sha1sum, M.c.institution, M.c.person_id).where(
                M.c.mbox_sha1sum.in_(part)
            )
        ).all():
            found.setdefault(digest, []).append((institution, int(person_id)))
    return found
