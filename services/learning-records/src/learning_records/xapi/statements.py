"""Storing, voiding and querying statements: set-based writes, keyset reads."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, any_, bindparam, exists, insert, or_, select, text, update
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session

from learning_records.xapi.access import XapiAccess
from learning_records.xapi.identity import (
    agent_key,
    canonical_json,
    comparable,
    content_hash,
    statement_index,
)
from learning_records.xapi.models import (
    XapiActivity,
    XapiAttachment,
    XapiStatement,
    XapiStatementActivity,
    XapiStatementAgent,
)
from learning_records.xapi.personal_codes import PersonalCodes
from learning_records.xapi.protocol import (
    Part,
    StatementConflict,
    StatementNotFound,
    XapiBadRequest,
    XapiPayloadTooLarge,
    xapi_json,
)
from learning_records.xapi.validation import (
    VOIDED_VERB,
    StatementInvalid,
    Validator,
    format_timestamp,
    is_iri,
    is_uuid,
    new_statement_id,
    parse_timestamp,
)
from pilnveide_kit.jws import (
    JwsAlgorithmRefused,
    JwsMalformed,
    JwsSignatureInvalid,
    open_signed_document,
)

SIGNATURE_USAGE = "http://adlnet.gov/expapi/attachments/signature"
SIGNATURE_ALGORITHMS = ("RS256", "RS384", "RS512")
_ALLOCATE_SQL = (
    "SELECT nextval(pg_get_serial_sequence(:table, :column)) FROM generate_series(1, :n)"
)

S = XapiStatement.__table__  # type: ignore[attr-defined]
AG = XapiStatementAgent.__table__  # type: ignore[attr-defined]
AC = XapiStatementActivity.__table__  # type: ignore[attr-defined]
AT = XapiAttachment.__table__  # type: ignore[attr-defined]
ACT = XapiActivity.__table__  # type: ignore[attr-defined]


@dataclass
class Prepared:
    """A validated statement ready to store."""

    statement: dict[str, Any]
    row: dict[str, Any]
    agents: dict[str, bool]
    activities: dict[str, bool]


@dataclass
class StoreOutcome:
    """What a write did: the ids in request order and the statements newly stored."""

    ids: list[str]
    new: list[Prepared] = field(default_factory=list)
    voided_ids: list[str] = field(default_factory=list)


def utc_now() -> datetime:
    """Now, in UTC, truncated to milliseconds (the precision `stored` is reported with)."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def as_utc(moment: datetime) -> datetime:
    """An aware UTC datetime (SQLite gives naive ones back)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def authority_for(client_id: str, home_page: str) -> dict[str, Any]:
    """The authority the LRS records for an API client."""
    return {"objectType": "Agent", "account": {"homePage": home_page, "name": client_id}}


def _attachment_list(statement: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(statement.get("attachments") or [])
    target = statement.get("object") or {}
    if target.get("objectType") == "SubStatement":
        found.extend(target.get("attachments") or [])
    return found


def _verify_signature(statement: dict[str, Any], jws_bytes: bytes) -> None:
    try:
        _header, payload_raw = open_signed_document(
            jws_bytes.decode("ascii").strip(), list(SIGNATURE_ALGORITHMS)
        )
    except (UnicodeDecodeError, JwsMalformed) as exc:
        raise XapiBadRequest("The signature attachment is not a JWS") from exc
    except JwsAlgorithmRefused as exc:
        raise XapiBadRequest("A statement signature must use RS256, RS384 or RS512") from exc
    except JwsSignatureInvalid as exc:
        raise XapiBadRequest("The statement signature does not verify") from exc
    try:
        payload = json.loads(payload_raw)
    except ValueError as exc:
        raise XapiBadRequest(
            "The JWS payload is not a JSON serialisation of the statement"
        ) from exc
    if not isinstance(payload, dict):
        raise XapiBadRequest("The JWS payload is not a statement")
    ignored = {"attachments", "authority", "stored", "version"}
    signed = {k: v for k, v in payload.items() if k not in ignored}
    actual = {k: v for k, v in statement.items() if k not in ignored}
    if "id" not in signed:
        actual.pop("id", None)
    if canonical_json(comparable(signed)) != canonical_json(comparable(actual)):
        raise XapiBadRequest("The JWS payload does not match the statement it signs")


def check_attachments(
    statements: Sequence[dict[str, Any]], parts: list[Part], max_bytes: int
) -> dict[str, Part]:
    """Match attachment parts to statements' attachments by hash; verify signatures."""
    by_hash: dict[str, Part] = {}
    for part in parts:
        digest = part.headers.get("x-experience-api-hash")
        if not digest:
            raise XapiBadRequest("Every attachment part needs an X-Experience-API-Hash header")
        if part.headers.get("content-transfer-encoding", "binary").lower() != "binary":
            raise XapiBadRequest("Attachment parts must use Content-Transfer-Encoding: binary")
        if len(part.body) > max_bytes:
            raise XapiPayloadTooLarge(f"An attachment is larger than {max_bytes} bytes")
        if hashlib.sha256(part.body).hexdigest() != digest.lower() and (
            hashlib.sha512(part.body).hexdigest() != digest.lower()
        ):
            raise XapiBadRequest("An attachment part's content does not match its hash")
        by_hash[digest.lower()] = part
    needed: set[str] = set()
    for statement in statements:
        for attachment in _attachment_list(statement):
            digest = str(attachment["sha2"]).lower()
            if attachment.get("usageType") == SIGNATURE_USAGE:
                if str(attachment.get("contentType")).lower() != "application/octet-stream":
                    raise XapiBadRequest("A signature attachment must be application/octet-stream")
                if digest not in by_hash:
                    raise XapiBadRequest("A signature attachment needs its JWS part")
                _verify_signature(statement, by_hash[digest].body)
            if "fileUrl" not in attachment and digest not in by_hash:
                raise XapiBadRequest(
                    "An attachment without fileUrl must be sent as a part of the request",
                    sha2=digest,
                )
            needed.add(digest)
    extra = set(by_hash) - needed
    if extra:
        raise XapiBadRequest("The request has parts that are no statement's attachments")
    return by_hash


