"""Who a statement is about and for which institution, as far as the mapping needs it.

The actor names a person by
- an `account`: the pseudonymous account (what a personal code becomes at the door) carries
  the pseudonym; any other homePage carries an HR id of a person sent earlier, its source
  system being the homePage or its entry in RECORDS_XAPI_HR_SOURCE_SYSTEMS;
- an `mbox` or `mbox_sha1sum`: a work mailbox an institution's HR system registered
  (`POST /v1/institutions/{institution}/mailboxes`; only the SHA-1 is kept). The mailbox is
  looked up among the registrations of the statement's institution: the context extension
  INSTITUTION_EXTENSION when the statement carries it, else the writing client's institutions
  (any institution for an unrestricted writer). It must name exactly one person there.

The institution a statement is for is the extension's value when present; a mailbox also
fixes it (the institution that registered it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from learning_records.mailboxes.models import PersonMailbox
from learning_records.people.models import Person
from learning_records.xapi.settings import XapiSettings

M = PersonMailbox.__table__  # type: ignore[attr-defined]
#: Context extension naming the institution (its catalog code) a statement is for.
INSTITUTION_EXTENSION = "https://pilnveide.lv/xapi/extensions/institution"


@dataclass(frozen=True)
class Learner:
    """The person a statement names: by pseudonym or by an HR id; and its institution if fixed."""

    pseudonym: str | None = None
    source_system: str | None = None
    external_id: str | None = None
    institution: str | None = None


def statement_institution(statement: dict[str, Any]) -> str | None:
    """The institution code in the statement's context extension, if any."""
    extensions = (statement.get("context") or {}).get("extensions") or {}
    value = extensions.get(INSTITUTION_EXTENSION) if isinstance(extensions, dict) else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def mailbox_of(actor: dict[str, Any]) -> str | None:
    """The actor's mbox_sha1sum (computed from `mbox` as the LRS stores mailboxes), if any."""
    mbox = actor.get("mbox")
    if isinstance(mbox, str) and mbox.lower().startswith("mailto:"):
        iri = "mailto:" + mbox[len("mailto:") :].strip().lower()
        return hashlib.sha1(iri.encode(), usedforsecurity=False).hexdigest()  # as xAPI defines
    digest = actor.get("mbox_sha1sum")
    return digest.lower() if isinstance(digest, str) else None


class Actors:
    """Resolves statements' actors for one writer; mailboxes are read in bulk (prefetch)."""

    def __init__(
        self, session: Session, settings: XapiSettings, institutions: frozenset[str] | None
    ) -> None:
        self.session = session
        self.settings = settings
        self.institutions = institutions
        self._mailboxes: dict[str, list[tuple[str, str]]] = {}

    def prefetch(self, statements: list[Any]) -> None:
        """Read the mailboxes the statements' actors name, in one query."""
        wanted = {
            digest
            for s in statements
            if isinstance(s, dict) and isinstance(s.get("actor"), dict)
            for digest in [mailbox_of(s["actor"])]
            if digest is not None and digest not in self._mailboxes
        }
        if not wanted:
            return
        for digest in wanted:
            self._mailboxes[digest] = []
        rows = self.session.execute(
            select(M.c.mbox_sha1sum, M.c.institution, col(Person.pseudonym))
            .join(Person, col(Person.id) == M.c.person_id)
            .where(M.c.mbox_sha1sum.in_(sorted(wanted)))
        ).all()
        for digest, institution, pseudonym in rows:
            self._mailboxes[digest].append((institution, pseudonym))

    def learner(self, statement: dict[str, Any]) -> Learner | str:
        """The person the statement's actor names, or the reason it names none."""
        actor = statement["actor"]
        institution = statement_institution(statement)
        account = actor.get("account")
        if isinstance(account, dict):
            home = str(account["homePage"]).rstrip("/")
            name = str(account["name"])
            if home == self.settings.pseudonym_home_page.rstrip("/"):
                return Learner(pseudonym=name, institution=institution)
            return Learner(
                source_system=self.settings.hr_source_for(home),
                external_id=name,
                institution=institution,
            )
        digest = mailbox_of(actor)
        if digest is None:
            return "the actor has no account or mailbox naming a person"
        if digest not in self._mailboxes:
            self.prefetch([statement])
        where = (
            {institution}
            if institution is not None
            else set(self.institutions)
            if self.institutions is not None
            else None
        )
        found = {(i, p) for i, p in self._mailboxes.get(digest, []) if where is None or i in where}
        if not found:
            return "the actor's mailbox is not registered for " + (
                f"institution {institution}"
                if institution
                else "the writer's institutions"
                if self.institutions is not None
                else "any institution"
            )
        if len({p for _, p in found}) > 1 or len(found) > 1:
            return (
                "the actor's mailbox is registered at several institutions: name the institution "
                f"in the context extension {INSTITUTION_EXTENSION}"
            )
        [(registered_at, pseudonym)] = found
        return Learner(pseudonym=pseudonym, institution=registered_at)
