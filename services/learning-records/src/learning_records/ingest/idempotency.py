"""Idempotency-Key handling: the same key and body get the stored response, not a second write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import Session, col

from learning_records.ingest.models import IdempotencyRecord
from learning_records.models import as_utc, utcnow
from pilnveide_kit.errors import BadRequest, UnprocessableContent

HEADER = "Idempotency-Key"


class IdempotencyKeyReused(UnprocessableContent):
    """The Idempotency-Key was used before with a different request."""


@dataclass(frozen=True)
class StoredResponse:
    """A response stored under an Idempotency-Key."""

    status_code: int
    body: str


def check_key(key: str) -> str:
    """A usable Idempotency-Key (1–200 visible characters)."""
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise BadRequest("Idempotency-Key is 1–200 printable characters")
    return key


def stored_response(
    session: Session, client_id: str, key: str, route: str, request_hash: str, ttl_hours: int
) -> StoredResponse | None:
    """The stored response for this key, None if unused; 422 if it was used for another request."""
    record = session.get(IdempotencyRecord, (client_id, key))
    if record is None:
        return None
    created = as_utc(record.created_at)
    if created < utcnow() - timedelta(hours=ttl_hours):
        session.delete(record)
        session.flush()
        return None
    if record.route != route or record.request_hash != request_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used with a different request; use a new key"
        )
    return StoredResponse(record.status_code, record.response_body)


def remember(
    session: Session,
    client_id: str,
    key: str,
    route: str,
    request_hash: str,
    response: StoredResponse,
    ttl_hours: int,
) -> None:
    """Store a response under its key (and drop keys past their lifetime)."""
    session.execute(
        delete(IdempotencyRecord).where(
            col(IdempotencyRecord.created_at) < utcnow() - timedelta(hours=ttl_hours)
        )
    )
    session.add(
        IdempotencyRecord(
            client_id=client_id,
            key=key,
            route=route,
            request_hash=request_hash,
            status_code=response.status_code,
            response_body=response.body,
        )
    )
    session.flush()
