"""Writes of people, employment, headcounts, enrolments and results: one item or in bulk."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from learning_records.changes.service import change_feed
from learning_records.hashing import keyed_hash
from learning_records.ingest import idempotency
from learning_records.ingest.bodies import media_type, parse_items, read_body
from learning_records.ingest.kinds import KINDS, Kind
from learning_records.ingest.schemas import ItemBase, ItemOutcome, WriteReport
from learning_records.ingest.service import FOREIGN_RECORD, OUTSIDE_INSTITUTIONS, apply, prepare
from learning_records.reference.service import reference_codes
from learning_records.settings import LearningRecordsSettings
from pilnveide_kit.app import SessionDep
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.errors import (
    Conflict,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    UnprocessableContent,
)
from pilnveide_kit.openapi import problems

router = APIRouter(prefix="/v1", tags=["writes"])

WriterDep = Annotated[Principal, require("records:write")]
BodyDep = Annotated[bytes, Depends(read_body)]
Mode = Literal["per_item", "all_or_nothing"]
Report = Literal["all", "problems"]


class ItemConflict(Conflict):
    """A record with this source id and different content exists."""


class ItemRejected(UnprocessableContent):
    """The item is not valid."""


class InstitutionNotFound(NotFound):
    """The item's institution is outside the client's institutions."""


class ForeignRecord(Forbidden):
    """The source id is another institution's record: a restricted client never replaces it."""

    slug, title = "foreign-record", "Another institution's record"


def _settings(request: Request) -> LearningRecordsSettings:
    settings: LearningRecordsSettings = request.app.state.settings
    return settings


def _write(
    request: Request,
    session: SessionDep,
    principal: Principal,
    kind: Kind,
    raw_items: list[Any],
    body: bytes,
    *,
    all_or_nothing: bool,
    render: Callable[[dict[str, Any]], tuple[int, str]],
    accepted_ids: bool = True,
) -> Response:
    settings = _settings(request)
    batch = prepare(
        kind,
        raw_items,
        principal=principal,
        pepper=settings.pseudonym_pepper,
        reference=reference_codes(session),
    )
    change_feed(session)  # take the writers' lock before looking at stored keys and records
    key = request.headers.get(idempotency.HEADER)
    route = request.url.path
    request_hash = ""
    if key is not None:
        key = idempotency.check_key(key)
        request_hash = keyed_hash(
            f"{route}?{request.url.query}\n{media_type(request)}\n".encode() + body,
            settings.pseudonym_pepper,
        )
        stored = idempotency.stored_response(
            session, principal.client_id, key, route, request_hash, settings.idempotency_ttl_hours
        )
        if stored is not None:
            return Response(
                stored.body,
                status_code=stored.status_code,
                media_type="application/json",
                headers={"Idempotent-Replayed": "true"},
            )
    report = apply(
        session,
        batch,
        principal=principal,
        all_or_nothing=all_or_nothing,
        accepted_ids=accepted_ids,
    )
    status_code, text = render(report)
    if key is not None:
        idempotency.remember(
            session,
            principal.client_id,
            key,
            route,
            request_hash,
            idempotency.StoredResponse(status_code, text),
            settings.idempotency_ttl_hours,
        )
    return Response(text, status_code=status_code, media_type="application/json")


def _bulk_route(kind: Kind) -> Callable[..., Response]:
    def write_bulk(
        request: Request,
        session: SessionDep,
        principal: WriterDep,
        body: BodyDep,
        mode: Annotated[
            Mode, Query(description="all_or_nothing: write nothing if any item is bad")
        ] = "per_item",
        report: Annotated[
            Report,
            Query(description="problems: list only rejected, conflicting and flagged items"),
        ] = "all",
    ) -> Response:
        raw_items = parse_items(body, media_type(request), kind)
        limit = _settings(request).bulk_max_items
        if len(raw_items) > limit:
            raise PayloadTooLarge(f"At most {limit} items per request; send smaller batches")

        def render(result: dict[str, Any]) -> tuple[int, str]:
            if report == "problems":
                result["items"] = [
                    o
                    for o in result["items"]
                    if o["status"] in ("rejected", "conflict") or o.get("warning")
                ]
            return 200, json.dumps(result, separators=(",", ":"))

        return _write(
            request,
            session,
            principal,
            kind,
            raw_items,
            body,
            all_or_nothing=mode == "all_or_nothing",
            render=render,
            accepted_ids=report == "all",  # "problems" lists accepted items only when flagged
        )

    write_bulk.__name__ = f"write_{kind.name}_bulk"
    write_bulk.__doc__ = (
        f"Write many {kind.name} items (JSON array, NDJSON or CSV); each gets its own outcome."
    )
    return write_bulk


def _single_route(kind: Kind) -> Callable[..., Response]:
    def write_one(
        request: Request, session: SessionDep, principal: WriterDep, item: ItemBase
    ) -> Response:
        raw = item.model_dump(mode="json", exclude_unset=True)
        body = json.dumps(raw, sort_keys=True).encode()

        def render(result: dict[str, Any]) -> tuple[int, str]:
            outcome = result["items"][0]
            if outcome["status"] == "conflict":
                raise ItemConflict(outcome["reason"], id=outcome["id"])
            if outcome["status"] == "rejected":
                if outcome["reason"] == OUTSIDE_INSTITUTIONS:
                    raise InstitutionNotFound("No such institution among the client's")
                if outcome["reason"] == FOREIGN_RECORD:
                    raise ForeignRecord(
                        "This source id is a record of another institution; nothing was changed"
                    )
                raise ItemRejected(outcome["reason"])
            code = 201 if outcome["status"] == "accepted" else 200
            return code, json.dumps({**outcome, "last_seq": result["last_seq"]})

        return _write(
            request, session, principal, kind, [raw], body, all_or_nothing=False, render=render
        )

    write_one.__annotations__["item"] = kind.item
    write_one.__name__ = f"write_{kind.name}_item"
    write_one.__doc__ = f"Write one {kind.name} item: 201 stored, 200 unchanged, 409 conflict."
    return write_one


_BULK_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"type": "array", "items": {"$ref": "#/components/schemas/{model}"}}
            },
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/csv": {"schema": {"type": "string"}},
        },
    }
}


def _bulk_openapi(kind: Kind) -> dict[str, Any]:
    text = json.dumps(_BULK_BODY).replace("{model}", kind.item.__name__)
    extra: dict[str, Any] = json.loads(text)
    extra["parameters"] = [
        {
            "name": idempotency.HEADER,
            "in": "header",
            "required": False,
            "schema": {"type": "string", "maxLength": 200},
            "description": "Replaying the same key and body returns the stored response",
        }
    ]
    return extra


for _kind in KINDS.values():
    router.add_api_route(
        f"/{_kind.name}",
        _single_route(_kind),
        methods=["POST"],
        response_model=ItemOutcome,
        status_code=201,
        summary=f"Write one {_kind.name} item",
        responses={
            200: {"description": "Unchanged: the same item was stored before"},
            **problems(409),  # the same source id with other content
        },
    )
    router.add_api_route(
        f"/{_kind.name}/bulk",
        _bulk_route(_kind),
        methods=["POST"],
        response_model=WriteReport,
        summary=f"Write {_kind.name} in bulk",
        openapi_extra=_bulk_openapi(_kind),
    )