def prepare(
    statement: dict[str, Any],
    *,
    validator: Validator,
    version: str,
    stored: datetime,
    authority: dict[str, Any],
    client_id: str,
    partition: str = "",
) -> Prepared:
    """Validate a statement and complete it with what the LRS sets (id, stored, authority…)."""
    validator.statement(statement)
    if validator.v2:
        _normalise_timestamps(statement)
    digest = content_hash(statement)
    final = dict(statement)
    final.setdefault("id", new_statement_id())
    final["stored"] = format_timestamp(stored)
    final.setdefault("timestamp", final["stored"])
    final["authority"] = authority
    final.setdefault("version", "2.0.0" if version.startswith("2.") else "1.0.0")
    normalise_contextactivities(final)
    target = final["object"]
    kind = target.get("objectType", "Activity")
    object_key: str | None
    if kind == "Activity":
        object_key = target["id"]
    elif kind in ("Agent", "Group"):
        object_key = agent_key(target)
    elif kind == "StatementRef":
        object_key = target["id"]
    else:
        object_key = None
    is_voiding = final["verb"]["id"] == VOIDED_VERB
    agents, activities = statement_index(final)
    row = {
        "statement_id": final["id"].lower(),
        "stored": stored,
        "timestamp": parse_timestamp(final["timestamp"]),
        "verb_id": final["verb"]["id"],
        "actor_key": agent_key(final["actor"]),
        "object_type": kind,
        "object_key": object_key,
        "object_ref_id": target["id"].lower() if kind == "StatementRef" else None,
        "registration": (final.get("context") or {}).get("registration", "").lower() or None,
        "voided": False,
        "is_voiding": is_voiding,
        "content_hash": digest,
        "payload": json.dumps(final, ensure_ascii=False, separators=(",", ":")),
        "has_attachments": bool(_attachment_list(final)),
        "client_id": client_id,
        "partition": partition,
        "mapping_status": "pending",
        "mapping_detail": None,
    }
    return Prepared(statement=final, row=row, agents=agents, activities=activities)


