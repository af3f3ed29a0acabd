"""`catalog load`: load every reviewed seed file; unchanged files are skipped, changed ones
become a new version."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from catalog.changes.models import ChangeRecord
from catalog.changes.service import record_change
from catalog.frameworks import service as frameworks
from catalog.frameworks.models import Framework, FrameworkCreate
from catalog.institutions import service as institutions
from catalog.institutions.models import InstitutionCreate
from catalog.loader.models import SeedFile
from catalog.loader.plans import load_national_plan, load_strategy
from catalog.loader.schema import (
    InstitutionRegistrySeed,
    NationalPlanSeed,
    ReferenceSeed,
    StrategySeed,
)
from catalog.mandatory import service as mandatory
from catalog.mandatory.models import MandatoryLearning, MandatoryLearningCreate
from catalog.programmes import service as offerings
from catalog.programmes.models import Course, CourseCreate, Programme, ProgrammeCreate
from catalog.reference import service as reference
from catalog.reference.models import ReferenceItem, ReferenceList
from pilnveide_kit.db import session_scope

log = logging.getLogger("catalog.loader")

SEED_DIR = Path(__file__).resolve().parents[1] / "seed"
LOADER_CLIENT = "catalog-loader"

#: Loading order: reference lists, the institution registry, the plans (the national plan
#: brings the institutions it names), offers.
ORDER = {
    "reference_lists": 0,
    "institution_registry": 1,
    "national_plan": 2,
    "institution_strategy": 3,
    "learning_offer": 4,
    "competency_framework": 5,
    "mandatory_learning": 6,
}


@dataclass
class FileResult:
    """What loading one file did."""

    name: str
    kind: str
    status: str  # created | updated | unchanged
    version: int


def _sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _seed_file(session: Session, name: str, sha256: str) -> tuple[SeedFile | None, int]:
    """The seed-file record when this exact file was loaded already, else the next version."""
    row = session.exec(select(SeedFile).where(SeedFile.name == name)).first()
    if row is not None and row.sha256 == sha256:
        return row, row.version
    return None, 1 if row is None else row.version + 1


def _remember(session: Session, name: str, sha256: str, version: int) -> None:
    row = session.exec(select(SeedFile).where(SeedFile.name == name)).first()
    if row is None:
        row = SeedFile(name=name, sha256=sha256, version=version)
    row.sha256, row.version = sha256, version
    session.add(row)
    session.flush()


def _load_reference(session: Session, seed: ReferenceSeed) -> None:
    for reference_list in seed.lists:
        row = session.exec(
            select(ReferenceList).where(ReferenceList.code == reference_list.code)
        ).first() or ReferenceList(code=reference_list.code, title_lv="")
        row.title_lv = reference_list.title.lv or ""
        row.title_en = reference_list.title.en
        session.add(row)
        existing = {
            i.code: i
            for i in session.exec(
                select(ReferenceItem).where(ReferenceItem.list_code == reference_list.code)
            )
        }
        for position, item in enumerate(reference_list.items):
            entry = existing.pop(item.code, None) or ReferenceItem(
                list_code=reference_list.code, code=item.code, name_lv=""
            )
            entry.name_lv = item.name.lv or ""
            entry.name_en = item.name.en
            entry.position = position
            entry.attributes = dict(item.attributes)
            session.add(entry)
        for gone in existing.values():
            session.delete(gone)
        session.flush()
        _record_reference_list(session, reference_list.code)


def _record_reference_list(session: Session, code: str) -> None:
    """A change entry when a list differs from its last recorded state (copies follow them)."""
    snapshot = reference.get_list(session, code).model_dump(mode="json")
    last = session.exec(
        select(ChangeRecord)
        .where(ChangeRecord.entity == "reference_list", ChangeRecord.entity_code == code)
        .order_by(col(ChangeRecord.version).desc())
    ).first()
    if last is not None and last.snapshot == snapshot:
        return
    record_change(
        session,
        entity="reference_list",
        code=code,
        version=1 if last is None else last.version + 1,
        operation="create" if last is None else "update",
        client_id=LOADER_CLIENT,
        snapshot=snapshot,
    )


def _load_registry(session: Session, seed: InstitutionRegistrySeed) -> None:
    """Create or update the registry's institutions by code (an unchanged one stays as it is)."""
    institutions.upsert_many(
        session,
        [
            InstitutionCreate(
                code=i.code, name=i.name, kind=i.kind, sector=i.sector, parent=i.parent
            )
            for i in seed.institutions
        ],
        LOADER_CLIENT,
    )


