"""Every query of ticket; every method takes ``tenant_id``.

Written for batches: an inbound message costs two statements when its sender and conversation are
known (one lookup that also deduplicates, one insert that also bumps the conversation), and
inserts are ``ON CONFLICT DO NOTHING RETURNING`` followed by a re-read, so events of one batch (or
of concurrent consumers) that touch the same contact or conversation converge on the unique keys.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg
from meridian.db.bulk import bind_arrays, unnest_rows
from meridian.db.driver import DriverStatement
from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    true,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from meridian_ticket.domain.model import (
    UNDETERMINED_LANGUAGE,
    Contact,
    Conversation,
    ConversationStatus,
    Direction,
    Identity,
    Message,
    MessageStatus,
    Ticket,
    TicketStatus,
)
from meridian_ticket.tables import contact_identities, contacts, conversations, messages, tickets

ci = contact_identities
Cursor = tuple[datetime, UUID] | None

# ----------------------------------------------------------------------------- row mapping


def _reader(row: Any, prefix: str) -> Callable[[str], Any]:
    """Column by name, through a SQLAlchemy row's mapping (~0.2 µs a column against ~1.1 µs by
    attribute; a batch maps thousands of columns) or an asyncpg record (meridian.db.driver)."""
    columns = getattr(row, "_mapping", row)
    return (lambda n: columns[prefix + n]) if prefix else columns.__getitem__


def _conversation(row: Any, prefix: str = "") -> Conversation:
    g = _reader(row, prefix)
    return Conversation(id=g("id"), tenant_id=g("tenant_id"), inbox_id=g("inbox_id"), contact_id=g("contact_id"),
                        channel=g("channel"), status=ConversationStatus(g("status")), language=g("language"),
                        assignee_agent_id=g("assignee_agent_id"), created_at=g("created_at"),
                        updated_at=g("updated_at"), last_message_at=g("last_message_at"))


def _message(row: Any, prefix: str = "") -> Message:
    g = _reader(row, prefix)
    return Message(id=g("id"), tenant_id=g("tenant_id"), conversation_id=g("conversation_id"), inbox_id=g("inbox_id"),
                   contact_id=g("contact_id"), direction=Direction(g("direction")), text=g("text"),
                   language=g("language"), status=MessageStatus(g("status")), sender_agent_id=g("sender_agent_id"),
                   external_id=g("external_id"), error=g("error"), created_at=g("created_at"))


def _ticket(row: Any, prefix: str = "") -> Ticket:
    g = _reader(row, prefix)
    return Ticket(id=g("id"), tenant_id=g("tenant_id"), conversation_id=g("conversation_id"),
                  status=TicketStatus(g("status")), priority=g("priority"), assignee_agent_id=g("assignee_agent_id"),
                  opened_at=g("opened_at"), updated_at=g("updated_at"))


def _contact(row: Any, identities: tuple[Identity, ...] = ()) -> Contact:
    return Contact(id=row.id, tenant_id=row.tenant_id, name=row.name, email=row.email, phone=row.phone,
                   created_at=row.created_at, identities=identities)


def _prefixed(table: Any, prefix: str) -> list[Any]:
    return [c.label(prefix + c.name) for c in table.c]


def _conversation_values(c: Conversation) -> dict[str, Any]:
    return {"id": c.id, "tenant_id": c.tenant_id, "inbox_id": c.inbox_id, "contact_id": c.contact_id,
            "channel": c.channel, "status": c.status.value, "language": c.language,
            "assignee_agent_id": c.assignee_agent_id, "created_at": c.created_at, "updated_at": c.updated_at,
            "last_message_at": c.last_message_at}


def _message_values(m: Message) -> dict[str, Any]:
    return {"id": m.id, "tenant_id": m.tenant_id, "conversation_id": m.conversation_id, "inbox_id": m.inbox_id,
            "contact_id": m.contact_id, "direction": m.direction.value, "text": m.text, "language": m.language,
            "status": m.status.value, "sender_agent_id": m.sender_agent_id, "external_id": m.external_id,
            "error": m.error, "created_at": m.created_at}


def _page_after(created: Any, ident: Any, cursor: Cursor, *, descending: bool) -> Any:
    if cursor is None:
        return true()
    if descending:
        return tuple_(created, ident) < tuple_(literal(cursor[0]), literal(cursor[1], PG_UUID(as_uuid=True)))
    return tuple_(created, ident) > tuple_(literal(cursor[0]), literal(cursor[1], PG_UUID(as_uuid=True)))


# ----------------------------------------------------------------------------- contacts


@dataclass(frozen=True, slots=True)
class InboundLookup:
    """What one statement learned about an inbound message's sender."""

    duplicate: bool = False
    by_identity: UUID | None = None
    by_email: UUID | None = None
    by_phone: UUID | None = None
    open_conversations: dict[UUID, Conversation] = field(default_factory=dict)

    def open_conversation(self, contact_id: UUID) -> Conversation | None:
        return self.open_conversations.get(contact_id)


