"""Ticket's use cases, queries and event handlers (no commits here: the runner commits)."""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from meridian.contracts.ingest import deliveries_v1_pb2 as deliveries_v1
from meridian.contracts.ingest import messages_v1_pb2 as ingest_messages_v1
from meridian.contracts.routing import assignments_v1_pb2 as assignments_v1
from meridian.contracts.translation import messages_v1_pb2 as translation_v1
from meridian.events.envelope import EventMeta
from meridian.http.pagination import clamp_limit, decode_cursor, page
from meridian.ids import uuid7
from sqlalchemy.exc import IntegrityError

from meridian_ticket import contracts
from meridian_ticket.commands import SendReply, UpdateConversation
from meridian_ticket.domain import contacts as contact_rules
from meridian_ticket.domain import conversations as conversation_rules
from meridian_ticket.domain import messages as message_rules
from meridian_ticket.domain import tickets as ticket_rules
from meridian_ticket.domain.errors import (
    ContactNotFound,
    ConversationNotFound,
    EventInvalid,
    MessageNotFound,
    OpenConversationExists,
    RecipientUnknown,
    TicketNotFound,
)
from meridian_ticket.domain.model import (
    UNDETERMINED_LANGUAGE,
    Contact,
    Conversation,
    Message,
    MessageStatus,
    Ticket,
)
from meridian_ticket.repository import InboundSender
from meridian_ticket.uow import TicketUow

log = logging.getLogger("meridian.ticket")

RESOLVE_ATTEMPTS = 3


def _actor(actor: str) -> tuple[str, str]:
    return ("user", actor) if actor else ("system", "")


def _agent_id(actor: str) -> UUID | None:
    try:
        return UUID(actor) if actor else None
    except ValueError:
        return None


def _event_uuid(value: str, field: str) -> UUID:
    try:
        return UUID(value)
    except ValueError:
        raise EventInvalid(f"{field} must be a UUID", errors=[{"field": field, "message": "must be a UUID"}]) from None


def _emit_conversation_updated(uow: TicketUow, conversation: Conversation, changed: list[str]) -> None:
    uow.emit(contracts.conversation_updated(conversation, changed), key=str(conversation.id),
             tenant_id=conversation.tenant_id)


# ============================================================================ step 2: MessageReceived


async def prepare_inbound(events: list[tuple[Any, EventMeta]], uow: TicketUow) -> None:
    """ticket.inbound, once per batch: look up the senders of all its messages in one statement; in
    one more give the messages their ids and learn the languages translation detected already; then
    lock the conversations found, in id order (``TicketUow.lock_inbound_conversations``), after
    the pairing statement, as ticket.translations locks its conversations after its own."""
    senders, threaded = [], []
    for message, meta in events:
        if isinstance(message, ingest_messages_v1.MessageReceived):
            try:
                sender = _inbound_sender(message, meta)[0]
            except EventInvalid:
                continue  # the handler rejects the event
            senders.append(sender)
            threaded.append((meta.id, sender.tenant_id))
    await uow.prefetch_inbound(senders)
    await uow.thread_inbound(threaded)
    await uow.lock_inbound_conversations()


def _inbound_sender(message: ingest_messages_v1.MessageReceived, meta: EventMeta
                    ) -> tuple[InboundSender, contact_rules.SenderInfo, str]:
    tenant_id = _event_uuid(meta.tenant_id, "ce_tenant")
    inbox_id = _event_uuid(message.inbox_id, "inbox_id")
    sender = contact_rules.SenderInfo(id=(message.sender.id or message.thread_id).strip(), name=message.sender.name,
                                      email=message.sender.email, phone=message.sender.phone)
    if not sender.id:
        raise EventInvalid("sender.id is required", errors=[{"field": "sender.id", "message": "is required"}])
    channel = message.channel or "unknown"
    email, phone = contact_rules.contact_points(channel, sender)
    return InboundSender(tenant_id, inbox_id, sender.id, email, phone, message.external_id or None), sender, channel