def _load_offer(session: Session, data: dict[str, Any]) -> None:
    for raw in data.get("programmes", []):
        _upsert_offering(session, Programme, ProgrammeCreate.model_validate(raw))
    for raw in data.get("courses", []):
        _upsert_offering(session, Course, CourseCreate.model_validate(raw))


def _upsert_offering(
    session: Session, model: type[Programme] | type[Course], body: ProgrammeCreate | CourseCreate
) -> None:
    row: Programme | Course | None
    if model is Programme:
        row = session.exec(select(Programme).where(Programme.code == body.code)).first()
        if row is None:
            offerings.create(session, Programme, body, LOADER_CLIENT, check_links=False)
            return
    else:
        row = session.exec(select(Course).where(Course.code == body.code)).first()
        if row is None:
            offerings.create(session, Course, body, LOADER_CLIENT, check_links=False)
            return
    if row.archived_at is None and offerings._apply(row, body):
        row.version += 1
        session.add(row)
        session.flush()
        offerings._sync_tags(session, row)
        offerings._record(session, row, "update", LOADER_CLIENT)


def _load_framework(session: Session, body: FrameworkCreate) -> None:
    row = session.exec(select(Framework).where(Framework.code == body.code)).first()
    if row is None:
        frameworks.create(session, body, LOADER_CLIENT)
        return
    if row.archived_at is None and frameworks._apply(row, body):
        row.version += 1
        session.add(row)
        session.flush()
        record_change(
            session,
            entity=frameworks.ENTITY,
            code=row.code,
            version=row.version,
            operation="update",
            client_id=LOADER_CLIENT,
            snapshot=frameworks.to_public(row).model_dump(mode="json"),
        )


def _load_mandatory(session: Session, data: dict[str, Any]) -> None:
    for raw in data.get("rules", []):
        body = MandatoryLearningCreate.model_validate(raw)
        row = session.exec(
            select(MandatoryLearning).where(MandatoryLearning.code == body.code)
        ).first()
        if row is None:
            mandatory.create(session, body, LOADER_CLIENT)
        elif row.archived_at is None:
            mandatory.update(session, row, body, LOADER_CLIENT)


def load_file(session: Session, path: Path) -> FileResult:
    """Load one seed file in the caller's transaction."""
    raw = path.read_bytes()
    sha256 = _sha256(raw)
    data = json.loads(raw)
    kind = str(data.get("kind", ""))
    if kind == "national_plan":
        plan, changed = load_national_plan(
            session, NationalPlanSeed.model_validate(data), sha256, path.name, LOADER_CLIENT
        )
        return FileResult(path.name, kind, _status(changed, plan.version), plan.version)
    if kind == "institution_strategy":
        plan, changed = load_strategy(session, StrategySeed.model_validate(data), sha256, path.name)
        return FileResult(path.name, kind, _status(changed, plan.version), plan.version)
    seen, version = _seed_file(session, path.name, sha256)
    if seen is not None:
        return FileResult(path.name, kind, "unchanged", version)
    if kind == "reference_lists":
        _load_reference(session, ReferenceSeed.model_validate(data))
    elif kind == "institution_registry":
        _load_registry(session, InstitutionRegistrySeed.model_validate(data))
    elif kind == "learning_offer":
        _load_offer(session, data)
    elif kind == "competency_framework":
        _load_framework(session, FrameworkCreate.model_validate(data["framework"]))
    elif kind == "mandatory_learning":
        _load_mandatory(session, data)
    else:
        raise ValueError(f"{path.name}: unknown seed kind {kind!r}")
    _remember(session, path.name, sha256, version)
    return FileResult(path.name, kind, "created" if version == 1 else "updated", version)


def _status(changed: bool, version: int) -> str:
    if not changed:
        return "unchanged"
    return "created" if version == 1 else "updated"


def seed_files(seed_dir: Path) -> list[Path]:
    """The seed files of a folder in loading order."""
    files = []
    for path in sorted(seed_dir.glob("*.json")):
        kind = str(json.loads(path.read_bytes()).get("kind", ""))
        files.append((ORDER.get(kind, 99), path.name, path))
    return [p for _o, _n, p in sorted(files)]


def load_all(engine: Engine, seed_dir: Path = SEED_DIR) -> list[FileResult]:
    """Load every seed file of a folder, all in one transaction."""
    results = []
    with session_scope(engine) as session:
        for path in seed_files(seed_dir):
            result = load_file(session, path)
            log.info("seed %s: %s (version %s)", result.name, result.status, result.version)
            results.append(result)
    return results