@dataclass(frozen=True, slots=True)
class InboundSender:
    """Who sent an inbound message, as ``lookup_inbound`` matches it."""

    tenant_id: UUID
    inbox_id: UUID
    sender_id: str
    email: str | None
    phone: str | None
    external_id: str | None


_senders = select(unnest_rows(
    "senders", ("idx", Integer), ("tenant_id", PG_UUID(as_uuid=True)), ("inbox_id", PG_UUID(as_uuid=True)),
    ("sender_id", Text), ("email", Text), ("phone", Text), ("external_id", Text))).cte("senders")


def _candidates(rank: int, contact_id: Any, *where: Any) -> Any:
    return select(_senders.c.idx, _senders.c.tenant_id, _senders.c.inbox_id, literal_column(str(rank)).label("rank"),
                  contact_id.label("contact_id")).where(*where)


# rank 0: the external id is stored already (a duplicate); 1: identity; 2: e-mail; 3: phone (NULL never matches)
_candidate = union_all(
    _candidates(0, cast(null(), PG_UUID(as_uuid=True)), exists().where(
        messages.c.tenant_id == _senders.c.tenant_id, messages.c.inbox_id == _senders.c.inbox_id,
        messages.c.external_id == _senders.c.external_id)),
    _candidates(1, ci.c.contact_id, ci.c.tenant_id == _senders.c.tenant_id, ci.c.inbox_id == _senders.c.inbox_id,
                ci.c.external_id == _senders.c.sender_id),
    _candidates(2, contacts.c.id, contacts.c.tenant_id == _senders.c.tenant_id, contacts.c.email == _senders.c.email),
    _candidates(3, contacts.c.id, contacts.c.tenant_id == _senders.c.tenant_id, contacts.c.phone == _senders.c.phone),
).subquery("cand")
_LOOKUP_INBOUND = DriverStatement(select(_candidate.c.idx, _candidate.c.rank, _candidate.c.contact_id,
                                         *_prefixed(conversations, "conv_")).select_from(
    _candidate.outerjoin(conversations, and_(
        conversations.c.tenant_id == _candidate.c.tenant_id, conversations.c.inbox_id == _candidate.c.inbox_id,
        conversations.c.contact_id == _candidate.c.contact_id,
        conversations.c.status == ConversationStatus.OPEN.value))))


