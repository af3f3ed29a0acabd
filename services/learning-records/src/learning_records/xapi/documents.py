"""State, activity profile and agent profile documents with ETag concurrency and JSON merge."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlmodel import Session

from learning_records.xapi.models import XapiDocument
from learning_records.xapi.protocol import (
    JSON_TYPE,
    DocumentConflict,
    DocumentPreconditionFailed,
    XapiBadRequest,
    media_type,
)
from learning_records.xapi.statements import as_utc, utc_now

D = XapiDocument.__table__  # type: ignore[attr-defined]

STATE = "state"
ACTIVITY_PROFILE = "activity_profile"
AGENT_PROFILE = "agent_profile"


@dataclass(frozen=True)
class DocumentScope:
    """Everything that names a set of documents except the document id."""

    kind: str
    activity_id: str = ""
    agent_key: str = ""
    registration: str = ""
    #: The client's own partition (xapi/access.py): each has its own documents.
    partition: str = ""

    def where(self) -> list[Any]:
        """SQL conditions selecting this scope's documents."""
        return [
            D.c.partition == self.partition,
            D.c.kind == self.kind,
            D.c.activity_id == self.activity_id,
            D.c.agent_key == self.agent_key,
            D.c.registration == self.registration,
        ]


@dataclass
class Document:
    """A stored document."""

    content: bytes
    content_type: str
    etag: str
    updated: datetime


@dataclass(frozen=True)
class Preconditions:
    """The request's If-Match / If-None-Match headers."""

    if_match: str | None = None
    if_none_match: str | None = None

    @property
    def given(self) -> bool:
        """True when either header was sent."""
        return self.if_match is not None or self.if_none_match is not None


def etag_of(content: bytes) -> str:
    """A document's ETag: the SHA-1 of its content (unquoted)."""
    return hashlib.sha1(content, usedforsecurity=False).hexdigest()


def _tags(header: str) -> list[str]:
    return [t.strip().removeprefix("W/").strip('"') for t in header.split(",") if t.strip()]


def check_preconditions(current: Document | None, conditions: Preconditions) -> None:
    """412 when If-Match or If-None-Match does not hold for the current document."""
    if conditions.if_match is not None:
        tags = _tags(conditions.if_match)
        if current is None or ("*" not in tags and current.etag not in tags):
            raise DocumentPreconditionFailed("If-Match does not match the current document")
    if conditions.if_none_match is not None:
        tags = _tags(conditions.if_none_match)
        if current is not None and ("*" in tags or current.etag in tags):
            raise DocumentPreconditionFailed("If-None-Match: the document exists")


def get_document(session: Session, scope: DocumentScope, document_id: str) -> Document | None:
    """One document, if it exists."""
    row = session.execute(
        select(D.c.content, D.c.content_type, D.c.etag, D.c.updated).where(
            *scope.where(), D.c.document_id == document_id
        )
    ).first()
    if row is None:
        return None
    return Document(
        content=bytes(row.content),
        content_type=row.content_type,
        etag=row.etag,
        updated=as_utc(row.updated),
    )


def list_document_ids(
    session: Session, scope: DocumentScope, since: datetime | None
) -> tuple[list[str], datetime | None]:
    """The ids of a scope's documents (updated after since) and the latest update."""
    query = select(D.c.document_id, D.c.updated).where(*scope.where())
    if since is not None:
        query = query.where(D.c.updated > since)
    rows = session.execute(query.order_by(D.c.document_id)).all()
    latest = max((as_utc(r.updated) for r in rows), default=None)
    return [r.document_id for r in rows], latest


def _json_object(content: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def write_document(
    session: Session,
    scope: DocumentScope,
    document_id: str,
    content: bytes,
    content_type: str,
    conditions: Preconditions,
    *,
    merge: bool,
    require_precondition: bool,
    precondition_for_new: bool = False,
) -> Document:
    """PUT (replace) or POST (merge JSON objects) a document under the concurrency rules."""
    current = get_document(session, scope, document_id)
    check_preconditions(current, conditions)
    content_type = content_type or "application/octet-stream"
    if merge:
        incoming_is_json = media_type(content_type) == JSON_TYPE
        incoming = _json_object(content) if incoming_is_json else None
        if incoming_is_json and incoming is None:
            raise XapiBadRequest("A JSON document posted for merging must be a JSON object")
        if current is not None:
            existing = (
                _json_object(current.content)
                if media_type(current.content_type) == JSON_TYPE
                else None
            )
            if existing is None or incoming is None:
                raise XapiBadRequest(
                    "POST merges only JSON objects; both documents must be application/json"
                )
            content = json.dumps({**existing, **incoming}, ensure_ascii=False).encode()
            content_type = JSON_TYPE
    elif current is not None and require_precondition and not conditions.given:
        raise DocumentConflict(
            "The document exists: send If-Match with its ETag (or If-None-Match: *) to change it"
        )
    elif current is None and precondition_for_new and not conditions.given:
        raise XapiBadRequest("xAPI 1.0.x: PUT a profile with If-Match or If-None-Match")
    now = utc_now()
    etag = etag_of(content)
    if current is None:
        session.execute(
            D.insert().values(
                partition=scope.partition,
                kind=scope.kind,
                activity_id=scope.activity_id,
                agent_key=scope.agent_key,
                registration=scope.registration,
                document_id=document_id,
                content=content,
                content_type=content_type,
                etag=etag,
                updated=now,
            )
        )
    else:
        session.execute(
            update(D)
            .where(*scope.where(), D.c.document_id == document_id)
            .values(content=content, content_type=content_type, etag=etag, updated=now)
        )
    return Document(content=content, content_type=content_type, etag=etag, updated=now)


def delete_documents(
    session: Session, scope: DocumentScope, document_id: str | None, conditions: Preconditions
) -> None:
    """Delete one document (If-Match honoured) or, without an id, every document of the scope."""
    if document_id is None:
        session.execute(delete(D).where(*scope.where()))
        return
    current = get_document(session, scope, document_id)
    check_preconditions(current, conditions)
    session.execute(delete(D).where(*scope.where(), D.c.document_id == document_id))