async def on_message_received(message: ingest_messages_v1.MessageReceived, meta: EventMeta, uow: TicketUow) -> None:
    """Resolve the contact, thread into the open conversation (or open one with its ticket), and
    store the message at commit with the batch's others (a redelivered external id is ignored).
    When translation's detection of the same event came first, the message is stored with its
    language → MessageCreated; else ``on_message_translated`` emits it."""
    key, sender, channel = _inbound_sender(message, meta)
    tenant_id, inbox_id, external_id = key.tenant_id, key.inbox_id, key.external_id
    identity = contact_rules.identity_of(channel, inbox_id, sender)
    now = uow.clock.now()

    conversation: Conversation | None = None
    contact_id: UUID | None = None
    for attempt in range(RESOLVE_ATTEMPTS):
        lookup = await uow.inbound_lookup(key, fresh=attempt > 0)
        if lookup.duplicate:
            log.info("duplicate inbound message ignored", extra={"event_id": str(meta.id), "inbox_id": str(inbox_id)})
            return
        resolution = contact_rules.resolve_contact(by_identity=lookup.by_identity, by_email=lookup.by_email,
                                                   by_phone=lookup.by_phone)
        if resolution.contact_id is None:
            contact = contact_rules.new_contact(uuid7(), tenant_id, channel, sender, now)
            uow.contacts_changed(tenant_id)
            if not await uow.contacts.add_with_identity(contact, identity):
                await uow.contacts.discard(tenant_id, contact.id)   # a concurrent first message won: re-resolve
                continue
            _audit_contact_created(uow, contact, channel, inbox_id)
            contact_id = contact.id
            break
        if resolution.adds_identity:
            uow.contacts_changed(tenant_id)
            if not await uow.contacts.add_identity(tenant_id, resolution.contact_id, identity, now):
                continue
        contact_id = resolution.contact_id
        conversation = lookup.open_conversation(contact_id)
        break
    if contact_id is None:
        raise RuntimeError("contact resolution did not settle")  # retried by the consumer

    if conversation_rules.needs_new_conversation(conversation):
        uow.contacts_changed(tenant_id)
        conversation = await _open_conversation(uow, tenant_id, inbox_id, contact_id, channel, now)
    assert conversation is not None
    message_id, language = await uow.inbound_message(meta.id, tenant_id)
    stored = message_rules.inbound_message(message_id, conversation, message.text, external_id, now, language)
    if language is not None:   # translation's detection came first
        await _follow_customer_language(uow, conversation, language, latest=True)

    def created() -> None:
        uow.emit(contracts.message_created(stored), key=str(stored.conversation_id), tenant_id=tenant_id)

    uow.add_message(stored, created if language is not None else None)


async def _follow_customer_language(uow: TicketUow, conversation: Conversation, language: str, *,
                                    latest: bool) -> None:
    """The conversation follows its customer's latest language (→ ConversationUpdated ["language"])."""
    conversation = uow.conversation_as_saved(conversation)
    new_language = conversation_rules.language_after_detection(conversation.language, language, latest=latest)
    if new_language is not None:
        conversation = await uow.set_conversation_language(conversation, new_language, uow.clock.now())
        _emit_conversation_updated(uow, conversation, ["language"])


def _audit_contact_created(uow: TicketUow, contact: Contact, channel: str, inbox_id: UUID) -> None:
    uow.audit(contact.tenant_id, action="contact.created", resource_type="contact", resource_id=contact.id,
              details={"channel": channel, "inbox_id": str(inbox_id)})


async def _open_conversation(uow: TicketUow, tenant_id: UUID, inbox_id: UUID, contact_id: UUID, channel: str,
                             now: Any) -> Conversation:
    conversation = conversation_rules.open_conversation(uuid7(), tenant_id, inbox_id, contact_id, channel, now)
    ticket = ticket_rules.open_ticket(uuid7(), conversation, now)
    if not await uow.conversations.add_with_ticket(conversation, ticket):
        existing = await uow.conversations.find_open(tenant_id, inbox_id, contact_id)
        if existing is None:
            raise RuntimeError("open conversation vanished")  # retried by the consumer
        return existing
    key = str(conversation.id)
    uow.emit(contracts.conversation_opened(conversation), key=key, tenant_id=tenant_id)
    uow.emit(contracts.ticket_opened(ticket), key=key, tenant_id=tenant_id)
    uow.audit(tenant_id, action="conversation.opened", resource_type="conversation", resource_id=conversation.id,
              details={"inbox_id": str(inbox_id), "contact_id": str(contact_id), "channel": channel})
    uow.audit(tenant_id, action="ticket.opened", resource_type="ticket", resource_id=ticket.id,
              details={"conversation_id": key, "priority": ticket.priority})
    return conversation


