"""Every query of ingest. Tenant-owned reads take ``tenant_id``; the two cross-tenant paths are the
webhook lookup (the inbox id identifies the tenant) and the delivery worker's claim."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any
from uuid import UUID

from meridian.db.uow import stored_with_events_sql
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from meridian_ingest.domain.delivery import NextStep
from meridian_ingest.domain.model import Delivery, DeliveryStatus, Inbox
from meridian_ingest.tables import deliveries, inboxes


@functools.cache
def accept_sql(outbox: str) -> str:
    """A group commit's one statement: the dedupe rows ($1 inbox ids, $2 external ids, $3 tenant ids,
    $4 received_at; distinct keys), and the MessageReceived outbox rows ($5…$10, one per dedupe
    row, in the same order) of the keys that were new; returns those keys."""
    return stored_with_events_sql(
        outbox, "INSERT INTO inbound_messages (inbox_id, external_id, tenant_id, received_at) "
                "SELECT * FROM unnest($1::uuid[], $2::text[], $3::uuid[], $4::timestamptz[]) ON CONFLICT DO NOTHING",
        keys=(("inbox_id", "$1::uuid[]"), ("external_id", "$2::text[]")), first_event=5)


def _inbox(row: Any) -> Inbox:
    return Inbox(id=row.id, tenant_id=row.tenant_id, name=row.name, channel=row.channel, settings=dict(row.settings),
                 created_at=row.created_at)


def _delivery(row: Any) -> Delivery:
    return Delivery(id=row.id, tenant_id=row.tenant_id, message_id=row.message_id, conversation_id=row.conversation_id,
                    inbox_id=row.inbox_id, channel=row.channel, recipient_id=row.recipient_id, text=row.text,
                    language=row.language, status=DeliveryStatus(row.status), attempts=row.attempts,
                    next_attempt_at=row.next_attempt_at, last_error=row.last_error, created_at=row.created_at,
                    updated_at=row.updated_at, delivered_at=row.delivered_at)


def _after(table: Any, after: tuple[datetime, UUID] | None) -> Any:
    if after is None:
        return True
    created, item = after
    return or_(table.c.created_at > created, and_(table.c.created_at == created, table.c.id > item))


class InboxRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, inbox: Inbox, secret_encrypted: str) -> None:
        await self.conn.execute(insert(inboxes).values(
            id=inbox.id, tenant_id=inbox.tenant_id, name=inbox.name, channel=inbox.channel, settings=inbox.settings,
            secret_encrypted=secret_encrypted, created_at=inbox.created_at))

    async def get(self, tenant_id: UUID, inbox_id: UUID) -> Inbox | None:
        row = (await self.conn.execute(
            select(inboxes).where(inboxes.c.tenant_id == tenant_id, inboxes.c.id == inbox_id))).first()
        return _inbox(row) if row else None

    async def list(self, tenant_id: UUID, *, after: tuple[datetime, UUID] | None, limit: int) -> list[Inbox]:
        rows = (await self.conn.execute(
            select(inboxes).where(inboxes.c.tenant_id == tenant_id, _after(inboxes, after))
            .order_by(inboxes.c.created_at, inboxes.c.id).limit(limit))).all()
        return [_inbox(r) for r in rows]

    async def delete(self, tenant_id: UUID, inbox_id: UUID) -> bool:
        result = await self.conn.execute(
            delete(inboxes).where(inboxes.c.tenant_id == tenant_id, inboxes.c.id == inbox_id))
        return result.rowcount == 1

    async def find_credentials(self, inbox_id: UUID) -> tuple[Inbox, str] | None:
        """Inbox and its encrypted secret by id alone (webhooks and deliveries carry no tenant header)."""
        row = (await self.conn.execute(select(inboxes).where(inboxes.c.id == inbox_id))).first()
        return (_inbox(row), row.secret_encrypted) if row else None


class DeliveryRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, delivery: Delivery) -> bool:
        """False when a delivery for this message already exists (a redelivered event)."""
        result = await self.conn.execute(insert(deliveries).values(
            id=delivery.id, tenant_id=delivery.tenant_id, message_id=delivery.message_id,
            conversation_id=delivery.conversation_id, inbox_id=delivery.inbox_id, channel=delivery.channel,
            recipient_id=delivery.recipient_id, text=delivery.text, language=delivery.language,
            status=delivery.status.value, attempts=delivery.attempts, next_attempt_at=delivery.next_attempt_at,
            last_error=delivery.last_error, created_at=delivery.created_at, updated_at=delivery.updated_at,
        ).on_conflict_do_nothing(index_elements=[deliveries.c.message_id]))
        return result.rowcount == 1

    async def claim_due(self, now: datetime, lease_until: datetime, limit: int) -> list[Delivery]:
        """Lease up to ``limit`` due pending deliveries (``FOR UPDATE SKIP LOCKED``): their
        ``next_attempt_at`` moves to ``lease_until`` so a crashed worker's rows come back later."""
        due = (select(deliveries.c.id)
               .where(deliveries.c.status == DeliveryStatus.PENDING.value, deliveries.c.next_attempt_at <= now)
               .order_by(deliveries.c.next_attempt_at).limit(limit)
               .with_for_update(skip_locked=True).cte("due"))
        rows = (await self.conn.execute(
            update(deliveries).where(deliveries.c.id == due.c.id).values(next_attempt_at=lease_until)
            .returning(*deliveries.c))).all()
        return sorted((_delivery(r) for r in rows), key=lambda d: (d.created_at, d.id))

    async def record(self, delivery: Delivery, step: NextStep, now: datetime) -> bool:
        """Store an attempt's outcome; False when another worker already recorded this attempt."""
        values: dict[str, Any] = {"status": step.status.value, "attempts": step.attempts, "last_error": step.error,
                                  "updated_at": now}
        if step.next_attempt_at is not None:
            values["next_attempt_at"] = step.next_attempt_at
        if step.status is DeliveryStatus.DELIVERED:
            values["delivered_at"] = now
        result = await self.conn.execute(update(deliveries).where(
            deliveries.c.tenant_id == delivery.tenant_id, deliveries.c.id == delivery.id,
            deliveries.c.status == DeliveryStatus.PENDING.value, deliveries.c.attempts == delivery.attempts,
        ).values(**values))
        return result.rowcount == 1

    async def list(self, tenant_id: UUID, *, message_id: str | None, after: tuple[datetime, UUID] | None,
                   limit: int) -> list[Delivery]:
        query = select(deliveries).where(deliveries.c.tenant_id == tenant_id, _after(deliveries, after))
        if message_id is not None:
            query = query.where(deliveries.c.message_id == message_id)
        rows = (await self.conn.execute(query.order_by(deliveries.c.created_at, deliveries.c.id).limit(limit))).all()
        return [_delivery(r) for r in rows]