class ContactRepository:
    def __init__(self, conn: AsyncConnection, db: asyncpg.Connection) -> None:
        self.conn = conn
        self.db = db  # the driver connection beneath conn: the inbound lookup runs there

    async def lookup_inbound(self, senders: Sequence[InboundSender]) -> list[InboundLookup]:
        """One round trip for a batch of inbound messages: for each, is it a duplicate, which
        contacts match its sender's identity, e-mail and phone, and the open conversation of each on
        its inbox. Results are in the order of ``senders``."""
        if not senders:
            return []
        arrays = bind_arrays("senders", idx=list(range(len(senders))), tenant_id=[s.tenant_id for s in senders],
                             inbox_id=[s.inbox_id for s in senders], sender_id=[s.sender_id for s in senders],
                             email=[s.email for s in senders], phone=[s.phone for s in senders],
                             external_id=[s.external_id for s in senders])
        found: list[dict[int, UUID]] = [{} for _ in senders]
        duplicate: set[int] = set()
        open_conversations: list[dict[UUID, Conversation]] = [{} for _ in senders]
        for row in await _LOOKUP_INBOUND.fetch(self.db, arrays):
            idx, rank, contact_id = row["idx"], row["rank"], row["contact_id"]
            if rank == 0:
                duplicate.add(idx)
                continue
            found[idx].setdefault(rank, contact_id)
            if row["conv_id"] is not None:
                open_conversations[idx][contact_id] = _conversation(row, "conv_")
        return [InboundLookup(duplicate=True) if i in duplicate else
                InboundLookup(by_identity=found[i].get(1), by_email=found[i].get(2), by_phone=found[i].get(3),
                              open_conversations=open_conversations[i]) for i in range(len(senders))]

    async def add_with_identity(self, contact: Contact, identity: Identity) -> bool:
        """Insert a contact and its first identity in one statement; False when either already
        existed (a concurrent first message won: discard() the contact, then resolve again)."""
        c = insert(contacts).values(id=contact.id, tenant_id=contact.tenant_id, name=contact.name, email=contact.email,
                                    phone=contact.phone, created_at=contact.created_at
                                    ).on_conflict_do_nothing().returning(contacts.c.id).cte("new_contact")
        uuid_t = PG_UUID(as_uuid=True)
        stmt = insert(ci).from_select(
            ["tenant_id", "channel", "inbox_id", "external_id", "contact_id", "created_at"],
            select(literal(contact.tenant_id, uuid_t), literal(identity.channel), literal(identity.inbox_id, uuid_t),
                   literal(identity.external_id), c.c.id, literal(contact.created_at)),
        ).on_conflict_do_nothing().returning(ci.c.contact_id)
        return (await self.conn.execute(stmt)).first() is not None

    async def discard(self, tenant_id: UUID, contact_id: UUID) -> None:
        """Remove a contact that lost a creation race (it has no identity and no conversation)."""
        await self.conn.execute(delete(contacts).where(
            contacts.c.tenant_id == tenant_id, contacts.c.id == contact_id,
            ~exists().where(ci.c.contact_id == contacts.c.id)))

    async def add_identity(self, tenant_id: UUID, contact_id: UUID, identity: Identity, now: datetime) -> bool:
        result = await self.conn.execute(insert(ci).values(
            tenant_id=tenant_id, channel=identity.channel, inbox_id=identity.inbox_id,
            external_id=identity.external_id, contact_id=contact_id, created_at=now,
        ).on_conflict_do_nothing().returning(ci.c.contact_id))
        return result.first() is not None

    async def recipient_id(self, tenant_id: UUID, contact_id: UUID, inbox_id: UUID) -> str | None:
        return await self.conn.scalar(select(ci.c.external_id).where(
            ci.c.tenant_id == tenant_id, ci.c.contact_id == contact_id, ci.c.inbox_id == inbox_id
        ).order_by(ci.c.created_at).limit(1))

    async def get(self, tenant_id: UUID, contact_id: UUID) -> Contact | None:
        row = (await self.conn.execute(select(contacts).where(
            contacts.c.tenant_id == tenant_id, contacts.c.id == contact_id))).first()
        if row is None:
            return None
        return _contact(row, (await self._identities(tenant_id, [row.id])).get(row.id, ()))

    async def list(self, tenant_id: UUID, *, email: str | None, phone: str | None, after: Cursor,
                   limit: int) -> list[Contact]:
        query = select(contacts).where(contacts.c.tenant_id == tenant_id,
                                       _page_after(contacts.c.created_at, contacts.c.id, after, descending=False))
        if email is not None:
            query = query.where(contacts.c.email == email)
        if phone is not None:
            query = query.where(contacts.c.phone == phone)
        rows = (await self.conn.execute(query.order_by(contacts.c.created_at, contacts.c.id).limit(limit))).all()
        identities = await self._identities(tenant_id, [r.id for r in rows])
        return [_contact(r, identities.get(r.id, ())) for r in rows]

    async def _identities(self, tenant_id: UUID, contact_ids: list[UUID]) -> dict[UUID, tuple[Identity, ...]]:
        if not contact_ids:
            return {}
        rows = (await self.conn.execute(select(ci).where(ci.c.tenant_id == tenant_id, ci.c.contact_id.in_(contact_ids))
                                        .order_by(ci.c.created_at, ci.c.inbox_id, ci.c.external_id))).all()
        out: dict[UUID, list[Identity]] = {}
        for r in rows:
            out.setdefault(r.contact_id, []).append(Identity(r.channel, r.inbox_id, r.external_id))
        return {k: tuple(v) for k, v in out.items()}


