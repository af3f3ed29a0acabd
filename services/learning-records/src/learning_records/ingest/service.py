"""The bulk write path: validate each item on its own, then store the batch with set-based SQL.

`prepare()` is pure (validation, pseudonymisation, hashing); `apply()` runs inside the
request's transaction after the change-feed lock is taken, so concurrent writers of the same
source ids are serialised and each id ends up as one row.
"""

from __future__ import annotations

import gc
import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from learning_records.bulk import in_values, insert_rows
from learning_records.changes.service import change_feed
from learning_records.employment.models import RoleAssignment
from learning_records.enrolments.history import leaves_step, record_stored_steps
from learning_records.ingest.checks import BatchCodeCheck
from learning_records.ingest.kinds import Kind
from learning_records.ingest.schemas import (
    CONTROL_FIELDS,
    PERSON_FIELDS,
    EmploymentWrite,
    ItemBase,
    PersonItem,
)
from learning_records.models import utcnow
from learning_records.people.pseudonyms import InvalidPersonalCode, pseudonymise
from learning_records.people.service import (
    PersonRef,
    chunks,
    person_ids_by_link,
    person_ids_by_pseudonym,
)
from learning_records.reference.service import ReferenceCodes
from pilnveide_kit.auth import Principal
from pilnveide_kit.errors import Conflict, UnprocessableContent, error_reason

#: Reason given for an item naming an institution the client may not write for.
OUTSIDE_INSTITUTIONS = "institution: outside the client's institutions"
#: Reason given for an item whose source id is another institution's record (never replaced).
FOREIGN_RECORD = "the source id belongs to a record outside the client's institutions"


class BatchRejected(UnprocessableContent):
    """All-or-nothing mode: at least one item is invalid, so nothing was written."""


class BatchConflicts(Conflict):
    """All-or-nothing mode: some items conflict with stored versions, so nothing was written."""


class RawItemError(str):
    """An item that could not even be read (e.g. an NDJSON line that is not JSON): its reason."""


@dataclass(slots=True)
class Prepared:
    """One valid item ready to store."""

    index: int
    item: ItemBase
    row: dict[str, Any]
    digest: str
    pseudonym: str | None = None
    link: tuple[str, str] | None = None
    institution: str | None = None

    @property
    def source(self) -> tuple[str, str]:
        """The item's source id."""
        return (self.item.source_system, self.item.external_id)


@dataclass
class Batch:
    """A validated batch: the items to store and the outcomes already known (rejections)."""

    kind: Kind
    size: int
    items: list[Prepared] = field(default_factory=list)
    outcomes: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: Items stored with a flag (e.g. a course the catalog lacks): index -> the flag's text.
    warnings: dict[int, str] = field(default_factory=dict)

    def reject(self, index: int, reason: str, status: str = "rejected", id: Any = None) -> None:
        """Record that an item is not stored, and why."""
        self.outcomes[index] = {"index": index, "status": status, "reason": reason, "id": id}


def describe_validation_error(error: ValidationError) -> str:
    """A per-item reason from a pydantic error, without the input values (they may be personal)."""
    parts = []
    for detail in error.errors(include_input=False, include_url=False):
        location = ".".join(str(p) for p in detail.get("loc", ()))
        message = error_reason(detail)  # names the expected format of dates
        parts.append(f"{location}: {message}" if location else message)
    return "; ".join(parts)