def _normalise_timestamps(statement: dict[str, Any]) -> None:
    """xAPI 2.0: timestamps in other offsets are converted to UTC."""
    for part in (statement, statement.get("object") or {}):
        if isinstance(part.get("timestamp"), str):
            original = part["timestamp"]
            if not original.endswith(("Z", "z", "+00:00")):
                part["timestamp"] = format_timestamp(parse_timestamp(original))


def store_statements(
    session: Session,
    statements: list[Any],
    *,
    version: str,
    client_id: str,
    authority: dict[str, Any],
    parts: list[Part],
    max_attachment_bytes: int,
    access: XapiAccess,
    decide_mapping: Callable[[dict[str, Any]], tuple[str, str | None]] | None = None,
) -> StoreOutcome:
    """Store a batch all-or-nothing: validation, duplicates, conflicts, voiding, one insert each.

    The statements go to the writer's partition. An id already used in a partition the writer
    does not see is a 409 whatever the content (ids are unique in the whole LRS, as the
    specification wants, and the answer tells nothing of the other statement's content).
    """
    validator = Validator(version)
    partition = access.own_partition()  # registered below, once the batch is valid
    stored = utc_now()
    prepared: list[Prepared] = []
    for index, statement in enumerate(statements):
        try:
            prepared.append(
                prepare(
                    statement,
                    validator=validator,
                    version=version,
                    stored=stored,
                    authority=authority,
                    client_id=client_id,
                    partition=partition,
                )
            )
        except StatementInvalid as exc:
            if len(statements) > 1:
                exc.detail = f"statements[{index}].{exc.detail}"
                exc.extra["index"] = index
            raise
    attachments = check_attachments(statements, parts, max_attachment_bytes)
    ids = [p.row["statement_id"] for p in prepared]
    if len(set(ids)) != len(ids):
        raise XapiBadRequest("The batch has two statements with the same id; nothing was stored")
    access.for_writing()
    _lock_statement_ids(session, ids)
    existing = {
        row.statement_id: (row.content_hash, row.partition)
        for row in session.execute(
            select(S.c.statement_id, S.c.content_hash, S.c.partition).where(
                one_of(session, S.c.statement_id, ids)
            )
        )
    }
    new: list[Prepared] = []
    for item in prepared:
        known = existing.get(item.row["statement_id"])
        if known is None:
            new.append(item)
        elif not access.sees(known[1]):
            raise StatementConflict(
                f"Statement id {item.row['statement_id']} is already used",
                statement_id=item.row["statement_id"],
            )
        elif known[0] != item.row["content_hash"]:
            raise StatementConflict(
                f"Statement {item.row['statement_id']} exists with different content",
                statement_id=item.row["statement_id"],
            )
    outcome = StoreOutcome(ids=[p.statement["id"] for p in prepared], new=new)
    if not new:
        return outcome
    if decide_mapping is not None:
        for item in new:
            status, detail = decide_mapping(item.statement)
            item.row["mapping_status"], item.row["mapping_detail"] = status, detail
    written = bulk_insert(session, S, [item.row for item in new], allocate="seq")
    seq_by_id = {row["statement_id"]: row["seq"] for row in written}
    agent_rows = [
        {"agent_key": key, "seq": seq_by_id[item.row["statement_id"]], "direct": direct}
        for item in new
        for key, direct in item.agents.items()
    ]
    activity_rows = [
        {"activity_id": key, "seq": seq_by_id[item.row["statement_id"]], "direct": direct}
        for item in new
        for key, direct in item.activities.items()
    ]
    bulk_insert(session, AG, agent_rows)
    bulk_insert(session, AC, activity_rows)
    _store_attachment_content(session, new, attachments, partition)
    _merge_activity_definitions(session, new)
    outcome.voided_ids = _apply_voiding(session, new, access)
    return outcome


