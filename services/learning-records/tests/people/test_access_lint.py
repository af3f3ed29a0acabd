"""A lint as a test: every query over personal-data tables goes through the scoping helper.

Walks the service's source (polar's org-scope lint is the model): a function that builds a
`select(...)`, `update(...)` or `delete(...)` naming a personal-data table must also call one of
the helpers of learning_records.people.access, unless its module or the function is listed
below with the reason it is exempt. A new read that forgets the institution rule fails here.
(Raw SQL text is not parsed: the service keeps it to the write path's find-or-create.)
"""

from __future__ import annotations

import ast
from pathlib import Path

import learning_records

PACKAGE = Path(learning_records.__file__).resolve().parent

#: Tables holding personal data (or institution-owned records).
PERSONAL_TABLES = {
    "Person",
    "PersonLink",
    "Employment",
    "RoleAssignment",
    "Headcount",
    "Enrolment",
    "EnrolmentStatusChange",
    "AppliedLearningEvent",
    "TestAttempt",
    "Certificate",
    "Feedback",
    "CompetencyAssessment",
}
HELPERS = {"person_visible", "record_visible", "role_visible", "institution_visible"}
QUERY_BUILDERS = {"select", "update", "delete", "exists"}

#: Modules outside this rule, and why.
EXEMPT_MODULES = {
    "xapi": "the LRS is partitioned by its own rule (docs/xapi.md)",
    "ingest/service.py": "the write path: prepare() and apply() check each item's institution "
    "and refuse another institution's source ids (tests/ingest, tests/people/test_isolation)",
    "privacy/service.py": "erasure and retention: only an unrestricted records:erase client "
    "reaches them (privacy/router.py data_protection_officer)",
    "enrolments/service.py": "learning events: applied by the xAPI mapping with the writer's "
    "principal",
    "enrolments/batch.py": "learning events applied as one set-based write: the same rule as "
    "enrolments/service.py (a restricted writer's events move only enrolments it sees)",
    "importer": "the operator's command-line import (unrestricted by nature)",
    "bulk.py": "generic INSERT helpers, no reads",
    "people/access.py": "the helpers themselves",
    "enrolments/history.py": "status steps of enrolments the caller has already chosen: "
    "scoped by _rows() (person history), erasure and retention, or the write paths above",
}
#: Functions outside this rule, and why.
EXEMPT_FUNCTIONS = {
    ("people/service.py", "person_ids_by_pseudonym"): "turns pseudonyms the caller already "
    "holds into ids for a write; returns no record",
    ("aggregations/service.py", "members"): "joins people to the scoped `matching` subquery",
    ("hr/service.py", "record_withdrawals"): "part of erasure: only an unrestricted "
    "records:erase client reaches it (privacy/router.py data_protection_officer)",
}


def _calls(node: ast.AST) -> set[str]:
    names = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Call):
            func = child.func
            if isinstance(func, ast.Name):
                names.add(func.id)
            elif isinstance(func, ast.Attribute):
                names.add(func.attr)
    return names


def _tables_in_queries(node: ast.AST) -> set[str]:
    tables = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Call) and _name(child.func) in QUERY_BUILDERS:
            for inner in ast.walk(child):
                if isinstance(inner, ast.Name) and inner.id in PERSONAL_TABLES:
                    tables.add(inner.id)
    return tables


def _name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _unscoped_queries() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if any(relative == m or relative.startswith(m + "/") for m in EXEMPT_MODULES):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            if (relative, node.name) in EXEMPT_FUNCTIONS:
                continue
            tables = _tables_in_queries(node)
            if tables and not _calls(node) & HELPERS:
                found.append(f"{relative}:{node.lineno} {node.name}() queries {sorted(tables)}")
    return found


def test_every_personal_data_query_is_scoped_by_institution() -> None:
    assert _unscoped_queries() == []


def test_the_lint_finds_an_unscoped_query(tmp_path: Path) -> None:
    """The lint itself works: a query without the helper is found, one with it is not."""
    bad = ast.parse("def leak(s):\n    return s.execute(select(Enrolment)).all()\n")
    good = ast.parse(
        "def fine(s, p):\n"
        "    return s.execute(select(Enrolment).where(record_visible(p, Enrolment))).all()\n"
    )
    bad_function, good_function = bad.body[0], good.body[0]
    assert _tables_in_queries(bad_function) == {"Enrolment"}
    assert not _calls(bad_function) & HELPERS
    assert _calls(good_function) & HELPERS


def test_exemptions_name_real_code() -> None:
    """A stale exemption (module or function gone) is removed rather than kept silently."""
    for module in EXEMPT_MODULES:
        assert (PACKAGE / module).exists(), module
    for module, function in EXEMPT_FUNCTIONS:
        source = (PACKAGE / module).read_text(encoding="utf-8")
        assert f"def {function}(" in source, (module, function)