# ============================================================================ step 4: MessageTranslated


async def prepare_translations(events: list[tuple[Any, EventMeta]], uow: TicketUow) -> None:
    """ticket.translations, once per batch: record its languages, and set those of the messages
    threaded already, in two statements."""
    detections = []
    for message, meta in events:
        if isinstance(message, translation_v1.MessageTranslated):
            try:
                detections.append((UUID(message.received_event_id), UUID(meta.tenant_id),
                                   _detected_language(message)))
            except ValueError:
                continue  # the handler rejects the event
    await uow.detect_inbound(detections)


def _detected_language(message: translation_v1.MessageTranslated) -> str:
    return message.detected_language.strip() or UNDETERMINED_LANGUAGE


async def on_message_translated(message: translation_v1.MessageTranslated, meta: EventMeta, uow: TicketUow) -> None:
    """The language of an inbound message, detected from its MessageReceived. When the message is
    threaded already: set its language (once), follow the customer's latest language on the
    conversation (→ ConversationUpdated ["language"]), then MessageCreated, the event agents see; or,
    when the message was announced already as undetermined because its language came too late,
    MessageUpdated with the language. Otherwise the language waits for the message
    (``on_message_received`` applies it)."""
    tenant_id = _event_uuid(meta.tenant_id, "ce_tenant")
    received_event_id = _event_uuid(message.received_event_id, "received_event_id")
    language = _detected_language(message)
    threaded = await uow.inbound_detected(received_event_id, tenant_id, language)
    if threaded is None:
        log.debug("language kept for a message not threaded yet", extra={"received_event_id": str(received_event_id)})
        return
    found = await uow.detection(tenant_id, threaded, language)
    if found is None:   # a duplicate that was never stored, or a message given its language before
        log.info("language not applied", extra={"message_id": str(threaded.message_id), "event_id": str(meta.id)})
        return
    stored = found.message
    await _follow_customer_language(uow, found.conversation, language, latest=uow.is_latest_detected(found))
    if found.corrected:
        uow.emit(contracts.message_updated(stored, uow.clock.now()), key=str(stored.conversation_id),
                 tenant_id=tenant_id)
    else:
        uow.emit(contracts.message_created(stored), key=str(stored.conversation_id), tenant_id=tenant_id)


# ============================================================================ step 6: AssignmentDecided


async def prepare_assignments(events: list[tuple[Any, EventMeta]], uow: TicketUow) -> None:
    """ticket.assignments, once per batch: lock and read the conversations it assigns agents to, in
    one statement."""
    keys = []
    for message, meta in events:
        if isinstance(message, assignments_v1.AssignmentDecided) and \
                message.target == assignments_v1.ASSIGNMENT_TARGET_AGENT:
            try:
                keys.append((UUID(meta.tenant_id), UUID(message.conversation_id)))
            except ValueError:
                continue  # the handler rejects the event
    await uow.lock_conversations(keys)


async def on_assignment_decided(message: assignments_v1.AssignmentDecided, meta: EventMeta, uow: TicketUow) -> None:
    """Routing chose an agent: the conversation and its ticket get the assignee. Queue/bot/team
    decisions change nothing here."""
    if message.target != assignments_v1.ASSIGNMENT_TARGET_AGENT:
        return
    tenant_id = _event_uuid(meta.tenant_id, "ce_tenant")
    conversation_id = _event_uuid(message.conversation_id, "conversation_id")
    agent_id = _event_uuid(message.agent_id, "agent_id")
    found = await uow.conversation_for_update(tenant_id, conversation_id)
    if found is None:
        raise ConversationNotFound(f"conversation {conversation_id} is unknown")
    conversation, ticket = found
    assigned = conversation_rules.assign(conversation, agent_id, uow.clock.now(), manual=False)
    if assigned is None:
        log.info("assignment ignored", extra={"conversation_id": str(conversation_id), "event_id": str(meta.id)})
        return
    await _save_changes(uow, conversation, assigned, ticket, ["assignee_agent_id"], actor=("system", "routing"),
                        reason=message.reason)


