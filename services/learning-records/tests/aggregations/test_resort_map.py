"""The institution -> resort map is resolved again whenever the catalog copy's institutions change."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, delete

from learning_records.reference.models import CatalogEntry
from learning_records.reference.service import institution_resorts
from pilnveide_kit.db import session_scope


def _write(engine: Engine, change_id: int, **parents: Any) -> None:
    with session_scope(engine) as session:
        session.execute(delete(CatalogEntry))
        for code, parent in parents.items():
            kind = "ministry" if parent is None else "subordinate"
            session.add(
                CatalogEntry(
                    entity="institution",
                    code=code,
                    version=1,
                    change_id=change_id,
                    data={"parent": parent, "kind": kind},
                    synced_at=datetime.now(UTC),
                )
            )


def _resorts(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        return institution_resorts(session)


def test_a_changed_registry_gives_a_new_map(engine: Engine) -> None:
    _write(engine, 1, FM=None, VID="FM", IeM=None)
    assert _resorts(engine) == {"FM": "FM", "VID": "FM", "IeM": "IeM"}
    assert _resorts(engine) == {"FM": "FM", "VID": "FM", "IeM": "IeM"}  # from the cache
    _write(engine, 2, FM=None, VID="IeM", IeM=None)  # VID moved to another resort
    assert _resorts(engine) == {"FM": "FM", "VID": "IeM", "IeM": "IeM"}
    _write(engine, 3, FM=None)
    assert _resorts(engine) == {"FM": "FM"}
    _resorts(engine).clear()  # a caller changing its copy changes nothing cached
    assert _resorts(engine) == {"FM": "FM"}
