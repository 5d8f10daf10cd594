"""``/api/v1/api-keys``: issue (shown once), list (no secrets), revoke."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from meridian.http.pagination import clamp_limit, decode_cursor, page
from meridian.service import ServiceDep

from meridian_gateway.api.deps import GatewayDep, PrincipalDep
from meridian_gateway.api.schemas import ApiKeyCreate, ApiKeyCreated, ApiKeyList, ApiKeyRead
from meridian_gateway.commands import CreateApiKey, RevokeApiKey
from meridian_gateway.domain.model import ApiKey
from meridian_gateway.handlers import create_api_key, revoke_api_key

router = APIRouter(tags=["api-keys"])


def _read(key: ApiKey) -> ApiKeyRead:
    return ApiKeyRead(id=key.id, name=key.name, role=key.role, prefix=key.prefix, created_at=key.created_at,
                      revoked_at=key.revoked_at)


@router.post("/api-keys", status_code=201, response_model=ApiKeyCreated, summary="Issue an API key (shown once)")
async def post_api_key(body: ApiKeyCreate, request: Request, principal: PrincipalDep, gw: GatewayDep,
                       svc: ServiceDep) -> JSONResponse:
    async def call() -> JSONResponse:
        issued = await svc.execute(create_api_key, CreateApiKey(tenant_id=principal.tenant_id, name=body.name,
                                                                actor_id=str(principal.key_id)))
        out = ApiKeyCreated(**_read(issued.key).model_dump(), api_key=issued.secret)
        return JSONResponse(jsonable_encoder(out), status_code=201)

    return await gw.idempotency.run(request, principal.tenant_id, await request.body(), call)


@router.get("/api-keys", response_model=ApiKeyList, summary="List the tenant's API keys (no secrets)")
async def list_api_keys(principal: PrincipalDep, svc: ServiceDep, cursor: str | None = None,
                        limit: int | None = Query(None)) -> ApiKeyList:
    n = clamp_limit(limit)
    after = decode_cursor(cursor)

    async def query(uow):  # noqa: ANN001, ANN202
        return await uow.api_keys.list(principal.tenant_id, after=after, limit=n + 1)

    keys = await svc.read(query)
    result = page(keys, n, key=lambda k: (k.created_at, k.id))
    return ApiKeyList(items=[_read(k) for k in result["items"]], next_cursor=result["next_cursor"])


@router.delete("/api-keys/{key_id}", status_code=204, summary="Revoke an API key")
async def delete_api_key(key_id: UUID, principal: PrincipalDep, gw: GatewayDep, svc: ServiceDep) -> Response:
    key_hash = await svc.execute(revoke_api_key, RevokeApiKey(tenant_id=principal.tenant_id, key_id=key_id,
                                                              actor_id=str(principal.key_id)))
    gw.auth.forget(key_hash)
    return Response(status_code=204)
