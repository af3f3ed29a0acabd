"""Reading reference lists and checking codes against them."""

from __future__ import annotations

from collections import defaultdict

from sqlmodel import Session, col, select

from catalog.common.i18n import LocalizedText, text_of
from catalog.reference.models import (
    ReferenceItem,
    ReferenceItemPublic,
    ReferenceList,
    ReferenceListPublic,
)
from pilnveide_kit.errors import NotFound


class ReferenceListNotFound(NotFound):
    """No reference list has this code."""

    slug = "reference-list-not-found"


def _public(row: ReferenceList, items: list[ReferenceItem]) -> ReferenceListPublic:
    return ReferenceListPublic(
        code=row.code,
        title=text_of(row.title_lv, row.title_en) or LocalizedText(lv=row.code),
        items=[
            ReferenceItemPublic(
                code=i.code,
                name=text_of(i.name_lv, i.name_en) or LocalizedText(lv=i.code),
                attributes=i.attributes,
            )
            for i in items
        ],
    )


def list_lists(session: Session) -> list[ReferenceListPublic]:
    """Every reference list with its codes."""
    items: dict[str, list[ReferenceItem]] = defaultdict(list)
    for item in session.exec(
        select(ReferenceItem).order_by(col(ReferenceItem.list_code), col(ReferenceItem.position))
    ):
        items[item.list_code].append(item)
    rows = session.exec(select(ReferenceList).order_by(col(ReferenceList.code))).all()
    return [_public(r, items.get(r.code, [])) for r in rows]


def get_list(session: Session, code: str) -> ReferenceListPublic:
    """One reference list with its codes."""
    row = session.exec(select(ReferenceList).where(ReferenceList.code == code)).first()
    if row is None:
        raise ReferenceListNotFound(f"No reference list has the code {code!r}", code=code)
    items = session.exec(
        select(ReferenceItem)
        .where(ReferenceItem.list_code == code)
        .order_by(col(ReferenceItem.position))
    ).all()
    return _public(row, list(items))


def known_codes(session: Session, list_code: str) -> set[str]:
    """The codes of one list (empty when the list is not loaded)."""
    return set(
        session.exec(select(ReferenceItem.code).where(ReferenceItem.list_code == list_code)).all()
    )
