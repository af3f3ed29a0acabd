"""A sample service: one table, routes that exercise errors, sessions and pagination."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Request
from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlmodel import Field, SQLModel, select

from pilnveide_kit.app import SessionDep, create_service_app
from pilnveide_kit.auth import Principal, require
from pilnveide_kit.csv_export import (
    ALSO_CSV,
    CsvFormat,
    add_csv_exports,
    csv_requested,
    csv_response,
)
from pilnveide_kit.db import new_registry
from pilnveide_kit.errors import NotFound, PreconditionRequired
from pilnveide_kit.migrations import Migrations
from pilnveide_kit.pagination import PageParams, count_of, make_page, page_params
from pilnveide_kit.settings import ServiceSettings


class SampleModel(SQLModel, registry=new_registry()):
    """Base of the sample tables."""


class Note(SampleModel, table=True):
    """A row to write and page through."""

    id: int | None = Field(default=None, primary_key=True)
    text: str


class NoteIn(BaseModel):
    """A note to create."""

    text: str = PydanticField(min_length=1, max_length=50)


class NoteNotFound(NotFound):
    """No such note."""


metadata = SampleModel.metadata
migrations = Migrations(Path(__file__).parent)
router = APIRouter()


@router.post("/notes", status_code=201)
def create_note(body: NoteIn, session: SessionDep) -> Note:
    """Create a note."""
    note = Note(text=body.text)
    session.add(note)
    session.flush()
    return note


@router.get("/notes", responses=ALSO_CSV)
def list_notes(
    request: Request,
    session: SessionDep,
    page: Annotated[PageParams, Depends(page_params)],
    format: CsvFormat = None,
) -> Any:
    """Page through notes by id (or a CSV of the page)."""
    query = select(Note)
    total = count_of(session, query)
    if page.after:
        query = query.where(Note.id > page.after_int("id"))  # type: ignore[operator]
    rows = list(session.exec(query.order_by(Note.id).limit(page.limit + 1)))  # type: ignore[arg-type]
    result = make_page(rows, page.limit, key=lambda n: {"id": n.id}, count=total)
    if csv_requested(request, format):
        rows = [n.model_dump() for n in result.data]
        return csv_response(rows, ["id", "text"], filename="notes.csv")
    return result


@router.get("/notes/{note_id}")
def get_note(note_id: int, session: SessionDep) -> Note:
    """One note."""
    note = session.get(Note, note_id)
    if note is None:
        raise NoteNotFound(f"No note {note_id}")
    return note


@router.patch("/notes/{note_id}")
def update_note(
    note_id: int,
    body: NoteIn,
    session: SessionDep,
    if_match: Annotated[str | None, Header()] = None,
) -> Note:
    """Change a note's text (If-Match: its id, a stand-in for an ETag)."""
    note = get_note(note_id, session)
    if if_match is None:
        raise PreconditionRequired("Send If-Match")
    note.text = body.text
    return note


add_csv_exports(router, "/notes")


@router.get("/days")
def days(since: date, until: datetime | None = None) -> dict[str, str | None]:
    """Echo a date and an optional date-time (validation messages of dates)."""
    return {"since": since.isoformat(), "until": until.isoformat() if until else None}


@router.post("/notes/fail-after-write")
def fail_after_write(session: SessionDep) -> None:
    """Writes, then crashes: the write must be rolled back."""
    session.add(Note(text="must not persist"))
    session.flush()
    raise RuntimeError("boom: secret internals")


@router.get("/secure")
def secure(principal: Annotated[Principal, require("catalog:read")]) -> dict[str, str]:
    """A route that needs a scope."""
    return {"client": principal.client_id}


def create_app(settings: ServiceSettings) -> FastAPI:
    """The sample app."""
    return create_service_app(
        settings,
        title="Pilnveide sample",
        description="kit test service",
        version="0.0.1",
        migrations=migrations,
        routers=[router],
    )
