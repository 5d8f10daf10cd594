"""Ingest's use cases and event handlers (no commits here: the runner commits)."""

from __future__ import annotations

import logging
import random
import secrets
from uuid import UUID

from meridian.contracts.ticket import outbound_v1_pb2 as outbound_v1
from meridian.errors import ValidationFailed
from meridian.events.envelope import EventMeta
from meridian.http.pagination import clamp_limit, decode_cursor, page
from meridian.ids import uuid7

from meridian_ingest import contracts
from meridian_ingest.channels import adapter_for
from meridian_ingest.commands import CreateInbox, DeleteInbox
from meridian_ingest.domain.delivery import AttemptResult, RetryPolicy, next_step
from meridian_ingest.domain.errors import InboxNotFound
from meridian_ingest.domain.model import Delivery, DeliveryStatus, Inbox
from meridian_ingest.uow import IngestUow

log = logging.getLogger("meridian.ingest")

DLQ_TOPIC = "ingest.outbound.dlq"
OUTBOUND_TOPIC = "ticket.outbound.v1"


def _actor(actor: str) -> tuple[str, str]:
    return ("user", actor) if actor else ("system", "")


async def create_inbox(cmd: CreateInbox, uow: IngestUow) -> tuple[Inbox, str]:
    """Returns the inbox and its signing secret (shown once, stored encrypted)."""
    adapter = adapter_for(cmd.channel)
    settings = adapter.validate_settings(cmd.settings)
    secret = secrets.token_urlsafe(32)
    inbox = Inbox(id=uuid7(), tenant_id=cmd.tenant_id, name=cmd.name, channel=adapter.name, settings=settings,
                  created_at=uow.clock.now())
    await uow.inboxes.add(inbox, uow.secretbox.encrypt(secret))
    actor_type, actor_id = _actor(cmd.actor)
    uow.audit(cmd.tenant_id, action="inbox.created", resource_type="inbox", resource_id=inbox.id,
              actor_type=actor_type, actor_id=actor_id, details={"channel": inbox.channel})
    return inbox, secret


async def delete_inbox(cmd: DeleteInbox, uow: IngestUow) -> None:
    if not await uow.inboxes.delete(cmd.tenant_id, cmd.inbox_id):
        raise InboxNotFound(f"inbox {cmd.inbox_id} not found")
    actor_type, actor_id = _actor(cmd.actor)
    uow.audit(cmd.tenant_id, action="inbox.deleted", resource_type="inbox", resource_id=cmd.inbox_id,
              actor_type=actor_type, actor_id=actor_id)


async def get_inbox(uow: IngestUow, tenant_id: UUID, inbox_id: UUID) -> Inbox:
    inbox = await uow.inboxes.get(tenant_id, inbox_id)
    if inbox is None:
        raise InboxNotFound(f"inbox {inbox_id} not found")
    return inbox


async def list_inboxes(uow: IngestUow, tenant_id: UUID, cursor: str | None, limit: int | None) -> dict:
    n = clamp_limit(limit)
    items = await uow.inboxes.list(tenant_id, after=decode_cursor(cursor), limit=n + 1)
    return page(items, n, lambda i: (i.created_at, i.id))


async def list_deliveries(uow: IngestUow, tenant_id: UUID, message_id: str | None, cursor: str | None,
                          limit: int | None) -> dict:
    n = clamp_limit(limit)
    items = await uow.deliveries.list(tenant_id, message_id=message_id, after=decode_cursor(cursor), limit=n + 1)
    return page(items, n, lambda d: (d.created_at, d.id))


async def on_outbound_requested(message: outbound_v1.OutboundRequested, meta: EventMeta, uow: IngestUow) -> None:
    """Store a durable delivery (one per message id); the worker sends it after commit."""
    errors = []
    if not message.message_id:
        errors.append({"field": "message_id", "message": "is required"})
    try:
        inbox_id = UUID(message.inbox_id)
    except ValueError:
        errors.append({"field": "inbox_id", "message": "must be a UUID"})
    try:
        tenant_id = UUID(meta.tenant_id)
    except ValueError:
        errors.append({"field": "ce_tenant", "message": "must be a UUID"})
    if errors:
        raise ValidationFailed("OutboundRequested is invalid", errors=errors)
    now = uow.clock.now()
    delivery = Delivery(
        id=uuid7(), tenant_id=tenant_id, message_id=message.message_id, conversation_id=message.conversation_id,
        inbox_id=inbox_id, channel=message.channel, recipient_id=message.recipient_id, text=message.text,
        language=message.language, status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now,
        created_at=now, updated_at=now)
    if await uow.deliveries.add(delivery):
        uow.delivery_queued()
    else:
        log.info("duplicate outbound request ignored", extra={"message_id": message.message_id,
                                                              "event_id": str(meta.id)})


async def record_attempt(uow: IngestUow, delivery: Delivery, result: AttemptResult, policy: RetryPolicy,
                         rng: random.Random | None = None) -> DeliveryStatus | None:
    """Store one attempt's outcome; a final one emits DeliveryUpdated (and, when failed, the dead
    letter and an audit record). Returns the new status, or None if the attempt was already recorded."""
    now = uow.clock.now()
    step = next_step(policy, delivery.attempts, result, now, rng)
    if not await uow.deliveries.record(delivery, step, now):
        return None
    if step.status is DeliveryStatus.PENDING:
        return step.status
    key = delivery.conversation_id or delivery.message_id
    uow.emit(contracts.delivery_updated(delivery, step.status, step.attempts, step.error, now), key=key,
             tenant_id=delivery.tenant_id)
    if step.status is DeliveryStatus.FAILED:
        reason = step.error or "failed"
        uow.emit(contracts.outbound_requested(delivery), key=key, tenant_id=delivery.tenant_id, topic=DLQ_TOPIC,
                 headers={"x-dlq-reason": reason[:2000], "x-dlq-attempts": str(step.attempts),
                          "x-original-topic": OUTBOUND_TOPIC})
        uow.audit(delivery.tenant_id, action="delivery.failed", resource_type="delivery", resource_id=delivery.id,
                  details={"message_id": delivery.message_id, "attempts": str(step.attempts), "error": reason[:500]})
    return step.status