async def _save_changes(uow: TicketUow, before: Conversation, after: Conversation, ticket: Ticket | None,
                        changed: list[str], *, actor: tuple[str, str], reason: str = "") -> None:
    """Persist a conversation change (and its ticket's), emit ConversationUpdated (+ TicketAssigned)
    and the audit records."""
    now = after.updated_at
    new_ticket = ticket_rules.follow_conversation(ticket, after, now) if ticket is not None else None
    try:
        await uow.conversations.save(after, new_ticket)
    except IntegrityError:
        raise OpenConversationExists("the contact already has another open conversation on this inbox") from None
    _emit_conversation_updated(uow, after, changed)
    actor_type, actor_id = actor
    tenant_id, key = after.tenant_id, str(after.id)
    if "status" in changed:
        uow.audit(tenant_id, action="conversation.status_changed", resource_type="conversation", resource_id=after.id,
                  actor_type=actor_type, actor_id=actor_id,
                  details={"from": before.status.value, "to": after.status.value})
    if "assignee_agent_id" in changed:
        details = {"assignee_agent_id": str(after.assignee_agent_id or ""),
                   "previous_agent_id": str(before.assignee_agent_id or "")}
        if reason:
            details["reason"] = reason
        uow.audit(tenant_id, action="conversation.assigned", resource_type="conversation", resource_id=after.id,
                  actor_type=actor_type, actor_id=actor_id, details=details)
    if ticket is not None and new_ticket is not None and ticket_rules.is_assignment(ticket, new_ticket):
        uow.emit(contracts.ticket_assigned(new_ticket), key=key, tenant_id=tenant_id)
        uow.audit(tenant_id, action="ticket.assigned", resource_type="ticket", resource_id=new_ticket.id,
                  actor_type=actor_type, actor_id=actor_id,
                  details={"conversation_id": key, "assignee_agent_id": str(new_ticket.assignee_agent_id)})


# ============================================================================ step 9: DeliveryUpdated


async def on_delivery_updated(message: deliveries_v1.DeliveryUpdated, meta: EventMeta, uow: TicketUow) -> None:
    """Ingest reported an outbound message's delivery: move its status forward (→ MessageUpdated);
    a stale or repeated report changes nothing."""
    status = contracts.DELIVERY_STATUS.get(message.status)
    if status is None:
        raise EventInvalid(f"delivery status {message.status} is not supported",
                           errors=[{"field": "status", "message": "unspecified or unknown"}])
    tenant_id = _event_uuid(meta.tenant_id, "ce_tenant")
    message_id = _event_uuid(message.message_id, "message_id")
    error = (message.error or "delivery failed")[:2000] if status is MessageStatus.FAILED else None
    updated = await uow.messages.apply_status(tenant_id, message_id, status, error,
                                              message_rules.allowed_sources(status))
    if updated is None:
        current = await uow.messages.get(tenant_id, message_id)
        if current is None:
            raise MessageNotFound(f"message {message_id} is unknown")
        log.info("delivery update ignored", extra={"message_id": str(message_id), "status": current.status.value,
                                                   "reported": status.value, "event_id": str(meta.id)})
        return
    uow.emit(contracts.message_updated(updated, uow.clock.now()), key=str(updated.conversation_id),
             tenant_id=tenant_id)


# ============================================================================ REST use cases


async def update_conversation(cmd: UpdateConversation, uow: TicketUow) -> Conversation:
    """PATCH: assignee first (so one request may assign and resolve), then status."""
    found = await uow.conversations.get_with_ticket(cmd.tenant_id, cmd.conversation_id, for_update=True)
    if found is None:
        raise ConversationNotFound(f"conversation {cmd.conversation_id} not found")
    before, ticket = found
    after = before
    changed: list[str] = []
    now = uow.clock.now()
    if cmd.assign:
        assigned = conversation_rules.assign(after, cmd.assignee_agent_id, now, manual=True)
        if assigned is not None:
            after = assigned
            changed.append("assignee_agent_id")
    if cmd.status is not None:
        moved = conversation_rules.change_status(after, cmd.status, now)
        if moved is not None:
            after = moved
            changed.append("status")
    if changed:
        await _save_changes(uow, before, after, ticket, changed, actor=_actor(cmd.actor))
    return after


