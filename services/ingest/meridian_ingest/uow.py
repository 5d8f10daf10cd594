"""IngestUow: ingest's repositories on one transaction, plus after-commit callbacks (wake the
delivery worker once a new delivery row is committed); and the webhooks' group commit, which needs
no transaction: one statement (``accept_inbound``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from meridian.db.uow import SqlUnitOfWork

from meridian_ingest.repository import DeliveryRepository, InboxRepository, accept_sql
from meridian_ingest.secretbox import SecretBox


class IngestUow(SqlUnitOfWork):
    inboxes: InboxRepository
    deliveries: DeliveryRepository

    def __init__(self, *args: Any, secretbox: SecretBox | None = None,
                 deliveries_queued: Callable[[], None] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._secretbox = secretbox
        self._deliveries_queued = deliveries_queued
        self._after_commit: list[Callable[[], None]] = []

    def bind(self, conn) -> None:  # noqa: ANN001
        self.inboxes = InboxRepository(conn)
        self.deliveries = DeliveryRepository(conn)
        self._after_commit = []

    async def accept_inbound(self, rows: Sequence[dict[str, Any]]) -> set[tuple[UUID, str]]:
        """Without entering the unit of work: store dedupe rows ``{inbox_id, external_id, tenant_id,
        received_at}`` (distinct keys) and, for the keys that were new, the events queued for them
        (one per row, emitted in the same order), in one statement; returns the new keys."""
        if not rows:
            return set()
        result = await self.store_alone(accept_sql, *[[row[name] for row in rows] for name in (
            "inbox_id", "external_id", "tenant_id", "received_at")])
        return {(r["inbox_id"], r["external_id"]) for r in result}

    @property
    def secretbox(self) -> SecretBox:
        if self._secretbox is None:
            raise RuntimeError("IngestUow built without a SecretBox")
        return self._secretbox

    def after_commit(self, callback: Callable[[], None]) -> None:
        self._after_commit.append(callback)

    def delivery_queued(self) -> None:
        """Wake the delivery worker after this transaction commits."""
        if self._deliveries_queued is not None and self._deliveries_queued not in self._after_commit:
            self._after_commit.append(self._deliveries_queued)

    async def commit(self) -> None:
        await super().commit()
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            callback()
