"""``/api/v1/tenants``: create (operator token) and read the caller's own tenant."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from meridian.service import ServiceDep

from meridian_gateway.api.deps import GatewayDep, OperatorDep, PrincipalDep
from meridian_gateway.api.schemas import TenantCreate, TenantCreated, TenantRead
from meridian_gateway.commands import CreateTenant
from meridian_gateway.domain.errors import InvalidCredentials
from meridian_gateway.handlers import create_tenant
from meridian_gateway.idempotency import OPERATOR_SCOPE

router = APIRouter(tags=["tenants"])

OPERATOR = {"security": [{"operatorToken": []}]}


@router.post("/tenants", status_code=201, response_model=TenantCreated, openapi_extra=OPERATOR,
             summary="Create a tenant (operator token); its admin API key is shown once")
async def post_tenant(body: TenantCreate, request: Request, _: OperatorDep, gw: GatewayDep, svc: ServiceDep
                      ) -> JSONResponse:
    async def call() -> JSONResponse:
        created = await svc.execute(create_tenant, CreateTenant(
            name=body.name, region=body.region, allowed_regions=tuple(gw.settings.allowed_regions)))
        t = created.tenant
        out = TenantCreated(id=t.id, name=t.name, region=t.region, created_at=t.created_at,
                            api_key=created.admin.secret)
        return JSONResponse(jsonable_encoder(out), status_code=201)

    return await gw.idempotency.run(request, OPERATOR_SCOPE, await request.body(), call)


@router.get("/tenants/current", response_model=TenantRead, summary="The caller's tenant")
async def current_tenant(principal: PrincipalDep, svc: ServiceDep) -> TenantRead:
    async def query(uow):  # noqa: ANN001, ANN202
        return await uow.tenants.get(principal.tenant_id)

    tenant = await svc.read(query)
    if tenant is None:  # the tenant row is gone: the key is no longer usable
        raise InvalidCredentials("the API key's tenant does not exist")
    return TenantRead(id=tenant.id, name=tenant.name, region=tenant.region, created_at=tenant.created_at)
