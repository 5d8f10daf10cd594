"""One OpenAPI document for the whole public API: the gateway's own paths plus each owner's ``/api/v1``
and ``/webhooks`` paths (fetched through the forwarder, cached per owner after the first success).
Component schemas are merged; a name two services define differently gets the later service's prefix."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
from collections.abc import Mapping
from typing import Any

from meridian_gateway.domain.errors import OwnerUnavailable
from meridian_gateway.forwarding import Forwarder

log = logging.getLogger("meridian.gateway.openapi")

PUBLIC_PREFIXES = ("/api/v1/", "/webhooks/")
REF_PREFIX = "#/components/schemas/"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
SECURITY_SCHEMES = {
    "bearerAuth": {"type": "http", "scheme": "bearer", "description": "A tenant API key (mrd_…)."},
    "operatorToken": {"type": "http", "scheme": "bearer", "description": "The platform operator token."},
}


def _public(path: str) -> bool:
    return path.startswith(PUBLIC_PREFIXES) or path in ("/api/v1", "/webhooks")


def _rename_refs(node: Any, renames: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith(REF_PREFIX) and v[len(REF_PREFIX):] in renames:
                out[k] = REF_PREFIX + renames[v[len(REF_PREFIX):]]
            else:
                out[k] = _rename_refs(v, renames)
        return out
    if isinstance(node, list):
        return [_rename_refs(v, renames) for v in node]
    return node


def _prefix(service: str) -> str:
    return service.replace("-", "_")


def merge(gateway: dict[str, Any], owners: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    doc = copy.deepcopy(gateway)
    paths: dict[str, Any] = doc.setdefault("paths", {})
    components = doc.setdefault("components", {})
    schemas: dict[str, Any] = components.setdefault("schemas", {})
    operation_ids = {op.get("operationId") for item in paths.values() for m, op in item.items()
                     if m in METHODS and isinstance(op, dict)}
    for service in sorted(owners):
        owner = owners[service]
        owner_schemas = (owner.get("components") or {}).get("schemas") or {}
        renames = {name: f"{_prefix(service)}_{name}" for name, schema in owner_schemas.items()
                   if name in schemas and schemas[name] != schema}
        for name, schema in owner_schemas.items():
            schemas[renames.get(name, name)] = _rename_refs(schema, renames)
        for path, item in (owner.get("paths") or {}).items():
            if not _public(path):
                continue
            item = _rename_refs(item, renames)
            for method, op in item.items():
                if method not in METHODS or not isinstance(op, dict):
                    continue
                op_id = op.get("operationId")
                if op_id is not None:
                    if op_id in operation_ids:
                        op["operationId"] = f"{_prefix(service)}_{op_id}"
                    operation_ids.add(op["operationId"])
                if path.startswith("/webhooks"):
                    op["security"] = []  # verified by the channel signature, not a bearer key
            paths.setdefault(path, {}).update(item)
    components["securitySchemes"] = {**components.get("securitySchemes", {}), **SECURITY_SCHEMES}
    doc["security"] = [{"bearerAuth": []}]
    return doc


class OpenApiMerger:
    def __init__(self, app_openapi, forwarder: Forwarder, services: list[str], *,  # noqa: ANN001
                 timeout: float) -> None:
        self._app_openapi = app_openapi
        self._forwarder = forwarder
        self._services = services
        self._timeout = timeout
        self._owners: dict[str, dict[str, Any]] = {}
        self._merged: bytes | None = None

    async def _fetch(self, service: str) -> None:
        try:
            status, _, body = await self._forwarder.exchange(service, "GET", "/openapi.json", [], b"",
                                                             time_limit=self._timeout)
            if status == 200:
                self._owners[service] = json.loads(body)
        except (OwnerUnavailable, ValueError) as exc:
            log.info("owner OpenAPI not available", extra={"service": service, "error": repr(exc)})

    async def document(self) -> bytes:
        if self._merged is not None:
            return self._merged
        missing = [s for s in self._services if s not in self._owners]
        await asyncio.gather(*(self._fetch(s) for s in missing))
        body = json.dumps(merge(self._app_openapi(), self._owners)).encode()
        if all(s in self._owners for s in self._services):
            self._merged = body  # complete: cache for good
        return body
