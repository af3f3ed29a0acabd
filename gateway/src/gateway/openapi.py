"""One OpenAPI document for the whole system, merged from the services' own documents."""

from __future__ import annotations

import copy
import time
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


def merge_documents(
    base: dict[str, Any], services: list[tuple[Upstream, dict[str, Any] | None]]
) -> dict[str, Any]:
    """Merge service documents into the gateway's: paths under their prefix, names made unique.

    Operation ids get the service name as prefix, component schemas the upstream's schema
    prefix (CatalogProblem, RecordsProblem…), so nothing collides. A service whose document
    could not be read is listed under x-unavailable-services.
    """
    merged = copy.deepcopy(base)
    merged.setdefault("paths", {})
    components = merged.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    unavailable = []
    for upstream, document in services:
        if document is None:
            unavailable.append(upstream.name)
            continue
        renames = {
            name: f"{upstream.schema_prefix}{name}"
            for name in document.get("components", {}).get("schemas", {})
        }
        document = _rename_refs(document, renames)
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            schema = dict(schema)
            # Generators name classes by title: keep it as unique as the component name.
            schema["title"] = f"{upstream.schema_prefix}{name}"
            schemas[f"{upstream.schema_prefix}{name}"] = schema
        for kind, entries in document.get("components", {}).items():
            if kind == "schemas":
                continue
            target = components.setdefault(kind, {})
            for name, entry in entries.items():
                # One OAuth2 scheme for the whole system: the gateway's own wins.
                target.setdefault(name, entry)
        for path, item in document.get("paths", {}).items():
            public = upstream.prefix + ("" if path == "/" else path)
            item = copy.deepcopy(item)
            for method, operation in item.items():
                if method in HTTP_METHODS and isinstance(operation, dict):
                    op_id = operation.get("operationId", f"{method}_{path}")
                    operation["operationId"] = f"{upstream.name}_{op_id}"
                    operation["tags"] = [f"{upstream.name}: {t}" for t in operation.get("tags", [])]
                    if not operation["tags"]:
                        operation["tags"] = [upstream.name]
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
