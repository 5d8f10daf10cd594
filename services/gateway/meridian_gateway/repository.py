"""Every gateway query. Every tenant-owned query takes tenant_id."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from meridian_gateway.domain.idempotency import IdempotencyRecord
from meridian_gateway.domain.model import ApiKey, Principal, Tenant
from meridian_gateway.tables import api_keys, idempotency_keys, tenants


def _tenant(row: Any) -> Tenant:
    return Tenant(id=row.id, name=row.name, region=row.region, created_at=row.created_at, is_demo=row.is_demo)


def _key(row: Any) -> ApiKey:
    return ApiKey(id=row.id, tenant_id=row.tenant_id, name=row.name, role=row.role, prefix=row.prefix,
                  created_at=row.created_at, revoked_at=row.revoked_at)


class TenantRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, tenant: Tenant) -> None:
        await self.conn.execute(tenants.insert().values(id=tenant.id, name=tenant.name, region=tenant.region,
                                                        is_demo=tenant.is_demo, created_at=tenant.created_at))

    async def get(self, tenant_id: UUID) -> Tenant | None:
        row = (await self.conn.execute(select(tenants).where(tenants.c.id == tenant_id))).first()
        return _tenant(row) if row else None

    async def find_demo(self) -> Tenant | None:
        row = (await self.conn.execute(select(tenants).where(tenants.c.is_demo.is_(True)))).first()
        return _tenant(row) if row else None


class ApiKeyRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, key: ApiKey, key_hash: str) -> None:
        await self.conn.execute(api_keys.insert().values(
            id=key.id, tenant_id=key.tenant_id, name=key.name, role=key.role, prefix=key.prefix, hash=key_hash,
            created_at=key.created_at, revoked_at=key.revoked_at))

    async def get(self, tenant_id: UUID, key_id: UUID) -> ApiKey | None:
        row = (await self.conn.execute(select(api_keys).where(api_keys.c.tenant_id == tenant_id,
                                                              api_keys.c.id == key_id))).first()
        return _key(row) if row else None

    async def find_by_hash(self, key_hash: str) -> tuple[ApiKey, str] | None:
        """Any tenant's key with this hash (revoked or not) — for the bootstrap token check."""
        row = (await self.conn.execute(select(api_keys).where(api_keys.c.hash == key_hash))).first()
        return (_key(row), row.hash) if row else None

    async def find_active_principal(self, key_hash: str) -> Principal | None:
        row = (await self.conn.execute(
            select(api_keys.c.id, api_keys.c.tenant_id)
            .where(api_keys.c.hash == key_hash, api_keys.c.revoked_at.is_(None))
        )).first()
        return Principal(tenant_id=row.tenant_id, key_id=row.id) if row else None

    async def list(self, tenant_id: UUID, *, after: tuple[datetime, UUID] | None, limit: int) -> list[ApiKey]:
        q = select(api_keys).where(api_keys.c.tenant_id == tenant_id)
        if after is not None:
            created, last_id = after
            q = q.where(or_(api_keys.c.created_at > created,
                            and_(api_keys.c.created_at == created, api_keys.c.id > last_id)))
        q = q.order_by(api_keys.c.created_at, api_keys.c.id).limit(limit)
        return [_key(r) for r in (await self.conn.execute(q)).all()]

    async def revoke(self, tenant_id: UUID, key_id: UUID, at: datetime) -> str | None:
        """Revoke; returns the key's hash (to clear caches), None when not found."""
        row = (await self.conn.execute(
            select(api_keys.c.hash, api_keys.c.revoked_at)
            .where(api_keys.c.tenant_id == tenant_id, api_keys.c.id == key_id).with_for_update()
        )).first()
        if row is None:
            return None
        if row.revoked_at is None:
            await self.conn.execute(update(api_keys).where(api_keys.c.tenant_id == tenant_id,
                                                           api_keys.c.id == key_id).values(revoked_at=at))
        return row.hash


class IdempotencyRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def claim(self, tenant_id: UUID, key: str, *, method: str, path: str, body_sha256: str, now: datetime,
                    expires_at: datetime) -> bool:
        """Insert an in-flight record; False when one exists already."""
        result = await self.conn.execute(
            insert(idempotency_keys).values(tenant_id=tenant_id, key=key, method=method, path=path,
                                            body_sha256=body_sha256, status=None, created_at=now,
                                            expires_at=expires_at)
            .on_conflict_do_nothing()
        )
        return result.rowcount == 1

    async def get(self, tenant_id: UUID, key: str) -> IdempotencyRecord | None:
        row = (await self.conn.execute(select(idempotency_keys).where(
            idempotency_keys.c.tenant_id == tenant_id, idempotency_keys.c.key == key))).first()
        if row is None:
            return None
        return IdempotencyRecord(method=row.method, path=row.path, body_sha256=row.body_sha256, status=row.status,
                                 body=row.response_body, content_type=row.content_type, created_at=row.created_at,
                                 expires_at=row.expires_at)

    async def take_over(self, tenant_id: UUID, key: str, *, seen_created_at: datetime, method: str, path: str,
                        body_sha256: str, now: datetime, expires_at: datetime) -> bool:
        """Replace an expired or abandoned record (only if nobody else did in between)."""
        result = await self.conn.execute(
            update(idempotency_keys)
            .where(idempotency_keys.c.tenant_id == tenant_id, idempotency_keys.c.key == key,
                   idempotency_keys.c.created_at == seen_created_at)
            .values(method=method, path=path, body_sha256=body_sha256, status=None, response_body=None,
                    content_type=None, created_at=now, expires_at=expires_at)
        )
        return result.rowcount == 1

    async def complete(self, tenant_id: UUID, key: str, *, status: int, body: bytes, content_type: str | None
                       ) -> None:
        await self.conn.execute(update(idempotency_keys).where(
            idempotency_keys.c.tenant_id == tenant_id, idempotency_keys.c.key == key,
            idempotency_keys.c.status.is_(None)).values(status=status, response_body=body,
                                                         content_type=content_type))

    async def release(self, tenant_id: UUID, key: str) -> None:
        await self.conn.execute(delete(idempotency_keys).where(
            idempotency_keys.c.tenant_id == tenant_id, idempotency_keys.c.key == key,
            idempotency_keys.c.status.is_(None)))

    async def prune(self, now: datetime) -> int:
        result = await self.conn.execute(delete(idempotency_keys).where(idempotency_keys.c.expires_at <= now))
        return result.rowcount
