"""IMS CASE 1.0 packages: export a framework (CFDocument, CFItems, CFAssociations isChildOf,
CFRubrics for proficiency levels) and read one back into a framework."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from catalog.common.i18n import LocalizedText
from catalog.frameworks.models import (
    Competency,
    FrameworkCreate,
    ProficiencyLevel,
    walk,
)
from pilnveide_kit.errors import UnprocessableContent, validation_errors

#: Identifiers are UUIDs derived from codes, so repeated exports of a framework agree.
NAMESPACE = uuid.UUID("6f1c2a7e-8d9b-5c4f-a2e1-3b7d9f0c4e25")


class CaseNotValid(UnprocessableContent):
    """The CASE package cannot be read as a framework."""

    slug = "validation-error"


def _id(*parts: str) -> str:
    return str(uuid.uuid5(NAMESPACE, "/".join(parts)))


def _pick(text: LocalizedText | None, language: str) -> str | None:
    if text is None:
        return None
    other = "en" if language == "lv" else "lv"
    return getattr(text, language) or getattr(text, other)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def export_case(
    framework: FrameworkCreate, *, base_uri: str, language: str, changed_at: datetime
) -> dict[str, Any]:
    """The CASE 1.0 package (CFPackage) of a framework, texts in one language."""
    code = framework.code
    when = _stamp(changed_at)
    doc_id = _id("framework", code)
    doc_uri = f"{base_uri}/{code}/case#document"
    doc_link = {"title": _pick(framework.title, language), "identifier": doc_id, "uri": doc_uri}

    def item_link(c: Competency) -> dict[str, Any]:
        ident = _id("framework", code, "item", c.code)
        return {
            "title": _pick(c.title, language),
            "identifier": ident,
            "uri": f"{base_uri}/{code}/case#item-{c.code}",
        }

    document = {
        "identifier": doc_id,
        "uri": doc_uri,
        "creator": framework.publisher or "Pilnveide catalog",
        "title": _pick(framework.title, language),
        "lastChangeDateTime": when,
        "description": _pick(framework.description, language),
        "publisher": framework.publisher,
        "officialSourceURL": framework.source_url,
        "language": language,
        "version": framework.version_label,
        "adoptionStatus": "Adopted",
        "CFPackageURI": {**doc_link, "uri": f"{base_uri}/{code}/case"},
    }
    items: list[dict[str, Any]] = []
    associations: list[dict[str, Any]] = []

    def visit(nodes: list[Competency], parent: dict[str, Any]) -> None:
        for position, node in enumerate(nodes, start=1):
            link = item_link(node)
            items.append(
                {
                    "identifier": link["identifier"],
                    "uri": link["uri"],
                    "CFDocumentURI": doc_link,
                    "fullStatement": _pick(node.title, language),
                    "humanCodingScheme": node.code,
                    "CFItemType": node.kind,
                    "notes": _pick(node.description, language),
                    "language": language,
                    "lastChangeDateTime": when,
                }
            )
            associations.append(
                {
                    "identifier": _id("framework", code, "association", node.code),
                    "uri": f"{base_uri}/{code}/case#association-{node.code}",
                    "associationType": "isChildOf",
                    "sequenceNumber": position,
                    "originNodeURI": link,
                    "destinationNodeURI": parent,
                    "CFDocumentURI": doc_link,
                    "lastChangeDateTime": when,
                }
            )
            visit(node.children, link)

    visit(framework.competencies, doc_link)
    rubric_id = _id("framework", code, "rubric")
    criteria = []
    leaves = [c for c in walk(framework.competencies) if not c.children]
    for position, leaf in enumerate(leaves, start=1):
        criterion_id = _id("framework", code, "criterion", leaf.code)
        criteria.append(
            {
                "identifier": criterion_id,
                "uri": f"{base_uri}/{code}/case#criterion-{leaf.code}",
                "category": "proficiency",
                "description": _pick(leaf.title, language),
                "CFItemURI": item_link(leaf),
                "weight": 1,
                "position": position,
                "rubricId": rubric_id,
                "lastChangeDateTime": when,
                "CFRubricCriterionLevels": [
                    {
                        "identifier": _id("framework", code, "level", leaf.code, str(level.level)),
                        "uri": f"{base_uri}/{code}/case#level-{leaf.code}-{level.level}",
                        "description": _pick(level.description, language),
                        "quality": _pick(level.title, language),
                        "score": level.level,
                        "feedback": None,
                        "position": index,
                        "rubricCriterionId": criterion_id,
                        "lastChangeDateTime": when,
                    }
                    for index, level in enumerate(framework.levels, start=1)
                ],
            }
        )
    rubric = {
        "identifier": rubric_id,
        "uri": f"{base_uri}/{code}/case#rubric",
        "title": "Proficiency levels" if language == "en" else "Pilnveides līmeņi",
        "description": None,
        "lastChangeDateTime": when,
        "CFRubricCriteria": criteria,
    }
    return {
        "CFDocument": document,
        "CFItems": items,
        "CFAssociations": associations,
        "CFRubrics": [rubric],
    }


def _fail(name: str, reason: str) -> CaseNotValid:
    return CaseNotValid(
        f"The CASE package is not valid: {name}",
        errors=[{"name": name, "reason": reason, "location": "body"}],
    )


def _text(value: Any, language: str) -> LocalizedText | None:
    if not isinstance(value, str) or not value.strip():
        return None
    return LocalizedText(**{language: value})


def import_case(package: dict[str, Any], *, code: str) -> FrameworkCreate:
    """A framework from a CASE 1.0 package; 422 naming the member that cannot be read."""
    document = package.get("CFDocument")
    if not isinstance(document, dict):
        raise _fail("CFDocument", "a CASE package needs its CFDocument object")
    language = "lv" if str(document.get("language") or "").lower().startswith("lv") else "en"
    title = _text(document.get("title"), language)
    if title is None:
        raise _fail("CFDocument.title", "the document needs a title")
    raw_items = package.get("CFItems") or []
    if not isinstance(raw_items, list):
        raise _fail("CFItems", "must be a list")
    nodes: dict[str, dict[str, Any]] = {}
    for index, item in enumerate(raw_items):
        if not isinstance(item, dict) or not isinstance(item.get("identifier"), str):
            raise _fail(f"CFItems.{index}.identifier", "every item needs an identifier")
        statement = _text(item.get("fullStatement"), language)
        if statement is None:
            raise _fail(f"CFItems.{index}.fullStatement", "every item needs a full statement")
        item_code = item.get("humanCodingScheme") or item["identifier"]
        nodes[item["identifier"]] = {
            "code": str(item_code),
            "kind": str(item.get("CFItemType") or "competence"),
            "title": statement,
            "description": _text(item.get("notes"), language),
            "children": [],
            "_seq": index,
        }
    parent_of: dict[str, tuple[Any, int]] = {}
    for index, assoc in enumerate(package.get("CFAssociations") or []):
        if not isinstance(assoc, dict) or assoc.get("associationType") != "isChildOf":
            continue
        origin = (assoc.get("originNodeURI") or {}).get("identifier")
        target = (assoc.get("destinationNodeURI") or {}).get("identifier")
        if origin not in nodes:
            raise _fail(f"CFAssociations.{index}.originNodeURI", "names no item of the package")
        sequence = assoc.get("sequenceNumber")
        parent_of[origin] = (
            target,
            sequence if isinstance(sequence, int) else nodes[origin]["_seq"],
        )
    roots: list[tuple[int, dict[str, Any]]] = []
    for ident, node in nodes.items():
        parent, sequence = parent_of.get(ident, (None, node["_seq"]))
        node["_seq"] = sequence
        if parent in nodes:
            nodes[parent]["children"].append(node)
        else:
            roots.append((sequence, node))

    def build(node: dict[str, Any], depth: int = 0) -> dict[str, Any]:
        if depth > 20:
            raise _fail("CFAssociations", "the isChildOf tree is too deep or has a cycle")
        children = sorted(node["children"], key=lambda n: n["_seq"])
        return {
            "code": node["code"],
            "kind": node["kind"],
            "title": node["title"],
            "description": node["description"],
            "children": [build(c, depth + 1) for c in children],
        }

    competencies = [build(n) for _s, n in sorted(roots, key=lambda r: r[0])]
    levels: dict[int, ProficiencyLevel] = {}
    for r_index, rubric in enumerate(package.get("CFRubrics") or []):
        for c_index, criterion in enumerate((rubric or {}).get("CFRubricCriteria") or []):
            for l_index, level in enumerate((criterion or {}).get("CFRubricCriterionLevels") or []):
                score = level.get("score")
                if not isinstance(score, int | float) or int(score) != score:
                    raise _fail(
                        f"CFRubrics.{r_index}.CFRubricCriteria.{c_index}."
                        f"CFRubricCriterionLevels.{l_index}.score",
                        "a proficiency level needs a whole-number score",
                    )
                quality = _text(level.get("quality"), language) or LocalizedText(
                    **{language: str(int(score))}
                )
                levels.setdefault(
                    int(score),
                    ProficiencyLevel(
                        level=int(score),
                        title=quality,
                        description=_text(level.get("description"), language),
                    ),
                )
    if not levels:
        raise _fail("CFRubrics", "the package has no proficiency levels (CFRubricCriterionLevels)")
    try:
        return FrameworkCreate(
            code=code,
            title=title,
            description=_text(document.get("description"), language),
            publisher=document.get("publisher") or None,
            version_label=document.get("version") or None,
            source_url=document.get("officialSourceURL") or None,
            levels=sorted(levels.values(), key=lambda lv: lv.level),
            competencies=[Competency.model_validate(c) for c in competencies],
            requirements=[],
        )
    except ValidationError as exc:
        errors = validation_errors(exc.errors())
        raise CaseNotValid(
            "The CASE package is not valid: " + ", ".join(e["name"] for e in errors[:5]),
            errors=errors,
        ) from exc
