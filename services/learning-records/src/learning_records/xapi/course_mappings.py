"""Course mappings owned per API client: who manages which, bulk upserts checked against the
catalog copy, and the mappings a statement is read with.

Owners: an unrestricted admin manages the global mappings (owner ""), which apply to every
client's statements; any other client with `xapi:mappings` manages its own (owner = its client
id), which apply only to the statements it writes and take precedence over a global mapping of
the same activity. A restricted admin manages neither (403): it cannot speak for every
institution, and an LMS gets its own client with `xapi:mappings`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlmodel import Session

from learning_records.reference.service import reference_codes
from learning_records.xapi.models import XapiCourseMapping
from learning_records.xapi.validation import is_iri
from pilnveide_kit.auth import Principal
from pilnveide_kit.errors import BadRequest, Forbidden

CM = XapiCourseMapping.__table__  # type: ignore[attr-defined]
#: The owner of global mappings.
GLOBAL = ""
#: Most mappings in one upload.
MAX_UPLOAD = 10_000


class CourseMappingForbidden(Forbidden):
    """A restricted admin cannot change course mappings."""

    slug = "xapi-course-mapping-forbidden"


class MappingUploadInvalid(BadRequest):
    """An upload that cannot be read (not a list of mappings, bad CSV header, too many)."""

    slug = "xapi-course-mapping-upload-invalid"


def owner_of(principal: Principal) -> str:
    """Whose mappings a caller manages: "" (global) for an unrestricted admin, its own client id
    for another client; 403 for a restricted admin."""
    if "admin" in principal.scopes:
        if principal.restricted:
            raise CourseMappingForbidden(
                "Global course mappings apply to every institution; a restricted admin cannot "
                "change them (an LMS manages its own with a client holding xapi:mappings)"
            )
        return GLOBAL
    return principal.client_id


@dataclass
class MappingItem:
    """One mapping of an upload and what becomes (or would become) of it."""

    index: int
    activity_id: str
    course_code: str
    outcome: str = ""
    detail: str | None = None
    #: The field an invalid item fails on (activity_id or course_code).
    field: str | None = None

    def refuse(self, field: str, reason: str) -> None:
        """Mark the item invalid on a field, with the reason."""
        self.outcome, self.field, self.detail = "invalid", field, reason


def parse_csv(text: str) -> list[dict[str, Any]]:
    """Rows of a CSV upload with the header `activity_id,course_code` (other columns ignored)."""
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        if not reader.fieldnames or not {"activity_id", "course_code"} <= set(reader.fieldnames):
            raise MappingUploadInvalid("A CSV upload needs the header row activity_id,course_code")
        return [
            {
                "activity_id": row.get("activity_id") or "",
                "course_code": row.get("course_code") or "",
            }
            for row in reader
        ]
    except csv.Error as exc:  # e.g. an unclosed quote: the body is not CSV
        raise MappingUploadInvalid(f"The body is not valid CSV: {exc}") from None


def items_of(rows: Any) -> list[MappingItem]:
    """The mappings of an upload body (a list of objects), checked for shape."""
    if not isinstance(rows, list):
        raise MappingUploadInvalid("The upload must list mappings")
    if len(rows) > MAX_UPLOAD:
        raise MappingUploadInvalid(f"An upload holds at most {MAX_UPLOAD} mappings")
    items = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise MappingUploadInvalid(f"mappings[{index}] must be an object")
        activity, course = row.get("activity_id"), row.get("course_code")
        items.append(
            MappingItem(
                index,
                activity.strip() if isinstance(activity, str) else "",
                course.strip() if isinstance(course, str) else "",
            )
        )
    return items


def classify(session: Session, owner: str, items: list[MappingItem]) -> None:
    """Decide each item's outcome: created, updated, unchanged, or invalid with the reason."""
    reference = reference_codes(session)
    seen: set[str] = set()
    for item in items:
        if not is_iri(item.activity_id) or len(item.activity_id) > 2048:
            item.refuse("activity_id", "activity_id must be an IRI")
        elif not item.course_code or len(item.course_code) > 64:
            item.refuse("course_code", "course_code must be 1 to 64 characters")
        elif reference.course_unknown(item.course_code):
            item.refuse("course_code", "unknown course code (not in the catalog)")
        elif item.activity_id in seen:
            item.refuse("activity_id", "the upload maps this activity twice")
        seen.add(item.activity_id)
    current = current_mappings(session, owner, [i.activity_id for i in items if not i.outcome])
    for item in items:
        if item.outcome:
            continue
        known = current.get(item.activity_id)
        item.outcome = (
            "created" if known is None else "unchanged" if known == item.course_code else "updated"
        )


def write(session: Session, owner: str, items: list[MappingItem]) -> None:
    """Write the created and updated items of a classified upload (invalid ones are skipped)."""
    created = [i for i in items if i.outcome == "created"]
    if created:
        session.execute(
            CM.insert(),
            [
                {"owner": owner, "activity_id": i.activity_id, "course_code": i.course_code}
                for i in created
            ],
        )
    updated = [i for i in items if i.outcome == "updated"]
    if updated:
        session.execute(
            update(CM)
            .where(CM.c.owner == owner, CM.c.activity_id == bindparam("target_activity"))
            .values(course_code=bindparam("new_course"))
            .execution_options(synchronize_session=False),
            [{"target_activity": i.activity_id, "new_course": i.course_code} for i in updated],
        )


def current_mappings(session: Session, owner: str, activity_ids: list[str]) -> dict[str, str]:
    """activity id → course code of an owner's mappings of these activities."""
    found: dict[str, str] = {}
    wanted = sorted(set(activity_ids))
    for start in range(0, len(wanted), 1000):
        part = wanted[start : start + 1000]
        rows = session.execute(
            select(CM.c.activity_id, CM.c.course_code).where(
                CM.c.owner == owner, CM.c.activity_id.in_(part)
            )
        ).all()
        found.update({activity: course for activity, course in rows})
    return found


def courses_for(session: Session, client_id: str, activity_ids: list[str]) -> dict[str, str]:
    """activity id → course code for a client's statements: its own mapping, else the global."""
    found: dict[str, str] = {}
    wanted = sorted(set(activity_ids))
    for start in range(0, len(wanted), 1000):
        part = wanted[start : start + 1000]
        rows = session.execute(
            select(CM.c.owner, CM.c.activity_id, CM.c.course_code).where(
                CM.c.owner.in_([GLOBAL, client_id]), CM.c.activity_id.in_(part)
            )
        ).all()
        for _owner, activity_id, course in sorted(rows, key=lambda r: r[0] != GLOBAL):
            found[activity_id] = course  # the client's own (sorted last) wins
    return found
