"""ComplianceUow: compliance's repositories on one transaction.

Audit records are staged by the handler (``stage_audit``) and chained at commit, all at once: a
consumer batch costs one lock statement, two reads and one INSERT however many records it holds.
"""

from __future__ import annotations

from uuid import UUID

from meridian.db.uow import SqlUnitOfWork
from sqlalchemy.ext.asyncio import AsyncConnection

from meridian_compliance.domain.chain import AuditRecord, extend_chains
from meridian_compliance.repository import AuditEventRepository


class ComplianceUow(SqlUnitOfWork):
    audit_events: AuditEventRepository

    def bind(self, conn: AsyncConnection) -> None:
        self.audit_events = AuditEventRepository(conn)
        self._staged: dict[UUID, AuditRecord] = {}   # by event id, in arrival order

    def stage_audit(self, record: AuditRecord) -> None:
        """Queue a record for its tenant's chain (appended at commit, in staging order; an id staged
        twice is kept once)."""
        self._staged.setdefault(record.id, record)

    async def flush_audit(self) -> None:
        """Append the staged records: lock their tenants' chains (sorted), drop ids already stored,
        read each chain's head, hash in order, insert every link in one statement."""
        if not self._staged:
            return
        staged, self._staged = list(self._staged.values()), {}
        tenants = list(dict.fromkeys(r.tenant_id for r in staged))
        await self.audit_events.lock_chains(tenants)
        stored = await self.audit_events.stored_ids([r.id for r in staged])
        fresh = [r for r in staged if r.id not in stored]
        if not fresh:
            return
        heads = await self.audit_events.last_hashes(list(dict.fromkeys(r.tenant_id for r in fresh)))
        await self.audit_events.append_many(extend_chains(heads, fresh))

    async def commit(self) -> None:
        await self.flush_audit()
        await super().commit()
