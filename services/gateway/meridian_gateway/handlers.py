"""Gateway use cases: tenants, API keys, the demo tenant."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from meridian.ids import uuid7
from sqlalchemy.exc import IntegrityError

from meridian_gateway import contracts
from meridian_gateway.commands import CreateApiKey, CreateTenant, RevokeApiKey
from meridian_gateway.domain.errors import ApiKeyNotFound, DemoTokenTaken, RegionNotAllowed
from meridian_gateway.domain.keys import ADMIN, display_prefix, hash_key, new_api_key
from meridian_gateway.domain.model import DEMO_TENANT_NAME, ApiKey, Tenant
from meridian_gateway.uow import GatewayUow


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: ApiKey
    secret: str  # shown once


@dataclass(frozen=True, slots=True)
class CreatedTenant:
    tenant: Tenant
    admin: IssuedKey


async def _issue_key(uow: GatewayUow, tenant_id: UUID, name: str, secret: str | None, *, actor_type: str,
                     actor_id: str) -> IssuedKey:
    secret = secret or new_api_key()
    key = ApiKey(id=uuid7(), tenant_id=tenant_id, name=name, role=ADMIN, prefix=display_prefix(secret),
                 created_at=uow.clock.now())
    await uow.api_keys.add(key, hash_key(secret))
    uow.audit(tenant_id, action="api_key.created", resource_type="api_key", resource_id=key.id,
              actor_type=actor_type, actor_id=actor_id, details={"name": name, "role": key.role,
                                                                 "prefix": key.prefix})
    return IssuedKey(key=key, secret=secret)


async def create_tenant(cmd: CreateTenant, uow: GatewayUow) -> CreatedTenant:
    if cmd.region not in cmd.allowed_regions:
        raise RegionNotAllowed(f"region must be one of {', '.join(cmd.allowed_regions)}",
                               errors=[{"field": "region", "message": "not an allowed region"}])
    tenant = Tenant(id=uuid7(), name=cmd.name, region=cmd.region, created_at=uow.clock.now(), is_demo=cmd.is_demo)
    await uow.tenants.add(tenant)
    uow.emit(contracts.tenant_created(tenant), key=str(tenant.id), tenant_id=tenant.id)
    uow.audit(tenant.id, action="tenant.created", resource_type="tenant", resource_id=tenant.id,
              actor_type="operator", details={"region": tenant.region})
    admin = await _issue_key(uow, tenant.id, "admin", cmd.api_key, actor_type="operator", actor_id="")
    return CreatedTenant(tenant=tenant, admin=admin)


async def create_api_key(cmd: CreateApiKey, uow: GatewayUow) -> IssuedKey:
    return await _issue_key(uow, cmd.tenant_id, cmd.name, cmd.api_key, actor_type="api_key", actor_id=cmd.actor_id)


async def revoke_api_key(cmd: RevokeApiKey, uow: GatewayUow) -> str:
    """Revoke a key of the tenant; returns its hash so the caller can clear the auth cache."""
    key = await uow.api_keys.get(cmd.tenant_id, cmd.key_id)
    if key is None:
        raise ApiKeyNotFound(f"api key {cmd.key_id} not found")
    key_hash = await uow.api_keys.revoke(cmd.tenant_id, cmd.key_id, uow.clock.now())
    assert key_hash is not None
    if key.revoked_at is None:
        uow.audit(cmd.tenant_id, action="api_key.revoked", resource_type="api_key", resource_id=key.id,
                  actor_type="api_key", actor_id=cmd.actor_id)
    return key_hash


@dataclass(frozen=True, slots=True)
class EnsureDemoTenant:
    region: str
    token: str | None


@dataclass(frozen=True, slots=True)
class DemoTenant:
    tenant_id: UUID
    api_key: str | None
    created: bool


async def ensure_demo(cmd: EnsureDemoTenant, uow: GatewayUow) -> DemoTenant:
    """Create the demo tenant (with ``token`` as its admin key, or a new one); if it exists, make sure
    ``token`` is one of its keys, or issue a fresh admin key when no token is given."""
    existing = await uow.tenants.find_demo()
    if existing is None:
        created = await create_tenant(CreateTenant(name=DEMO_TENANT_NAME, region=cmd.region,
                                                   allowed_regions=(cmd.region,), is_demo=True, api_key=cmd.token),
                                      uow)
        return DemoTenant(created.tenant.id, created.admin.secret, True)
    if cmd.token:
        found = await uow.api_keys.find_by_hash(hash_key(cmd.token))
        if found is None:
            await _issue_key(uow, existing.id, "bootstrap", cmd.token, actor_type="system", actor_id="seed")
        elif found[0].tenant_id != existing.id:
            raise DemoTokenTaken("the bootstrap token is a key of another tenant")
        elif found[0].revoked_at is not None:
            raise DemoTokenTaken("the bootstrap token was revoked")
        return DemoTenant(existing.id, cmd.token, False)
    issued = await _issue_key(uow, existing.id, "admin (restart)", None, actor_type="system", actor_id="seed")
    return DemoTenant(existing.id, issued.secret, False)


async def ensure_demo_tenant(kit, token: str | None) -> tuple[UUID, str | None, bool]:  # noqa: ANN001
    """Seed hook of the runtime: ``(tenant_id, api_key or None, created)``; see ``ensure_demo``."""
    cmd = EnsureDemoTenant(region=kit.infra.platform.data_region, token=token)
    try:
        result = await kit.execute(ensure_demo, cmd)
    except IntegrityError:  # another gateway process created it at the same moment
        result = await kit.execute(ensure_demo, cmd)
    return result.tenant_id, result.api_key, result.created
