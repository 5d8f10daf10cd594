"""ComplianceUow: compliance's repositories on one transaction."""

from __future__ import annotations

from meridian.db.uow import SqlUnitOfWork
from sqlalchemy.ext.asyncio import AsyncConnection

from meridian_compliance.repository import AuditEventRepository


class ComplianceUow(SqlUnitOfWork):
    audit_events: AuditEventRepository

    def bind(self, conn: AsyncConnection) -> None:
        self.audit_events = AuditEventRepository(conn)