# ----------------------------------------------------------------------------- conversations and tickets


_SET_LANGUAGE = update(conversations).where(
    conversations.c.tenant_id == bindparam("t_id"), conversations.c.id == bindparam("c_id"),
).values(language=bindparam("language"),
         updated_at=func.greatest(conversations.c.updated_at, bindparam("now", type_=DateTime(timezone=True))),
         ).returning(*conversations.c)


_LOCK_IN_ORDER = "SELECT id FROM conversations WHERE id = ANY($1::uuid[]) ORDER BY id FOR NO KEY UPDATE"
_LOCK_OF_MESSAGES_IN_ORDER = ("SELECT id FROM conversations WHERE id IN (SELECT conversation_id FROM messages "
                              "WHERE id = ANY($1::uuid[])) ORDER BY id FOR NO KEY UPDATE")


class ConversationRepository:
    def __init__(self, conn: AsyncConnection, db: asyncpg.Connection) -> None:
        self.conn = conn
        self.db = db  # the driver connection beneath conn

    async def add_with_ticket(self, conversation: Conversation, ticket: Ticket) -> bool:
        """Open a conversation and its ticket in one statement; False when the contact already has
        an open conversation on the inbox (then ``find_open``)."""
        c = insert(conversations).values(**_conversation_values(conversation)).on_conflict_do_nothing(
        ).returning(conversations.c.id).cte("new_conversation")
        uuid_t = PG_UUID(as_uuid=True)
        stmt = insert(tickets).from_select(
            ["id", "tenant_id", "conversation_id", "status", "priority", "assignee_agent_id", "opened_at",
             "updated_at"],
            select(literal(ticket.id, uuid_t), literal(ticket.tenant_id, uuid_t), c.c.id, literal(ticket.status.value),
                   literal(ticket.priority), literal(ticket.assignee_agent_id, uuid_t), literal(ticket.opened_at),
                   literal(ticket.updated_at)),
        ).returning(tickets.c.id)
        return (await self.conn.execute(stmt)).first() is not None

    async def find_open(self, tenant_id: UUID, inbox_id: UUID, contact_id: UUID) -> Conversation | None:
        row = (await self.conn.execute(select(conversations).where(
            conversations.c.tenant_id == tenant_id, conversations.c.inbox_id == inbox_id,
            conversations.c.contact_id == contact_id,
            conversations.c.status == ConversationStatus.OPEN.value))).first()
        return _conversation(row) if row else None

    async def get(self, tenant_id: UUID, conversation_id: UUID) -> Conversation | None:
        row = (await self.conn.execute(select(conversations).where(
            conversations.c.tenant_id == tenant_id, conversations.c.id == conversation_id))).first()
        return _conversation(row) if row else None

    async def get_with_ticket(self, tenant_id: UUID, conversation_id: UUID, *, for_update: bool = False
                              ) -> tuple[Conversation, Ticket | None] | None:
        found = await self._with_tickets([(tenant_id, conversation_id)], lock=for_update)
        return found.get((tenant_id, conversation_id))

    async def lock_with_tickets(self, keys: Sequence[tuple[UUID, UUID]]
                                ) -> dict[tuple[UUID, UUID], tuple[Conversation, Ticket | None]]:
        """The conversations ``(tenant_id, id)`` found, each with its ticket, locked FOR UPDATE in id
        order (one order for every batch, so two batches never wait for each other in a cycle)."""
        return await self._with_tickets(keys, lock=True)

    async def _with_tickets(self, keys: Sequence[tuple[UUID, UUID]], *, lock: bool
                            ) -> dict[tuple[UUID, UUID], tuple[Conversation, Ticket | None]]:
        c = conversations.c
        query = select(*_prefixed(conversations, "c_"), *_prefixed(tickets, "t_")).select_from(
            conversations.outerjoin(tickets, tickets.c.conversation_id == c.id)
        ).where(tuple_(c.tenant_id, c.id).in_([tuple(k) for k in keys])).order_by(c.id)
        if lock:
            query = query.with_for_update(of=conversations)
        found = {}
        for row in (await self.conn.execute(query)).all():
            conversation = _conversation(row, "c_")
            found[(conversation.tenant_id, conversation.id)] = (
                conversation, _ticket(row, "t_") if row.t_id is not None else None)
        return found

    async def lock_in_order(self, conversation_ids: Collection[UUID]) -> None:
        """Lock these conversations (FOR NO KEY UPDATE), in id order, before the transaction writes
        any of them.

        Every transaction of ticket that writes several conversations takes their locks in id
        order, all at once: ticket.inbound here (its handlers change languages, then its messages
        bump their conversations at commit, each in its own order), ticket.translations in
        ``lock_of_messages_in_order``, ticket.assignments in ``lock_with_tickets``. In their own
        orders, an inbound batch and a translations batch writing the same conversations
        deadlocked, and PostgreSQL broke that only after ``deadlock_timeout`` (1 s)."""
        if conversation_ids:
            await self.db.execute(_LOCK_IN_ORDER, list(conversation_ids))

    async def lock_of_messages_in_order(self, message_ids: Collection[UUID]) -> None:
        """``lock_in_order`` for the conversations of these messages. A statement of its own, before
        the statement that reads what the handlers decide by (``MessageRepository.
        set_detected_languages``): that one's snapshot is then taken after the wait for a lock, so
        it sees the messages the transaction waited for."""
        if message_ids:
            await self.db.execute(_LOCK_OF_MESSAGES_IN_ORDER, list(message_ids))

    async def save(self, conversation: Conversation, ticket: Ticket | None = None) -> None:
        """Write a conversation's mutable fields (and its ticket's) in one statement."""
        stmt = update(conversations).where(
            conversations.c.tenant_id == conversation.tenant_id, conversations.c.id == conversation.id,
        ).values(status=conversation.status.value, language=conversation.language,
                 assignee_agent_id=conversation.assignee_agent_id, updated_at=conversation.updated_at)
        if ticket is not None:
            t = update(tickets).where(tickets.c.tenant_id == ticket.tenant_id, tickets.c.id == ticket.id).values(
                status=ticket.status.value, assignee_agent_id=ticket.assignee_agent_id, updated_at=ticket.updated_at,
            ).returning(tickets.c.id).cte("ticket_update")
            stmt = stmt.add_cte(t)
        await self.conn.execute(stmt)

    async def set_language(self, tenant_id: UUID, conversation_id: UUID, language: str, now: datetime
                           ) -> Conversation | None:
        """Change only the language (a concurrent assignment or status change is kept); returns the
        conversation as stored now."""
        row = (await self.conn.execute(_SET_LANGUAGE, {"t_id": tenant_id, "c_id": conversation_id,
                                                       "language": language, "now": now})).first()
        return _conversation(row) if row else None

    async def list(self, tenant_id: UUID, *, inbox_id: UUID | None, status: str | None,
                   assignee_agent_id: UUID | None, contact_id: UUID | None, after: Cursor,
                   limit: int) -> list[Conversation]:
        c = conversations.c
        query = select(conversations).where(c.tenant_id == tenant_id,
                                            _page_after(c.created_at, c.id, after, descending=True))
        if inbox_id is not None:
            query = query.where(c.inbox_id == inbox_id)
        if status is not None:
            query = query.where(c.status == status)
        if assignee_agent_id is not None:
            query = query.where(c.assignee_agent_id == assignee_agent_id)
        if contact_id is not None:
            query = query.where(c.contact_id == contact_id)
        rows = (await self.conn.execute(query.order_by(c.created_at.desc(), c.id.desc()).limit(limit))).all()
        return [_conversation(r) for r in rows]


class TicketRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, tenant_id: UUID, ticket_id: UUID) -> Ticket | None:
        row = (await self.conn.execute(select(tickets).where(
            tickets.c.tenant_id == tenant_id, tickets.c.id == ticket_id))).first()
        return _ticket(row) if row else None

    async def list(self, tenant_id: UUID, *, status: str | None, assignee_agent_id: UUID | None, after: Cursor,
                   limit: int) -> list[Ticket]:
        t = tickets.c
        query = select(tickets).where(t.tenant_id == tenant_id, _page_after(t.opened_at, t.id, after, descending=True))
        if status is not None:
            query = query.where(t.status == status)
        if assignee_agent_id is not None:
            query = query.where(t.assignee_agent_id == assignee_agent_id)
        rows = (await self.conn.execute(query.order_by(t.opened_at.desc(), t.id.desc()).limit(limit))).all()
        return [_ticket(r) for r in rows]


# ----------------------------------------------------------------------------- messages


@dataclass(frozen=True, slots=True)
class Detection:
    """A message whose language was just set, its conversation, whether another inbound message of
    the conversation, newer than it, already had a known language (not ``und``), and whether this
    corrected a message announced before as undetermined."""

    message: Message
    conversation: Conversation
    newer_known: bool
    corrected: bool = False


