"""One OpenAPI document for the whole system, merged from the services' own documents."""

from __future__ import annotations

import copy
import time
from collections.abc import Sequence
from typing import Any

import httpx

from gateway.upstreams import Upstream

TOKEN_URL = "/auth/token"  # noqa: S105 - a path, not a secret
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                for section_prefix, names in (("#/components/schemas/", renames),):
                    if value.startswith(section_prefix):
                        name = value[len(section_prefix) :]
                        value = section_prefix + names.get(name, name)
            out[key] = _rename_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rename_refs(item, renames) for item in node]
    return node


def _same_schema(a: dict[str, Any], b: dict[str, Any]) -> bool:
    strip = {"title", "description"}
    return {k: v for k, v in a.items() if k not in strip} == {
        k: v for k, v in b.items() if k not in strip
    }


def _passthrough_for(path: str, upstream: Upstream, passthrough: Sequence[Upstream]) -> Upstream:
    """The upstream under whose public prefix a service path is served: a kept-prefix one
    (/xapi, reached as is) when the path is its, else the service's own prefix."""
    for other in passthrough:
        if other.base_url == upstream.base_url and (
            path == other.prefix or path.startswith(other.prefix + "/")
        ):
            return other
    return upstream


def merge_documents(
    base: dict[str, Any],
    services: list[tuple[Upstream, dict[str, Any] | None]],
    passthrough: Sequence[Upstream] = (),
) -> dict[str, Any]:
    """Merge service documents into the gateway's: paths under their prefix, names made unique.

    Operation ids get the service name as prefix (`catalog_list_measures`), component schemas
    the upstream's schema prefix (CatalogMeasurePublic…), so nothing collides; a schema the
    gateway's document already has with the same content (Problem, ValidationProblem, the
    kit's shared shapes) is one schema, not one per service. Paths a kept-prefix upstream
    serves (the LRS at /xapi) are listed at that prefix only. A service whose document could
    not be read is listed under x-unavailable-services.
    """
    merged = copy.deepcopy(base)
    merged.setdefault("paths", {})
    components = merged.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    shared = dict(schemas)
    unavailable = []
    for upstream, document in services:
        if document is None:
            unavailable.append(upstream.name)
            continue
        own = document.get("components", {}).get("schemas", {})
        renames = {
            name: name
            if name in shared and _same_schema(shared[name], schema)
            else f"{upstream.schema_prefix}{name}"
            for name, schema in own.items()
        }
        document = _rename_refs(document, renames)
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            if renames[name] == name and name in shared:
                continue
            schema = dict(schema)
            # Generators name classes by title: keep it as unique as the component name.
            schema["title"] = renames[name]
            schemas[renames[name]] = schema
        for kind, entries in document.get("components", {}).items():
            if kind == "schemas":
                continue
            target = components.setdefault(kind, {})
            for name, entry in entries.items():
                # One OAuth2 scheme for the whole system: the gateway's own wins.
                target.setdefault(name, entry)
        for path, item in document.get("paths", {}).items():
            served_by = _passthrough_for(path, upstream, passthrough)
            public = (
                path
                if not served_by.strip_prefix
                else served_by.prefix + ("" if path == "/" else path)
            )
            item = copy.deepcopy(item)
            for method, operation in item.items():
                if method in HTTP_METHODS and isinstance(operation, dict):
                    op_id = operation.get("operationId", f"{method}_{path}")
                    if not op_id.startswith(served_by.name + "_"):
                        op_id = f"{served_by.name}_{op_id}"
                    operation["operationId"] = op_id
                    operation["tags"] = [
                        f"{served_by.name}: {t}" for t in operation.get("tags", [])
                    ] or [served_by.name]
            merged["paths"][public] = item
    for scheme in components.get("securitySchemes", {}).values():
        flow = scheme.get("flows", {}).get("clientCredentials")
        if isinstance(flow, dict):
            flow["tokenUrl"] = TOKEN_URL
    if unavailable:
        merged["x-unavailable-services"] = unavailable
    return merged


class MergedOpenAPI:
    """Fetches the services' documents (cached for a while) and merges them."""

    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._cache: dict[str, tuple[float, dict[str, Any]]] = {}

    async def fetch(self, upstream: Upstream, client: httpx.AsyncClient) -> dict[str, Any] | None:
        """One service's document, from cache while fresh; None when it cannot be read."""
        cached = self._cache.get(upstream.name)
        if cached and time.monotonic() - cached[0] < self.ttl_s:
            return cached[1]
        try:
            response = await client.get("/openapi.json")
            response.raise_for_status()
            document: dict[str, Any] = response.json()
        except (httpx.HTTPError, ValueError):
            return cached[1] if cached else None
        self._cache[upstream.name] = (time.monotonic(), document)
        return document