@contextmanager
def paused_gc() -> Iterator[None]:
    """No cyclic garbage collection inside the block (if it was on, it is on again afterwards).

    Building a batch allocates hundreds of thousands of objects, none of them in cycles; the
    collections they would trigger rescan every live object of the service, which cost about a
    third of the batch preparation time.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def validate(kind: Kind, raw_items: list[Any]) -> list[ItemBase | str]:
    """Each raw item as its validated model, or the reason it is not valid (as one by one).

    The whole list goes through one pydantic call first; only when some item is invalid are the
    items validated one by one, so that each gets its own reason.
    """
    if all(type(raw) is dict for raw in raw_items):
        try:
            return list(kind.list_adapter.validate_python(raw_items))
        except ValidationError:
            pass
    results: list[ItemBase | str] = []
    for raw in raw_items:
        if isinstance(raw, kind.item):
            results.append(raw)
        elif isinstance(raw, RawItemError):
            results.append(str(raw))
        elif not isinstance(raw, dict):
            results.append("an item is a JSON object")
        else:
            try:
                results.append(kind.item.model_validate(raw))
            except ValidationError as exc:
                results.append(describe_validation_error(exc))
    return results


def prepare(
    kind: Kind,
    raw_items: list[Any],
    *,
    principal: Principal,
    pepper: str,
    reference: ReferenceCodes | None = None,
) -> Batch:
    """Validate, pseudonymise and hash every item on its own (no database access).

    `raw_items` are decoded items (dicts), RawItemError reasons, or items already validated as
    `kind.item` (the JSON fast path of the router). Codes are checked against `reference`
    (the catalog copy's codes) when given.
    """
    with paused_gc():
        return _prepare(kind, raw_items, principal=principal, pepper=pepper, reference=reference)


def _prepare(
    kind: Kind,
    raw_items: list[Any],
    *,
    principal: Principal,
    pepper: str,
    reference: ReferenceCodes | None,
) -> Batch:
    batch = Batch(kind=kind, size=len(raw_items))
    first_seen: dict[tuple[str, str], Prepared] = {}
    if all(type(raw) is kind.item for raw in raw_items):
        validated: list[ItemBase | str] = list(raw_items)
    else:
        validated = validate(kind, raw_items)
    context = _Context(kind, principal, pepper)
    check = BatchCodeCheck(reference) if reference is not None else None
    for index, item in enumerate(validated):
        if isinstance(item, str):
            batch.reject(index, item)
            continue
        if check is not None:
            problem, warning = check(item)
            if problem is not None:
                batch.reject(index, problem)
                continue
            if warning is not None:
                batch.warnings[index] = warning
        prepared = context.prepare_one(index, item, batch)
        if prepared is None:
            continue
        source = (item.source_system, item.external_id)
        earlier = first_seen.get(source)
        if earlier is not None:
            if earlier.digest == prepared.digest:
                batch.reject(index, f"same as item {earlier.index} of this request", "unchanged")
            else:
                batch.reject(
                    index,
                    f"item {earlier.index} of this request has the same source id and other "
                    "content",
                    "conflict",
                )
            continue
        first_seen[source] = prepared
        batch.items.append(prepared)
    return batch


#: Fields left out of an item's content hash (the person is hashed as its pseudonym or link).
_NOT_CONTENT = PERSON_FIELDS | CONTROL_FIELDS


class _Context:
    """What stays the same for every item of one batch, and the batch's pseudonym cache."""

    def __init__(self, kind: Kind, principal: Principal, pepper: str) -> None:
        self.kind = kind
        self.columns = tuple(kind.columns)
        #: The item's column values as a tuple, in one C call.
        self.values = attrgetter(*self.columns) if len(self.columns) > 1 else None
        self.has_institution = kind.has_institution
        self.principal = principal
        self.pepper = pepper
        #: personal code -> pseudonym (or the reason it is invalid): one HMAC per distinct code.
        self.pseudonyms: dict[str, str | InvalidPersonalCode] = {}

    def pseudonym(self, item: PersonItem) -> str | None:
        """The item's person as a pseudonym (None for a source-id reference)."""
        code = item.personal_code
        if code is None:
            return PersonRef(pseudonym=item.pseudonym).resolved_pseudonym(self.pepper)
        cached = self.pseudonyms.get(code)
        if cached is None:
            try:
                cached = pseudonymise(code, self.pepper)
            except InvalidPersonalCode as exc:
                cached = exc
            self.pseudonyms[code] = cached
        if isinstance(cached, InvalidPersonalCode):
            raise cached
        return cached

    def prepare_one(self, index: int, item: ItemBase, batch: Batch) -> Prepared | None:
        """One valid item ready to store, or None once its rejection is recorded."""
        # The item's own fields, rendered by pydantic in declaration order: a canonical form
        # (the serializer called directly: the bytes of model_dump_json, without its wrapper).
        content = item.__pydantic_serializer__.to_json(item, exclude=_NOT_CONTENT)
        person = ""
        if self.values is not None:
            row = dict(zip(self.columns, self.values(item), strict=True))
        else:
            row = {name: getattr(item, name) for name in self.columns}
        prepared = Prepared(index=index, item=item, row=row, digest="")
        if isinstance(item, PersonItem):
            try:
                prepared.pseudonym = self.pseudonym(item)
            except InvalidPersonalCode as exc:
                batch.reject(index, f"personal_code: {exc}")
                return None
            if prepared.pseudonym is None:
                prepared.link = (str(item.person_source_system), str(item.person_external_id))
                person = json.dumps(["link", item.person_source_system, item.person_external_id])
            else:
                person = prepared.pseudonym
        if self.has_institution:
            prepared.institution = row.get("institution")
            principal = self.principal
            if principal.restricted and not principal.can_see(prepared.institution):
                batch.reject(
                    index,
                    OUTSIDE_INSTITUTIONS
                    if prepared.institution
                    else "institution: required for a client limited to some institutions",
                )
                return None
        prepared.digest = hashlib.sha256(f"{person}\n".encode() + content).hexdigest()
        return prepared


def apply(
    session: Session,
    batch: Batch,
    *,
    principal: Principal,
    all_or_nothing: bool,
    accepted_ids: bool = True,
) -> dict[str, Any]:
    """Store a prepared batch; the report has the shape of WriteReport.

    With accepted_ids False the outcomes of accepted new records carry no id (for a report that
    lists only problems), which spares fetching thousands of new ids.
    """
    kind = batch.kind
    feed = change_feed(session)
    _resolve_people(session, batch, principal)
    existing = _existing(session, kind, [p for p in batch.items if p.index not in batch.outcomes])
    inserts: list[Prepared] = []
    updates: list[tuple[Prepared, dict[str, Any]]] = []
    for prepared in batch.items:
        if prepared.index in batch.outcomes:
            continue
        found = existing.get(prepared.source)
        if found is None:
            inserts.append(prepared)
        elif (
            principal.restricted
            and kind.has_institution
            and not principal.can_see(found.get("institution"))
        ):
            batch.reject(prepared.index, FOREIGN_RECORD)
        elif found["content_hash"] == prepared.digest:
            batch.reject(prepared.index, None, "unchanged", found["id"])  # type: ignore[arg-type]
        elif prepared.item.update:
            updates.append((prepared, found))
        else:
            batch.reject(
                prepared.index,
                "a record with this source id and different content exists; send it with "
                '"update": true to replace it',
                "conflict",
                found["id"],
            )
    problems = [o for o in batch.outcomes.values() if o["status"] in ("rejected", "conflict")]
    if all_or_nothing and problems:
        listing = sorted(problems, key=lambda o: o["index"])
        only_conflicts = all(o["status"] == "conflict" for o in problems)
        error = BatchConflicts if only_conflicts else BatchRejected
        raise error(
            f"{len(problems)} of {batch.size} items cannot be stored; nothing was written",
            items=listing,
        )
    if inserts or updates:
        _store(session, kind, inserts, updates, batch, accepted_ids=accepted_ids)
    feed.flush()
    return _report(batch, feed.last_seq)


def _resolve_people(session: Session, batch: Batch, principal: Principal) -> None:
    if batch.kind.person == "none":
        return
    pending = [p for p in batch.items if p.index not in batch.outcomes]
    pseudonyms = {p.pseudonym for p in pending if p.pseudonym is not None}
    by_pseudonym = person_ids_by_pseudonym(
        session, pseudonyms, create=batch.kind.person == "create"
    )
    links = {p.link for p in pending if p.link is not None}
    by_link = person_ids_by_link(session, links, principal)
    for prepared in pending:
        if prepared.pseudonym is not None:
            person_id = by_pseudonym.get(prepared.pseudonym)
        else:
            person_id = by_link.get(prepared.link) if prepared.link else None
        if person_id is None:
            batch.reject(prepared.index, "no person is known by this person source id")
        else:
            prepared.row["person_id"] = person_id


def _existing(
    session: Session, kind: Kind, items: list[Prepared]
) -> dict[tuple[str, str], dict[str, Any]]:
    table = kind.table
    wanted: dict[str, list[str]] = defaultdict(list)
    for prepared in items:
        wanted[prepared.item.source_system].append(prepared.item.external_id)
    columns: list[Any] = [col(table.id), col(table.external_id), col(table.content_hash)]  # type: ignore[attr-defined]
    names = ["id", "external_id", "content_hash"]
    for extra in ("institution", "status", "status_date"):
        if extra in table.model_fields:
            columns.append(getattr(table, extra))
            names.append(extra)
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for system, external_ids in wanted.items():
        for part in chunks(external_ids):
            rows = session.execute(
                select(*columns).where(
                    col(table.source_system) == system,
                    in_values(session, col(table.external_id), part),
                )
            ).all()
            for row in rows:
                record = dict(zip(names, row, strict=True))
                found[(system, record["external_id"])] = record
    return found


def _store(
    session: Session,
    kind: Kind,
    inserts: list[Prepared],
    updates: list[tuple[Prepared, dict[str, Any]]],
    batch: Batch,
    *,
    accepted_ids: bool,
) -> None:
    table = kind.table
    feed = change_feed(session)
    now = utcnow()
    accepted: list[tuple[Prepared, dict[str, Any] | None]] = [(p, None) for p in inserts]
    accepted += [(p, f) for p, f in updates]
    accepted.sort(key=lambda pair: pair[0].index)
    first = feed.allocate(len(accepted))
    seq_of: dict[int, int] = {p.index: first + n for n, (p, _f) in enumerate(accepted)}
    new_rows = [
        {
            **p.row,
            "source_system": p.item.source_system,
            "external_id": p.item.external_id,
            "content_hash": p.digest,
            "seq": seq_of[p.index],
            "created_at": now,
            "updated_at": now,
        }
        for p in inserts
    ]
    # Roles point at their employment, and changed records have their feed rows written here.
    need_ids = accepted_ids or bool(updates) or kind.name == "employment"
    new_ids = insert_rows(session, table, new_rows, returning_ids=need_ids)
    ids: dict[int, int] = {}
    if need_ids:
        ids.update((p.index, i) for p, i in zip(inserts, new_ids, strict=True))
    if updates:
        if kind.name == "enrolments":
            # The steps these updates leave go to the history first (enrolments/history.py).
            record_stored_steps(session, [f["id"] for p, f in updates if leaves_step(f, p.row)])
        session.execute(
            update(table),
            [
                {
                    **p.row,
                    "id": found["id"],
                    "content_hash": p.digest,
                    "seq": seq_of[p.index],
                    "updated_at": now,
                }
                for p, found in updates
            ],
        )
        for p, stored in updates:
            ids[p.index] = int(stored["id"])
    last = first + len(accepted) - 1
    if not updates:  # the common bulk case: the database writes the feed rows itself
        feed.add_from_table(table, kind.entity, "create", first, last)
    for prepared, previous in accepted:
        if updates:
            op = "create" if previous is None else "update"
            feed.add(seq_of[prepared.index], kind.entity, op, ids[prepared.index])
        batch.outcomes[prepared.index] = {
            "index": prepared.index,
            "status": "accepted",
            "reason": None,
            "id": ids.get(prepared.index),
        }
    if kind.name == "employment":
        _replace_roles(session, accepted, ids)


def _replace_roles(
    session: Session, accepted: list[tuple[Prepared, dict[str, Any] | None]], ids: dict[int, int]
) -> None:
    updated = [ids[p.index] for p, found in accepted if found is not None]
    for part in chunks(updated):
        session.execute(delete(RoleAssignment).where(col(RoleAssignment.employment_id).in_(part)))
    rows: list[dict[str, Any]] = []
    for prepared, _found in accepted:
        item = prepared.item
        assert isinstance(item, EmploymentWrite)
        for role in item.roles:
            rows.append(
                {
                    "employment_id": ids[prepared.index],
                    "person_id": prepared.row["person_id"],
                    "role": role.role,
                    "valid_from": role.valid_from or item.valid_from,
                    "valid_to": role.valid_to or item.valid_to,
                }
            )
    insert_rows(session, RoleAssignment, rows)


def _report(batch: Batch, last_seq: int) -> dict[str, Any]:
    # Plain dicts, not models: a 10,000-item report is serialised as it is, quickly.
    items = [batch.outcomes[i] for i in range(batch.size)]
    for index, warning in batch.warnings.items():
        if items[index]["status"] in ("accepted", "unchanged"):
            items[index]["warning"] = warning
    counts = Counter(o["status"] for o in items)
    return {
        "kind": batch.kind.name,
        "counts": {s: counts.get(s, 0) for s in ("accepted", "unchanged", "rejected", "conflict")},
        "items": items,
        "last_seq": last_seq,
    }