_detections = unnest_rows("detections", ("tenant_id", PG_UUID(as_uuid=True)), ("id", PG_UUID(as_uuid=True)),
                          ("language", Text), ("announced", Boolean))
_detected = update(messages).where(
    messages.c.tenant_id == _detections.c.tenant_id, messages.c.id == _detections.c.id,
    messages.c.direction == Direction.INBOUND.value,
    or_(messages.c.language.is_(None),
        # announced as undetermined when its language was late: a real detection corrects it
        and_(_detections.c.announced, messages.c.language == UNDETERMINED_LANGUAGE,
             _detections.c.language != UNDETERMINED_LANGUAGE)),
).values(language=_detections.c.language).returning(*messages.c, _detections.c.announced).cte("detected")
_other = messages.alias("other")
_newer_known = exists().where(
    _other.c.conversation_id == _detected.c.conversation_id, _other.c.direction == Direction.INBOUND.value,
    _other.c.language.is_not(None), _other.c.language != UNDETERMINED_LANGUAGE,
    tuple_(_other.c.created_at, _other.c.id) > tuple_(_detected.c.created_at, _detected.c.id))
_SET_DETECTED_LANGUAGES = DriverStatement(select(
    *[_detected.c[col.name].label("m_" + col.name) for col in messages.c], *_prefixed(conversations, "c_"),
    _newer_known.label("newer_known"), _detected.c.announced.label("corrected"),
).select_from(_detected.join(conversations, conversations.c.id == _detected.c.conversation_id)))


# messages as arrays -> one INSERT ... ON CONFLICT DO NOTHING, and one UPDATE that moves each touched
# conversation's last_message_at to its newest new message
_new_messages = unnest_rows("new_messages", *((c.name, c.type) for c in messages.c))
_inserted = insert(messages).from_select(
    [c.name for c in messages.c], select(*(_new_messages.c[c.name] for c in messages.c)),
).on_conflict_do_nothing().returning(messages.c.id, messages.c.conversation_id, messages.c.created_at).cte("inserted")
_newest = select(_inserted.c.conversation_id, func.max(_inserted.c.created_at).label("newest")).group_by(
    _inserted.c.conversation_id).subquery("newest")
_bump = update(conversations).where(conversations.c.id == _newest.c.conversation_id).values(
    last_message_at=func.greatest(func.coalesce(conversations.c.last_message_at, _newest.c.newest), _newest.c.newest),
    updated_at=func.greatest(conversations.c.updated_at, _newest.c.newest),
).cte("bump")
_ADD_MESSAGES = DriverStatement(select(_inserted.c.id).add_cte(_bump))


