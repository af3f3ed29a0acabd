"""Reading bulk bodies: a JSON array, NDJSON (one item a line) or CSV (an HR export)."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi import Request
from pydantic import ValidationError

from learning_records.ingest.kinds import CSV_LIST_PARSERS, Kind
from learning_records.ingest.service import RawItemError, paused_gc
from pilnveide_kit.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

JSON_TYPES = ("application/json",)
NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")
CSV_TYPES = ("text/csv", "application/csv")


async def read_body(request: Request) -> bytes:
    """The request body, refused with 413 beyond the configured size."""
    limit: int = request.app.state.settings.bulk_max_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The body is larger than {limit} bytes; send smaller batches")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"The body is larger than {limit} bytes; send smaller batches")
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(request: Request) -> str:
    """The request's media type without parameters."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def parse_items(body: bytes, content_type: str, kind: Kind) -> list[Any]:
    """The items of a bulk body; unreadable NDJSON lines or CSV rows become RawItemError."""
    if content_type in JSON_TYPES:
        try:  # the common case, every item valid: parse and validate in one pass
            with paused_gc():
                return list(kind.list_adapter.validate_json(body))
        except ValidationError:
            pass  # an invalid item, or not an array: read the items one by one for the reasons
        try:
            document = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest("The body is not valid JSON") from exc
        if not isinstance(document, list):
            raise BadRequest("A bulk JSON body is an array of items")
        return document
    if content_type in NDJSON_TYPES:
        return _ndjson(body)
    if content_type in CSV_TYPES:
        return _csv(body, kind)
    raise UnsupportedMediaType(
        "Send application/json (an array), application/x-ndjson or text/csv",
        accepted=[*JSON_TYPES, *NDJSON_TYPES, *CSV_TYPES],
    )


def _ndjson(body: bytes) -> list[Any]:
    items: list[Any] = []
    for number, line in enumerate(body.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(json.loads(line))
        except (ValueError, UnicodeDecodeError):
            items.append(RawItemError(f"line {number} is not valid JSON"))
    return items


def _csv(body: bytes, kind: Kind) -> list[Any]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest("A CSV body is UTF-8 text") from exc
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return _csv_items(reader, kind)
    except csv.Error as exc:  # e.g. a field past the csv module's size limit
        raise BadRequest(f"CSV line {reader.line_num} cannot be read: {exc}") from None


def _csv_items(reader: csv.DictReader[str], kind: Kind) -> list[Any]:
    if reader.fieldnames is None:
        return []
    reader.fieldnames = [name.strip() for name in reader.fieldnames]
    items: list[Any] = []
    for row in reader:
        if None in row:
            items.append(
                RawItemError(f"CSV line {reader.line_num} has more fields than the header")
            )
            continue
        item: dict[str, Any] = {}
        for name, value in row.items():
            value = (value or "").strip()
            if not value:
                continue
            if name in kind.csv_lists:
                item[name] = CSV_LIST_PARSERS[name](value)
            else:
                item[name] = value
        items.append(item)
    return items
