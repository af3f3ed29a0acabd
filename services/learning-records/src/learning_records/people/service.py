"""Finding and creating people by pseudonym, personal code or a source system's person id."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy import select, tuple_
from sqlmodel import Session, col

from learning_records.bulk import driver_connection, in_values, insert_rows, is_postgres
from learning_records.changes.service import change_feed
from learning_records.models import utcnow
from learning_records.people.access import person_visible, record_visible
from learning_records.people.models import Person, PersonLink
from learning_records.people.pseudonyms import InvalidPersonalCode, is_pseudonym, pseudonymise
from pilnveide_kit.auth import Principal
from pilnveide_kit.errors import NotFound

T = TypeVar("T")

#: Rows per IN (...) list: SQLite allows at most 32,766 bound parameters per statement.
CHUNK = 5000


class UnknownPerson(LookupError):
    """A person reference that matches nobody (and may not create anybody)."""


@dataclass(frozen=True)
class PersonRef:
    """How an item names its person: a personal code, a pseudonym, or a source system's id."""

    personal_code: str | None = None
    pseudonym: str | None = None
    source_system: str | None = None
    external_id: str | None = None

    def resolved_pseudonym(self, pepper: str) -> str | None:
        """The pseudonym this reference carries (None for a source-id reference)."""
        if self.personal_code is not None:
            return pseudonymise(self.personal_code, pepper)
        if self.pseudonym is not None:
            if not is_pseudonym(self.pseudonym):
                raise InvalidPersonalCode("a pseudonym is 64 lower-case hexadecimal characters")
            return self.pseudonym
        return None


def chunks(items: list[T], size: int = CHUNK) -> Iterable[list[T]]:
    """Consecutive slices of at most size items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def person_ids_by_pseudonym(
    session: Session, pseudonyms: Collection[str], *, create: bool
) -> dict[str, int]:
    """Ids of the people with these pseudonyms, creating the missing ones when create is set."""
    wanted = sorted(set(pseudonyms))
    if is_postgres(session) and wanted and not any("," in p for p in wanted):
        return _person_ids_postgres(session, wanted, create=create)
    found: dict[str, int] = {}
    for part in chunks(wanted):
        rows = session.execute(
            select(col(Person.pseudonym), col(Person.id)).where(
                in_values(session, col(Person.pseudonym), part)
            )
        ).all()
        found.update({p: int(i) for p, i in rows})
    missing = [p for p in wanted if p not in found]
    if missing and create:
        feed = change_feed(session)
        now = utcnow()
        ids = insert_rows(
            session,
            Person,
            [{"pseudonym": p, "created_at": now} for p in missing],
            returning_ids=True,
        )
        for pseudonym, person_id in zip(missing, ids, strict=True):
            found[pseudonym] = person_id
            feed.record("person", "create", person_id)
    return found


#: Finds the people of a list of pseudonyms and creates the missing ones, in one round trip.
#: The final SELECT sees the table as it was before the INSERT (a data-modifying WITH), so
#: each pseudonym comes back once: as created or as existing.
_FIND_OR_CREATE_PEOPLE = """
WITH wanted(pseudonym) AS (SELECT unnest(string_to_array(%(pseudonyms)s, ','))),
created AS (
    INSERT INTO person (pseudonym, created_at)
    SELECT w.pseudonym, %(now)s FROM wanted w
    WHERE %(create)s AND NOT EXISTS (SELECT 1 FROM person p WHERE p.pseudonym = w.pseudonym)
    ORDER BY w.pseudonym
    RETURNING pseudonym, id
)
SELECT pseudonym, id, true FROM created
UNION ALL
SELECT p.pseudonym, p.id, false FROM person p JOIN wanted w USING (pseudonym)
"""


def _person_ids_postgres(session: Session, wanted: list[str], *, create: bool) -> dict[str, int]:
    with driver_connection(session).cursor(binary=True) as cursor:
        cursor.execute(
            _FIND_OR_CREATE_PEOPLE,
            {"pseudonyms": ",".join(wanted), "now": utcnow(), "create": create},
        )
        rows = cursor.fetchall()
    found = {pseudonym: person_id for pseudonym, person_id, _new in rows}
    created = sorted(person_id for _pseudonym, person_id, new in rows if new)
    if created:
        feed = change_feed(session)
        for person_id in created:
            feed.record("person", "create", person_id)
    return found


def person_ids_by_link(
    session: Session, links: Collection[tuple[str, str]], principal: Principal | None = None
) -> dict[tuple[str, str], int]:
    """Ids of the people a source system knows by these (source_system, external_id) pairs.

    With a principal, only links of the client's institutions count: another institution's
    link never resolves (nor can a link squatted by another institution redirect this one's).
    """
    wanted = sorted(set(links))
    found: dict[tuple[str, str], int] = {}
    visible = record_visible(principal, PersonLink) if principal is not None else None
    for part in chunks(wanted, CHUNK // 2):
        query = select(
            col(PersonLink.source_system),
            col(PersonLink.external_id),
            col(PersonLink.person_id),
        ).where(tuple_(col(PersonLink.source_system), col(PersonLink.external_id)).in_(part))
        if visible is not None:
            query = query.where(visible)
        rows = session.execute(query).all()
        found.update({(s, e): int(p) for s, e, p in rows})
    return found


def resolve_person(
    session: Session,
    ref: PersonRef,
    pepper: str,
    *,
    create: bool = True,
    principal: Principal | None = None,
) -> int:
    """The id of one referenced person; InvalidPersonalCode or UnknownPerson when impossible.

    With a principal, a source-id reference resolves only through the client's own links.
    """
    pseudonym = ref.resolved_pseudonym(pepper)
    if pseudonym is not None:
        ids = person_ids_by_pseudonym(session, [pseudonym], create=create)
        if pseudonym in ids:
            return ids[pseudonym]
        raise UnknownPerson("no person has this pseudonym")
    if ref.source_system and ref.external_id:
        key = (ref.source_system, ref.external_id)
        links = person_ids_by_link(session, [key], principal)
        if key in links:
            return links[key]
        raise UnknownPerson("no person is known by this source id; send the person first")
    raise UnknownPerson("the item names no person")


class PersonNotVisible(NotFound):
    """No person with this pseudonym among the client's institutions."""

    slug = "person-not-found"


class InstitutionNotVisible(NotFound):
    """The institution is not one of the client's (answered as if it did not exist)."""

    slug = "institution-not-found"


def visible_person_id(session: Session, pseudonym: str, principal: Principal) -> int:
    """The id of a person the client may see by their pseudonym; a 404 problem otherwise."""
    person_id = session.execute(
        select(col(Person.id)).where(
            col(Person.pseudonym) == pseudonym, person_visible(principal, col(Person.id))
        )
    ).scalar_one_or_none()
    if person_id is None:
        raise PersonNotVisible("No person with this pseudonym")
    return int(person_id)


def check_institution(principal: Principal, institution: str) -> str:
    """The institution when the client may see it; a 404 problem otherwise."""
    if not principal.can_see(institution):
        raise InstitutionNotVisible("No such institution among the client's")
    return institution
