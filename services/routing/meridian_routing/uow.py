"""RoutingUow: routing's repositories on one transaction."""

from __future__ import annotations

from uuid import UUID

from meridian.db.uow import SqlUnitOfWork
from sqlalchemy.ext.asyncio import AsyncConnection

from meridian_routing.repository import (
    AgentRepository,
    AssignmentRepository,
    QueueRepository,
    SnapshotRepository,
    lock_tenant,
)


class RoutingUow(SqlUnitOfWork):
    agents: AgentRepository
    snapshots: SnapshotRepository
    assignments: AssignmentRepository
    queue: QueueRepository

    def bind(self, conn: AsyncConnection) -> None:
        self.agents = AgentRepository(conn)
        self.snapshots = SnapshotRepository(conn)
        self.assignments = AssignmentRepository(conn)
        self.queue = QueueRepository(conn)
        self._locked: set[UUID] = set()

    async def lock_routing(self, tenant_id: UUID) -> None:
        """Take the tenant's routing lock once per transaction."""
        if tenant_id not in self._locked:
            await lock_tenant(self.conn, tenant_id)
            self._locked.add(tenant_id)