async def send_reply(cmd: SendReply, uow: TicketUow) -> Message:
    """An agent's reply: a pending outbound message → MessageCreated + OutboundRequested."""
    text = message_rules.validate_reply_text(cmd.text)
    conversation = await uow.conversations.get(cmd.tenant_id, cmd.conversation_id)
    if conversation is None:
        raise ConversationNotFound(f"conversation {cmd.conversation_id} not found")
    conversation_rules.ensure_can_reply(conversation)
    recipient = await uow.contacts.recipient_id(cmd.tenant_id, conversation.contact_id, conversation.inbox_id)
    if recipient is None:
        raise RecipientUnknown(f"contact {conversation.contact_id} has no identity on inbox {conversation.inbox_id}")
    reply = message_rules.outbound_message(uuid7(), conversation, text, _agent_id(cmd.actor), uow.clock.now())
    await uow.messages.add(reply)
    key = str(conversation.id)
    uow.emit(contracts.message_created(reply), key=key, tenant_id=cmd.tenant_id)
    uow.emit(contracts.outbound_requested(reply, conversation.channel, recipient), key=key, tenant_id=cmd.tenant_id)
    actor_type, actor_id = _actor(cmd.actor)
    uow.audit(cmd.tenant_id, action="message.sent", resource_type="message", resource_id=reply.id,
              actor_type=actor_type, actor_id=actor_id, details={"conversation_id": key})
    return reply


# ============================================================================ REST queries


async def get_conversation(uow: TicketUow, tenant_id: UUID, conversation_id: UUID) -> Conversation:
    conversation = await uow.conversations.get(tenant_id, conversation_id)
    if conversation is None:
        raise ConversationNotFound(f"conversation {conversation_id} not found")
    return conversation


async def list_conversations(uow: TicketUow, tenant_id: UUID, *, inbox_id: UUID | None, status: str | None,
                             assignee_agent_id: UUID | None, contact_id: UUID | None, cursor: str | None,
                             limit: int | None) -> dict[str, Any]:
    n = clamp_limit(limit)
    items = await uow.conversations.list(tenant_id, inbox_id=inbox_id, status=status,
                                         assignee_agent_id=assignee_agent_id, contact_id=contact_id,
                                         after=decode_cursor(cursor), limit=n + 1)
    return page(items, n, lambda c: (c.created_at, c.id))


async def list_messages(uow: TicketUow, tenant_id: UUID, conversation_id: UUID, cursor: str | None,
                        limit: int | None) -> dict[str, Any]:
    n = clamp_limit(limit)
    after = decode_cursor(cursor)
    await get_conversation(uow, tenant_id, conversation_id)
    items = await uow.messages.list(tenant_id, conversation_id, after=after, limit=n + 1)
    return page(items, n, lambda m: (m.created_at, m.id))


async def get_contact(uow: TicketUow, tenant_id: UUID, contact_id: UUID) -> Contact:
    contact = await uow.contacts.get(tenant_id, contact_id)
    if contact is None:
        raise ContactNotFound(f"contact {contact_id} not found")
    return contact


async def list_contacts(uow: TicketUow, tenant_id: UUID, *, email: str | None, phone: str | None,
                        cursor: str | None, limit: int | None) -> dict[str, Any]:
    n = clamp_limit(limit)
    after = decode_cursor(cursor)
    email_key = contact_rules.normalize_email(email) if email is not None else None
    phone_key = contact_rules.normalize_phone(phone) if phone is not None else None
    if (email is not None and email_key is None) or (phone is not None and phone_key is None):
        return {"items": [], "next_cursor": None}   # not an address/number: nobody has it
    items = await uow.contacts.list(tenant_id, email=email_key, phone=phone_key, after=after, limit=n + 1)
    return page(items, n, lambda c: (c.created_at, c.id))


async def get_ticket(uow: TicketUow, tenant_id: UUID, ticket_id: UUID) -> Ticket:
    ticket = await uow.tickets.get(tenant_id, ticket_id)
    if ticket is None:
        raise TicketNotFound(f"ticket {ticket_id} not found")
    return ticket


async def list_tickets(uow: TicketUow, tenant_id: UUID, *, status: str | None, assignee_agent_id: UUID | None,
                       cursor: str | None, limit: int | None) -> dict[str, Any]:
    n = clamp_limit(limit)
    items = await uow.tickets.list(tenant_id, status=status, assignee_agent_id=assignee_agent_id,
                                   after=decode_cursor(cursor), limit=n + 1)
    return page(items, n, lambda t: (t.opened_at, t.id))