class MessageRepository:
    def __init__(self, conn: AsyncConnection, db: asyncpg.Connection) -> None:
        self.conn = conn
        self.db = db  # the driver connection beneath conn: the batch statements run there

    async def add(self, message: Message) -> bool:
        """Insert one message (see ``add_many``); False when it was not stored."""
        return message.id in await self.add_many([message])

    async def add_many(self, new: Sequence[Message]) -> set[UUID]:
        """Insert messages and bump their conversations' last_message_at, in one statement; returns
        the ids stored. A message whose (tenant, inbox, external_id) exists already, in the table or
        earlier in ``new``, is left out (a redelivered inbound message)."""
        if not new:
            return set()
        rows = [_message_values(m) for m in new]
        arrays = bind_arrays("new_messages", **{c.name: [r[c.name] for r in rows] for c in messages.c})
        return {row[0] for row in await _ADD_MESSAGES.fetch(self.db, arrays)}

    async def get(self, tenant_id: UUID, message_id: UUID) -> Message | None:
        row = (await self.conn.execute(select(messages).where(
            messages.c.tenant_id == tenant_id, messages.c.id == message_id))).first()
        return _message(row) if row else None

    async def set_detected_languages(self, detections: Sequence[tuple[UUID, UUID, str, bool]]
                                     ) -> dict[tuple[UUID, UUID], Detection]:
        """Set the language of each (tenant_id, message_id, language, announced) inbound message that
        has none, or that was announced as undetermined (``announced``) and is now given a determined
        one, in one statement; returns what was set, by (tenant_id, message_id). A message that is
        unknown, outbound or already had its language is left out. Each id must appear once."""
        if not detections:
            return {}
        tenants, ids, languages, announced = zip(*detections, strict=True)
        rows = await _SET_DETECTED_LANGUAGES.fetch(self.db, bind_arrays(
            "detections", tenant_id=list(tenants), id=list(ids), language=list(languages), announced=list(announced)))
        return {(row["m_tenant_id"], row["m_id"]): Detection(_message(row, "m_"), _conversation(row, "c_"),
                                                             newer_known=bool(row["newer_known"]),
                                                             corrected=bool(row["corrected"])) for row in rows}

    async def apply_status(self, tenant_id: UUID, message_id: UUID, status: MessageStatus, error: str | None,
                           sources: frozenset[MessageStatus]) -> Message | None:
        """Move a message to ``status`` if its current status is one of ``sources``."""
        if not sources:
            return None
        row = (await self.conn.execute(update(messages).where(
            messages.c.tenant_id == tenant_id, messages.c.id == message_id,
            messages.c.status.in_([s.value for s in sources]),
        ).values(status=status.value, error=error).returning(*messages.c))).first()
        return _message(row) if row else None

    async def list(self, tenant_id: UUID, conversation_id: UUID, *, after: Cursor, limit: int) -> list[Message]:
        c = messages.c
        rows = (await self.conn.execute(select(messages).where(
            c.tenant_id == tenant_id, c.conversation_id == conversation_id,
            _page_after(c.created_at, c.id, after, descending=False),
        ).order_by(c.created_at, c.id).limit(limit))).all()
        return [_message(r) for r in rows]


# ----------------------------------------------------------------------------- inbound languages


def _meet_sql(half: str, other: str, half_type: str) -> str:
    """One statement for a batch of halves ($1 received event ids, $2 tenant ids, $3 the halves): rows
    that hold the other half already are taken away (DELETE … RETURNING it); the others are stored,
    and an insert that meets a row another transaction committed meanwhile returns that row's other
    half (ON CONFLICT waits for it). Returns (received_event_id, other half or NULL, whether the
    message was announced already as undetermined, whether the row is still there).

    The rows are inserted in received event id order: two of these statements storing the same
    events at once, each in its own batch's order, deadlocked when the orders crossed (each waiting
    for a row the other had inserted), and PostgreSQL broke that only after ``deadlock_timeout``
    (1 s). In one order the later statement only waits for the earlier's commit."""
    return (
        "WITH incoming AS (SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::" + half_type + "[]) AS u(r, t, h)), "
        "taken AS (DELETE FROM inbound_languages AS j USING incoming "
        f"WHERE j.received_event_id = incoming.r AND j.tenant_id = incoming.t AND j.{other} IS NOT NULL "
        f"RETURNING j.received_event_id, j.{other} AS other, j.settled_at IS NOT NULL AS settled), "
        f"kept AS (INSERT INTO inbound_languages (received_event_id, tenant_id, {half}) "
        "SELECT r, t, h FROM incoming WHERE r NOT IN (SELECT received_event_id FROM taken) ORDER BY r "
        f"ON CONFLICT (received_event_id) DO UPDATE SET {half} = EXCLUDED.{half} "
        "WHERE inbound_languages.tenant_id = EXCLUDED.tenant_id "
        f"RETURNING received_event_id, {other} AS other, settled_at IS NOT NULL AS settled) "
        "SELECT received_event_id, other, settled, false AS left_over FROM taken "
        "UNION ALL SELECT received_event_id, other, settled, true FROM kept"
    )


