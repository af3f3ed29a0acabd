"""The records↔indicators contract is one artefact: learning-records serves it, the indicators
service and its in-memory double speak it, all with the very models of `pilnveide_contracts`.

If either side grew its own copy again, these fail: the OpenAPI learning-records publishes is
the contract models' JSON schema, and every endpoint and source uses the same classes.
"""

from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path
from typing import Any, get_type_hints

import pytest
from pydantic import BaseModel

import pilnveide_contracts
from indicators.sources import http as indicators_http
from indicators.sources import memory as indicators_memory
from indicators.sources.protocols import RecordsSource
from learning_records.main import create_app as create_records
from learning_records.settings import LearningRecordsSettings
from pilnveide_contracts import records as contract
from pilnveide_kit.testing import TokenFactory

#: Each endpoint of the contract: (method, path) -> (request model, response model).
ENDPOINTS: dict[tuple[str, str], tuple[type[BaseModel] | None, type[BaseModel]]] = {
    ("post", "/v1/aggregations/query"): (contract.AggregationQuery, contract.AggregationResult),
    ("post", "/v1/aggregations/members"): (contract.AggregationQuery, contract.MembersResult),
    ("post", "/v1/aggregations/headcounts"): (contract.HeadcountQuery, contract.HeadcountResult),
    ("post", "/v1/aggregations/batch"): (contract.BatchQuery, contract.BatchResult),
    ("get", "/v1/changes"): (None, contract.ChangesPage),
    ("get", "/v1/changes/head"): (None, contract.FeedHead),
}


@pytest.fixture(scope="module")
def openapi(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("contract")
    tokens = TokenFactory()
    settings = LearningRecordsSettings(
        database_url=f"sqlite:///{folder / 'records.db'}",
        environment="test",
        migrate_on_start=False,
        auth_jwks_json=tokens.jwks_json,
        auth_jwks_file=None,
    )
    document: dict[str, Any] = create_records(settings).openapi()
    return document


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema with every `$ref` replaced by what it points to (in the OpenAPI document)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return _resolve(document, document["components"]["schemas"][name])
    found: dict[str, Any] = {}
    for key, value in schema.items():
        if isinstance(value, dict):
            found[key] = _resolve(document, value)
        elif isinstance(value, list):
            found[key] = [_resolve(document, v) if isinstance(v, dict) else v for v in value]
        else:
            found[key] = value
    return found


def _model_schema(model: type[BaseModel], mode: str) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/$defs/{model}", mode=mode)  # type: ignore[arg-type]
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
            # The published document leaves out `"default": null` (absent means null).
            return {k: inline(v) for k, v in node.items() if not (k == "default" and v is None)}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    resolved: dict[str, Any] = inline(schema)
    return resolved


@pytest.mark.parametrize(("method", "path"), list(ENDPOINTS))
def test_records_publishes_the_contract_models_schemas(
    openapi: dict[str, Any], method: str, path: str
) -> None:
    request, response = ENDPOINTS[(method, path)]
    operation = openapi["paths"][path][method]
    if request is not None:
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        assert _resolve(openapi, body) == _model_schema(request, "validation")
    answered = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert _resolve(openapi, answered) == _model_schema(response, "serialization")


def test_records_routes_take_and_answer_the_contract_classes() -> None:
    from learning_records.aggregations import router as aggregations
    from learning_records.changes import router as changes

    routes = {
        (method.lower(), route.path): route
        for module in (aggregations, changes)
        for route in module.router.routes
        for method in getattr(route, "methods", ())
    }
    for key, (request, response) in ENDPOINTS.items():
        route = routes[key]
        assert route.response_model is response, key
        if request is not None:
            hints = get_type_hints(route.endpoint)
            assert request in hints.values(), key


def test_the_indicators_sources_and_the_double_speak_the_same_classes() -> None:
    for name in ("aggregate", "headcounts", "members"):
        wanted = get_type_hints(getattr(RecordsSource, name))
        for source in (indicators_http.HttpRecordsSource, indicators_memory.MemoryRecords):
            hints = get_type_hints(getattr(source, name))
            assert hints == wanted, (source.__name__, name)
    assert get_type_hints(RecordsSource.aggregate)["query"] is contract.AggregationQuery
    assert get_type_hints(RecordsSource.headcounts)["return"] is contract.HeadcountResult


def test_the_contract_package_imports_only_pydantic_and_the_standard_library() -> None:
    allowed = {"pydantic", "pilnveide_contracts", "__future__"} | set(sys.stdlib_module_names)
    folder = Path(inspect.getfile(pilnveide_contracts)).parent
    for source in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                assert name.split(".")[0] in allowed, f"{source.name} imports {name}"


def test_frequency_means_at_least_one_a_year_unless_bounded() -> None:
    """1.2.1 "1-2 mācības gadā": a person with no matching enrolment is never counted."""
    assert contract.Frequency().min_per_year == 1
    query = contract.AggregationQuery(metric="people_with_frequency")
    assert query.frequency == contract.Frequency(min_per_year=1, max_per_year=None)