def _lock_statement_ids(session: Session, ids: list[Any]) -> None:
    """Make requests storing the same statement ids wait for each other until commit.

    Without it two requests with the same new id both find nothing and both insert: a unique
    violation, a 500. With it the second sees the first's row: unchanged or 409. Locks are
    taken in hash order so batches cannot deadlock. SQLite's write lock already serialises.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    session.execute(
        text(
            "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtextextended(x, 0) AS h"
            " FROM unnest(CAST(:ids AS text[])) AS x ORDER BY h) AS ordered"
        ),
        {"ids": [str(i) for i in ids]},
    )


def one_of(session: Session, column: Any, values: list[Any]) -> ColumnElement[bool]:
    """column IN values: one array parameter on PostgreSQL (cheap for long lists), IN elsewhere."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


def bulk_insert(
    session: Session, table: Any, rows: list[dict[str, Any]], *, allocate: str | None = None
) -> list[dict[str, Any]]:
    """One set-based write of many rows: COPY on PostgreSQL, a multi-row insert elsewhere.

    With `allocate`, that serial column's values are drawn for the rows first (in one query on
    PostgreSQL, RETURNING elsewhere) and set in the returned rows.
    """
    if not rows:
        return rows
    if session.get_bind().dialect.name != "postgresql":
        if allocate is None:
            session.execute(insert(table), rows)
            return rows
        result = session.execute(
            insert(table).returning(table.c[allocate], sort_by_parameter_order=True), rows
        )
        for row, value in zip(rows, result.scalars(), strict=True):
            row[allocate] = value
        return rows
    if allocate is not None:
        values = session.execute(
            text(_ALLOCATE_SQL),
            {"table": table.name, "column": allocate, "n": len(rows)},
        ).scalars()
        for row, value in zip(rows, values, strict=True):
            row[allocate] = value
    names = [c.name for c in table.columns if c.name in rows[0]]
    raw = session.connection().connection.driver_connection
    assert raw is not None
    with raw.cursor().copy(f"COPY {table.name} ({', '.join(names)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(tuple(row[n] for n in names))
    return rows


def _store_attachment_content(
    session: Session, new: list[Prepared], attachments: dict[str, Part], partition: str
) -> None:
    wanted: dict[str, dict[str, Any]] = {}
    for item in new:
        for attachment in _attachment_list(item.statement):
            digest = str(attachment["sha2"]).lower()
            part = attachments.get(digest)
            if part is not None and digest not in wanted:
                wanted[digest] = {
                    "partition": partition,
                    "sha2": digest,
                    "content_type": str(attachment["contentType"]),
                    "length": len(part.body),
                    "content": part.body,
                }
    if not wanted:
        return
    have = set(
        session.scalars(
            select(AT.c.sha2).where(AT.c.partition == partition, AT.c.sha2.in_(list(wanted)))
        )
    )
    rows = [row for digest, row in sorted(wanted.items()) if digest not in have]
    if rows:  # a concurrent request may store the same content first: same hash, same bytes
        session.execute(insert_ignoring_duplicates(session, AT).values(rows))


def _definitions(statement: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []

    def visit(activity: Any) -> None:
        if (
            isinstance(activity, dict)
            and activity.get("objectType", "Activity") == "Activity"
            and "definition" in activity
        ):
            found.append((activity["id"], activity["definition"]))

    def walk(part: dict[str, Any]) -> None:
        target = part.get("object") or {}
        visit(target)
        if target.get("objectType") == "SubStatement":
            walk(target)
        for value in ((part.get("context") or {}).get("contextActivities") or {}).values():
            for activity in value if isinstance(value, list) else [value]:
                visit(activity)

    walk(statement)
    return found


def merge_definition(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """New definition properties win; language maps are merged entry by entry."""
    merged = dict(old)
    for key, value in new.items():
        if key in ("name", "description") and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _merge_activity_definitions(session: Session, new: list[Prepared]) -> None:
    incoming: dict[str, dict[str, Any]] = {}
    for item in new:
        for activity_id, definition in _definitions(item.statement):
            incoming[activity_id] = merge_definition(incoming.get(activity_id, {}), definition)
    if not incoming:
        return
    stored_text = {
        row.activity_id: row.definition
        for row in session.execute(
            select(ACT.c.activity_id, ACT.c.definition).where(
                one_of(session, ACT.c.activity_id, list(incoming))
            )
        )
    }
    # Content systems resend the same definition with every statement: skip those unparsed.
    incoming = {
        activity_id: definition
        for activity_id, definition in incoming.items()
        if stored_text.get(activity_id) != canonical_json(definition)
    }
    current = {
        activity_id: json.loads(text)
        for activity_id, text in stored_text.items()
        if activity_id in incoming
    }
    # One key order for every writer, so concurrent batches naming the same activities queue
    # instead of deadlocking.
    incoming = dict(sorted(incoming.items()))
    inserts = [
        {"activity_id": activity_id, "definition": canonical_json(definition)}
        for activity_id, definition in incoming.items()
        if activity_id not in current
    ]
    if inserts:
        statement = insert_ignoring_duplicates(session, ACT).values(inserts)  # rarely many rows
        inserted = set(session.scalars(statement.returning(ACT.c.activity_id)))
        raced = [row["activity_id"] for row in inserts if row["activity_id"] not in inserted]
        if raced:  # another request inserted these meanwhile: merge into theirs
            current.update(
                {
                    row.activity_id: json.loads(row.definition)
                    for row in session.execute(
                        select(ACT.c.activity_id, ACT.c.definition)
                        .where(ACT.c.activity_id.in_(raced))
                        .with_for_update()
                    )
                }
            )
    for activity_id, definition in incoming.items():
        if activity_id not in current:
            continue
        merged = merge_definition(current[activity_id], definition)
        if merged != current[activity_id]:
            session.execute(
                update(ACT)
                .where(ACT.c.activity_id == activity_id)
                .values(definition=canonical_json(merged))
            )


def insert_ignoring_duplicates(session: Session, table: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING on PostgreSQL and SQLite."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()


def _apply_voiding(session: Session, new: list[Prepared], access: XapiAccess) -> list[str]:
    """Mark the targets of new voiding statements voided (never a voiding statement itself, and
    only targets the writer sees: another partition's statement is left as it is)."""
    targets = [item.row["object_ref_id"] for item in new if item.row["is_voiding"]]
    if not targets:
        return []
    voided = list(
        session.scalars(
            select(S.c.statement_id).where(
                S.c.statement_id.in_(targets),
                S.c.is_voiding.is_(False),
                S.c.voided.is_(False),
                access.visible(S.c.partition),
            )
        )
    )
    if voided:
        session.execute(update(S).where(S.c.statement_id.in_(voided)).values(voided=True))
    return voided


# --- reading ------------------------------------------------------------------------------------


@dataclass
class StoredStatement:
    """A statement read back: its JSON and its storage facts."""

    seq: int
    statement: dict[str, Any]
    stored: datetime


def get_statement(
    session: Session, statement_id: str, *, voided: bool, access: XapiAccess
) -> StoredStatement:
    """One statement by id the client sees: a voided one only by voidedStatementId."""
    row = session.execute(
        select(S.c.seq, S.c.payload, S.c.stored, S.c.voided).where(
            S.c.statement_id == statement_id.lower(), access.visible(S.c.partition)
        )
    ).first()
    if row is None or bool(row.voided) != voided:
        raise StatementNotFound(f"No {'voided ' if voided else ''}statement {statement_id}")
    return StoredStatement(
        seq=row.seq, statement=json.loads(row.payload), stored=as_utc(row.stored)
    )


@dataclass
class StatementQuery:
    """The filters of GET /statements."""

    agent: str | None = None
    verb: str | None = None
    activity: str | None = None
    registration: str | None = None
    related_activities: bool = False
    related_agents: bool = False
    since: datetime | None = None
    until: datetime | None = None
    ascending: bool = False


def _filters(table: Any, query: StatementQuery) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if query.agent is not None:
        found = [AG.c.agent_key == query.agent, AG.c.seq == table.c.seq]
        if not query.related_agents:
            found.append(AG.c.direct.is_(True))
        conditions.append(exists().where(*found))
    if query.activity is not None:
        found = [AC.c.activity_id == query.activity, AC.c.seq == table.c.seq]
        if not query.related_activities:
            found.append(AC.c.direct.is_(True))
        conditions.append(exists().where(*found))
    if query.verb is not None:
        conditions.append(table.c.verb_id == query.verb)
    if query.registration is not None:
        conditions.append(table.c.registration == query.registration.lower())
    return conditions


def query_statements(
    session: Session,
    query: StatementQuery,
    *,
    limit: int,
    after: int | None,
    bound: int | None,
    access: XapiAccess,
) -> tuple[list[StoredStatement], int | None, int]:
    """A page of matching statements the client sees; (page, seq to continue after or None,
    snapshot bound)."""
    if bound is None:
        bound = session.scalar(select(S.c.seq).order_by(S.c.seq.desc()).limit(1)) or 0
    conditions = _filters(S, query)
    where: list[ColumnElement[bool]] = [
        S.c.voided.is_(False),
        S.c.seq <= bound,
        access.visible(S.c.partition),
    ]
    if conditions:
        matched = S.alias("matched")
        targets = select(matched.c.statement_id).where(
            *_filters(matched, query), access.visible(matched.c.partition)
        )
        where.append(or_(and_(*conditions), S.c.object_ref_id.in_(targets)))
    if query.since is not None:
        where.append(S.c.stored > query.since)
    if query.until is not None:
        where.append(S.c.stored <= query.until)
    if after is not None:
        where.append(S.c.seq > after if query.ascending else S.c.seq < after)
    order = S.c.seq.asc() if query.ascending else S.c.seq.desc()
    rows = session.execute(
        select(S.c.seq, S.c.payload, S.c.stored).where(*where).order_by(order).limit(limit + 1)
    ).all()
    page = [
        StoredStatement(seq=r.seq, statement=json.loads(r.payload), stored=as_utc(r.stored))
        for r in rows[:limit]
    ]
    next_after = page[-1].seq if len(rows) > limit and page else None
    return page, next_after, bound


def attachment_contents(
    session: Session, digests: list[str], access: XapiAccess
) -> list[tuple[str, str, bytes]]:
    """(sha2, content type, content) of stored attachments, sent in partitions the client sees
    (a statement naming another partition's hash with a fileUrl gets no content)."""
    if not digests:
        return []
    rows = session.execute(
        select(AT.c.sha2, AT.c.content_type, AT.c.content)
        .where(AT.c.sha2.in_(digests), access.visible(AT.c.partition))
        .order_by(AT.c.sha2, AT.c.partition)
    ).all()
    found: dict[str, tuple[str, str, bytes]] = {}
    for r in rows:
        found.setdefault(r.sha2, (r.sha2, r.content_type, bytes(r.content)))
    return list(found.values())


def statement_attachment_hashes(statements: list[dict[str, Any]]) -> list[str]:
    """The distinct attachment hashes a list of statements carries."""
    seen: dict[str, None] = {}
    for statement in statements:
        for attachment in _attachment_list(statement):
            if "fileUrl" not in attachment or attachment.get("sha2"):
                seen[str(attachment["sha2"]).lower()] = None
    return list(seen)


def activity_definition(session: Session, activity_id: str) -> dict[str, Any] | None:
    """The LRS's canonical definition of an activity, if it has one."""
    text = session.scalar(select(ACT.c.definition).where(ACT.c.activity_id == activity_id))
    return json.loads(text) if text else None


# --- formats -------------------------------------------------------------------------------------


def _ids_actor(actor: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "objectType" in actor:
        out["objectType"] = actor["objectType"]
    for key in ("mbox", "mbox_sha1sum", "openid", "account"):
        if key in actor:
            out[key] = actor[key]
            break
    if actor.get("objectType") == "Group" and "member" in actor and len(out) <= 1:
        out["member"] = [_ids_actor(m) for m in actor["member"]]
    return out


def _ids_activity(activity: dict[str, Any]) -> dict[str, Any]:
    return {"id": activity["id"]}


def _ids_part(part: dict[str, Any]) -> dict[str, Any]:
    out = dict(part)
    out["actor"] = _ids_actor(part["actor"])
    out["verb"] = {"id": part["verb"]["id"]}
    target = part["object"]
    kind = target.get("objectType", "Activity")
    if kind == "Activity":
        out["object"] = _ids_activity(target)
    elif kind in ("Agent", "Group"):
        out["object"] = _ids_actor(target)
    elif kind == "SubStatement":
        out["object"] = _ids_part(target)
    if "authority" in part:
        out["authority"] = _ids_actor(part["authority"])
    context = part.get("context")
    if isinstance(context, dict):
        context = dict(context)
        for key in ("instructor", "team"):
            if key in context:
                context[key] = _ids_actor(context[key])
        if "contextActivities" in context:
            context["contextActivities"] = {
                k: [_ids_activity(a) for a in v] for k, v in context["contextActivities"].items()
            }
        out["context"] = context
    return out


def _canonical_map(value: dict[str, str], languages: list[str]) -> dict[str, str]:
    for language in languages:
        for tag in value:
            if tag.lower() == language:
                return {tag: value[tag]}
        for tag in value:
            if tag.lower().split("-")[0] == language.split("-")[0]:
                return {tag: value[tag]}
    first = next(iter(value), None)
    return {first: value[first]} if first is not None else {}


def _canonical(value: Any, languages: list[str], parent: str | None = None) -> Any:
    if isinstance(value, dict):
        if parent in ("display", "name", "description") and all(
            isinstance(v, str) for v in value.values()
        ):
            return _canonical_map(value, languages)
        return {
            k: (v if k == "extensions" else _canonical(v, languages, k)) for k, v in value.items()
        }
    if isinstance(value, list):
        return [_canonical(v, languages, None) for v in value]
    return value


def format_statement(statement: dict[str, Any], fmt: str, languages: list[str]) -> dict[str, Any]:
    """A statement in the ids, exact or canonical format."""
    if fmt == "ids":
        return _ids_part(statement)
    if fmt == "canonical":
        return dict(_canonical(statement, languages))
    return statement


def normalise_contextactivities(statement: dict[str, Any]) -> None:
    """Context activities are always returned as arrays."""
    for part in (statement, statement.get("object") or {}):
        context = part.get("context") if isinstance(part, dict) else None
        if isinstance(context, dict) and isinstance(context.get("contextActivities"), dict):
            context["contextActivities"] = {
                k: v if isinstance(v, list) else [v]
                for k, v in context["contextActivities"].items()
            }


def parse_agent_param(raw: str, codes: PersonalCodes) -> tuple[dict[str, Any], str]:
    """The agent parameter (a personal-code account pseudonymised) and its key; 400 otherwise."""
    try:
        parsed = xapi_json(raw.encode("utf-8", "surrogatepass"), "query.agent")
    except XapiBadRequest as exc:
        raise XapiBadRequest("The agent parameter must be a JSON Agent object") from exc
    agent = codes.agent(parsed)
    Validator("2.0.0").actor(agent, "agent")
    key = agent_key(agent)
    if key is None:
        raise XapiBadRequest("The agent parameter must carry an inverse functional identifier")
    return agent, key


def check_iri_param(name: str, value: str) -> str:
    """An IRI parameter; 400 otherwise."""
    if not is_iri(value):
        raise XapiBadRequest(f"The {name} parameter must be an IRI")
    return value


def check_uuid_param(name: str, value: str) -> str:
    """A UUID parameter; 400 otherwise."""
    if not is_uuid(value):
        raise XapiBadRequest(f"The {name} parameter must be a UUID")
    return value.lower()