_MEET_MESSAGES = _meet_sql("message_id", "language", "uuid")
_MEET_LANGUAGES = _meet_sql("language", "message_id", "text")
_FORGET = "DELETE FROM inbound_languages WHERE received_event_id = ANY($1::uuid[])"
# messages that waited past $1 for their language: their halves marked settled (at most $2, oldest
# first; a half another transaction is meeting is skipped) and each message given $3 instead
_SETTLE_OVERDUE = (
    "WITH overdue AS (SELECT received_event_id FROM inbound_languages "
    "WHERE message_id IS NOT NULL AND language IS NULL AND settled_at IS NULL AND created_at < $1 "
    "ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED), "
    "settled AS (UPDATE inbound_languages AS j SET settled_at = now() FROM overdue "
    "WHERE j.received_event_id = overdue.received_event_id RETURNING j.tenant_id, j.message_id) "
    "UPDATE messages AS m SET language = $3 FROM settled "
    "WHERE m.tenant_id = settled.tenant_id AND m.id = settled.message_id AND m.language IS NULL "
    "RETURNING m.*"
)
# languages whose message never came, and settled messages whose language never came
_PRUNE_HALVES = ("DELETE FROM inbound_languages WHERE (message_id IS NULL OR settled_at IS NOT NULL) "
                 "AND created_at < $1")


class Threaded(NamedTuple):
    """The message a detected language belongs to, and whether it was announced already, as
    undetermined, because its language came too late (``settle_overdue``)."""

    message_id: UUID
    announced: bool


class InboundLanguageRepository:
    """Joins an inbound message (stored by ticket.inbound) to its language (detected by translation
    from the same MessageReceived and handled by ticket.translations), whichever comes first.

    Each side stores its half under the received event's id, or takes the row away when the other
    half is there already. Both sides run one statement per batch; two transactions that bring the
    two halves at the same time meet on the primary key, the later one waiting for the earlier, so
    exactly one of them sees both halves. A row left with both (that race) is deleted at once.
    A message whose language does not come in time is settled by ``settle_overdue``: announced as
    undetermined, its half kept (marked settled) so that a detection arriving later still finds it
    and corrects it. Halves whose other half never comes (an event dead-lettered, translation down
    for good) are forgotten after a while (``prune_halves``).
    """

    def __init__(self, db: asyncpg.Connection) -> None:
        self.db = db

    async def thread(self, threaded: Sequence[tuple[UUID, UUID, UUID]]) -> dict[UUID, str | None]:
        """(received_event_id, tenant_id, message_id) → the message's language where it came first."""
        return {received: other for received, (other, _) in (await self._meet(_MEET_MESSAGES, threaded)).items()}

    async def detect(self, detected: Sequence[tuple[UUID, UUID, str]]) -> dict[UUID, Threaded | None]:
        """(received_event_id, tenant_id, language) → the message where it was threaded first."""
        met = await self._meet(_MEET_LANGUAGES, detected)
        return {received: Threaded(other, settled) if other is not None else None
                for received, (other, settled) in met.items()}

    async def settle_overdue(self, before: datetime, limit: int, language: str) -> list[Message]:
        """Give ``language`` to at most ``limit`` messages that have waited for theirs since before
        ``before``, oldest first, and mark their halves settled; returns those messages. A detection
        that arrives later finds the message (``detect``) and corrects it."""
        return [_message(row) for row in await self.db.fetch(_SETTLE_OVERDUE, before, limit, language)]

    async def prune_halves(self, before: datetime) -> int:
        """Forget the halves kept since before ``before`` whose other half never came: detected
        languages whose message never came, and settled messages whose language never came."""
        status = await self.db.execute(_PRUNE_HALVES, before)
        return int(status.rsplit(" ", 1)[-1])

    async def _meet(self, sql: str, halves: Sequence[tuple[UUID, UUID, Any]]) -> dict[UUID, tuple[Any, bool]]:
        if not halves:
            return {}
        received, tenants, values = zip(*halves, strict=True)
        rows = await self.db.fetch(sql, list(received), list(tenants), list(values))
        met = {row["received_event_id"]: (row["other"], row["settled"]) for row in rows}
        left_over = [row["received_event_id"] for row in rows if row["left_over"] and row["other"] is not None]
        if left_over:
            await self.db.execute(_FORGET, left_over)
        return met
