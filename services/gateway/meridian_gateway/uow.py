"""GatewayUow: the gateway's repositories on one transaction."""

from __future__ import annotations

from meridian.db.uow import SqlUnitOfWork

from meridian_gateway.repository import ApiKeyRepository, IdempotencyRepository, TenantRepository


class GatewayUow(SqlUnitOfWork):
    tenants: TenantRepository
    api_keys: ApiKeyRepository
    idempotency: IdempotencyRepository

    def bind(self, conn) -> None:  # noqa: ANN001
        self.tenants = TenantRepository(conn)
        self.api_keys = ApiKeyRepository(conn)
        self.idempotency = IdempotencyRepository(conn)
