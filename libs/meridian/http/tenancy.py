"""How a service learns the caller's tenant: the gateway authenticates the bearer token and passes
the tenant id in ``X-Meridian-Tenant`` (and the internal token, when one is configured). Services
are never exposed publicly; only the gateway is."""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request

from meridian.errors import Unauthorized

TENANT_HEADER = "x-meridian-tenant"
ACTOR_HEADER = "x-meridian-actor"
INTERNAL_TOKEN_HEADER = "x-meridian-internal-token"


@dataclass(frozen=True, slots=True)
class Tenant:
    id: UUID
    actor: str = ""


def verify_internal(request: Request) -> None:
    expected = getattr(request.app.state, "internal_token", None)
    if expected:
        given = request.headers.get(INTERNAL_TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise Unauthorized("internal token missing or wrong")


async def current_tenant(request: Request) -> Tenant:
    verify_internal(request)
    raw = request.headers.get(TENANT_HEADER)
    if not raw:
        raise Unauthorized("no tenant on the request")
    try:
        return Tenant(UUID(raw), request.headers.get(ACTOR_HEADER, ""))
    except ValueError as exc:
        raise Unauthorized("tenant header is not a UUID") from exc


TenantDep = Annotated[Tenant, Depends(current_tenant)]
