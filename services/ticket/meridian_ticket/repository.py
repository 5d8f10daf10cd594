"""Every query of ticket; every method takes ``tenant_id``.

Written for batches: an inbound message costs two statements (one lookup that also deduplicates,
then one insert: of the message, which also bumps its conversation; or of the new conversation with
its ticket and the message; or, for a new sender, of the contact and its identity too), and inserts
are ``ON CONFLICT DO NOTHING RETURNING`` followed by a re-read, so events of one batch (or of
concurrent transactions) that touch the same contact or conversation converge on the unique keys.

Every statement is built once, at import, with bind parameters: building a SQLAlchemy statement
(CTEs above all) costs more CPU than running it. The listings, whose filters are optional, build one
statement per combination of filters, once. Fixed values (a status, a direction) are rendered
inline so that PostgreSQL's generic plans can still use the partial indexes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    DateTime,
    Integer,
    Text,
    and_,
    any_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    literal_column,
    null,
    select,
    tuple_,
    union_all,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.elements import BindParameter, ColumnElement

from meridian_ticket.domain.model import (
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

_UUID = PG_UUID(as_uuid=True)
_TS = DateTime(timezone=True)

# ----------------------------------------------------------------------------- row mapping


def _conversation(row: Any, prefix: str = "") -> Conversation:
    g = (lambda n: getattr(row, prefix + n)) if prefix else (lambda n: getattr(row, n))
    return Conversation(id=g("id"), tenant_id=g("tenant_id"), inbox_id=g("inbox_id"), contact_id=g("contact_id"),
                        channel=g("channel"), status=ConversationStatus(g("status")), language=g("language"),
                        assignee_agent_id=g("assignee_agent_id"), created_at=g("created_at"),
                        updated_at=g("updated_at"), last_message_at=g("last_message_at"))


def _message(row: Any, prefix: str = "") -> Message:
    g = (lambda n: getattr(row, prefix + n)) if prefix else (lambda n: getattr(row, n))
    return Message(id=g("id"), tenant_id=g("tenant_id"), conversation_id=g("conversation_id"), inbox_id=g("inbox_id"),
                   contact_id=g("contact_id"), direction=Direction(g("direction")), text=g("text"),
                   language=g("language"), status=MessageStatus(g("status")), sender_agent_id=g("sender_agent_id"),
                   external_id=g("external_id"), error=g("error"), created_at=g("created_at"))


def _ticket(row: Any, prefix: str = "") -> Ticket:
    g = (lambda n: getattr(row, prefix + n)) if prefix else (lambda n: getattr(row, n))
    return Ticket(id=g("id"), tenant_id=g("tenant_id"), conversation_id=g("conversation_id"),
                  status=TicketStatus(g("status")), priority=g("priority"), assignee_agent_id=g("assignee_agent_id"),
                  opened_at=g("opened_at"), updated_at=g("updated_at"))


def _contact(row: Any, identities: tuple[Identity, ...] = ()) -> Contact:
    return Contact(id=row.id, tenant_id=row.tenant_id, name=row.name, email=row.email, phone=row.phone,
                   created_at=row.created_at, identities=identities)


def _prefixed(table: Any, prefix: str) -> list[Any]:
    return [c.label(prefix + c.name) for c in table.c]


# ----------------------------------------------------------------------------- statement building blocks
#
# A row to insert is bound as one parameter per column, named ``<prefix><column>`` (never a bare
# column name: SQLAlchemy reserves those for the VALUES/SET clause of the target table).


def _binds(table: Any, prefix: str) -> dict[str, BindParameter[Any]]:
    return {c.name: bindparam(prefix + c.name, type_=c.type) for c in table.c}


def _row_from(table: Any, prefix: str, **sources: ColumnElement[Any]) -> Any:
    """A SELECT of one row of ``table``: bound parameters, except the columns given in ``sources``
    (taken from a CTE); for ``insert().from_select``."""
    binds = _binds(table, prefix)
    return select(*(sources.get(c.name, binds[c.name]) for c in table.c))


def _fixed(value: str) -> Any:
    """A constant rendered inline (not a bind parameter): only for the fixed values of an enum."""
    assert "'" not in value
    return literal_column(f"'{value}'", Text)


def _conversation_params(c: Conversation, prefix: str = "c_") -> dict[str, Any]:
    return {prefix + "id": c.id, prefix + "tenant_id": c.tenant_id, prefix + "inbox_id": c.inbox_id,
            prefix + "contact_id": c.contact_id, prefix + "channel": c.channel, prefix + "status": c.status.value,
            prefix + "language": c.language, prefix + "assignee_agent_id": c.assignee_agent_id,
            prefix + "created_at": c.created_at, prefix + "updated_at": c.updated_at,
            prefix + "last_message_at": c.last_message_at}


def _message_params(m: Message, prefix: str = "m_") -> dict[str, Any]:
    return {prefix + "id": m.id, prefix + "tenant_id": m.tenant_id, prefix + "conversation_id": m.conversation_id,
            prefix + "inbox_id": m.inbox_id, prefix + "contact_id": m.contact_id,
            prefix + "direction": m.direction.value, prefix + "text": m.text, prefix + "language": m.language,
            prefix + "status": m.status.value, prefix + "sender_agent_id": m.sender_agent_id,
            prefix + "external_id": m.external_id, prefix + "error": m.error, prefix + "created_at": m.created_at}


def _ticket_params(t: Ticket, prefix: str = "t_") -> dict[str, Any]:
    return {prefix + "id": t.id, prefix + "tenant_id": t.tenant_id, prefix + "conversation_id": t.conversation_id,
            prefix + "status": t.status.value, prefix + "priority": t.priority,
            prefix + "assignee_agent_id": t.assignee_agent_id, prefix + "opened_at": t.opened_at,
            prefix + "updated_at": t.updated_at}


def _contact_params(c: Contact, prefix: str = "k_") -> dict[str, Any]:
    return {prefix + "id": c.id, prefix + "tenant_id": c.tenant_id, prefix + "name": c.name,
            prefix + "email": c.email, prefix + "phone": c.phone, prefix + "created_at": c.created_at}


def _identity_params(tenant_id: UUID, contact_id: UUID, identity: Identity, created_at: datetime,
                     prefix: str = "i_") -> dict[str, Any]:
    return {prefix + "tenant_id": tenant_id, prefix + "channel": identity.channel,
            prefix + "inbox_id": identity.inbox_id, prefix + "external_id": identity.external_id,
            prefix + "contact_id": contact_id, prefix + "created_at": created_at}


def _first_message_bumps(conversation: Conversation, message: Message) -> Conversation:
    """The conversation as ``MessageRepository.add``'s bump would leave it after ``message``."""
    created = message.created_at
    last = conversation.last_message_at
    return replace(conversation, last_message_at=created if last is None else max(last, created),
                   updated_at=max(conversation.updated_at, created))


_AFTER_CREATED = bindparam("after_created", type_=_TS)
_AFTER_ID = bindparam("after_id", type_=_UUID)


def _page_after(created: Any, ident: Any, *, descending: bool) -> Any:
    """Keyset pagination past ``(:after_created, :after_id)``."""
    if descending:
        return tuple_(created, ident) < tuple_(_AFTER_CREATED, _AFTER_ID)
    return tuple_(created, ident) > tuple_(_AFTER_CREATED, _AFTER_ID)


def _cursor_params(after: Cursor) -> dict[str, Any]:
    return {} if after is None else {"after_created": after[0], "after_id": after[1]}


# ----------------------------------------------------------------------------- statements: contacts

# the candidates for an inbound message's sender: rank 0 = the message is a duplicate, 1 = the
# sender's identity, 2 = same e-mail, 3 = same phone. A NULL external id / e-mail / phone matches
# nothing (``= NULL`` is never true), so one statement serves every combination.
_tenant = bindparam("tenant_id", type_=_UUID)
_inbox = bindparam("inbox_id", type_=_UUID)
_cand = union_all(
    select(literal_column("1", Integer).label("rank"), ci.c.contact_id.label("contact_id")).where(
        ci.c.tenant_id == _tenant, ci.c.inbox_id == _inbox, ci.c.external_id == bindparam("sender_id", type_=Text)),
    select(literal_column("0", Integer), cast(null(), _UUID)).where(exists().where(
        messages.c.tenant_id == _tenant, messages.c.inbox_id == _inbox,
        messages.c.external_id == bindparam("external_id", type_=Text))),
    select(literal_column("2", Integer), contacts.c.id).where(
        contacts.c.tenant_id == _tenant, contacts.c.email == bindparam("email", type_=Text)),
    select(literal_column("3", Integer), contacts.c.id).where(
        contacts.c.tenant_id == _tenant, contacts.c.phone == bindparam("phone", type_=Text)),
).subquery("cand")
_LOOKUP_INBOUND = select(_cand.c.rank, _cand.c.contact_id, *_prefixed(conversations, "conv_")).select_from(
    _cand.outerjoin(conversations, and_(
        conversations.c.tenant_id == _tenant, conversations.c.inbox_id == _inbox,
        conversations.c.contact_id == _cand.c.contact_id,
        conversations.c.status == _fixed(ConversationStatus.OPEN.value))))

_ADD_IDENTITY = insert(ci).values(_binds(ci, "i_")).on_conflict_do_nothing().returning(ci.c.contact_id)

_DISCARD_CONTACT = delete(contacts).where(
    contacts.c.tenant_id == bindparam("p_tenant_id", type_=_UUID), contacts.c.id == bindparam("p_id", type_=_UUID),
    ~exists().where(ci.c.contact_id == contacts.c.id))

_RECIPIENT_ID = select(ci.c.external_id).where(
    ci.c.tenant_id == bindparam("tenant_id", type_=_UUID), ci.c.contact_id == bindparam("contact_id", type_=_UUID),
    ci.c.inbox_id == bindparam("inbox_id", type_=_UUID)).order_by(ci.c.created_at).limit(1)

_GET_CONTACT = select(contacts).where(contacts.c.tenant_id == bindparam("p_tenant_id", type_=_UUID),
                                      contacts.c.id == bindparam("p_id", type_=_UUID))

_IDENTITIES = select(ci).where(
    ci.c.tenant_id == bindparam("p_tenant_id", type_=_UUID),
    ci.c.contact_id == any_(bindparam("p_contact_ids", type_=ARRAY(_UUID))),
).order_by(ci.c.created_at, ci.c.inbox_id, ci.c.external_id)


def _open_with_first_message(conversation_source: dict[str, ColumnElement[Any]], *ctes: Any) -> Any:
    """INSERT a conversation (``ON CONFLICT DO NOTHING``), its ticket and its first message (when the
    conversation was inserted; the message ``ON CONFLICT DO NOTHING``) in one statement; the SELECT
    returns how many rows of each were inserted (``conversations``, ``tickets``, ``messages``, and
    ``identities`` when ``conversation_source`` comes from the identity CTE)."""
    new_conversation = insert(conversations).from_select(
        [c.name for c in conversations.c], _row_from(conversations, "c_", **conversation_source),
    ).on_conflict_do_nothing().returning(conversations.c.id).cte("new_conversation")
    new_ticket = insert(tickets).from_select(
        [c.name for c in tickets.c], _row_from(tickets, "t_", conversation_id=new_conversation.c.id),
    ).returning(tickets.c.id).cte("new_ticket")
    new_message = insert(messages).from_select(
        [c.name for c in messages.c], _row_from(messages, "m_", conversation_id=new_conversation.c.id),
    ).on_conflict_do_nothing().returning(messages.c.id).cte("new_message")
    counts = [select(func.count()).select_from(cte).scalar_subquery().label(name) for name, cte in
              [*ctes, ("conversations", new_conversation), ("tickets", new_ticket), ("messages", new_message)]]
    return select(*counts)


_c_binds = _binds(conversations, "c_")
_OPEN_CONVERSATION = _open_with_first_message({"id": _c_binds["id"]})

_new_contact = insert(contacts).values(_binds(contacts, "k_")).on_conflict_do_nothing().returning(
    contacts.c.id).cte("new_contact")
_new_identity = insert(ci).from_select(
    [c.name for c in ci.c], _row_from(ci, "i_", contact_id=_new_contact.c.id),
).on_conflict_do_nothing().returning(ci.c.contact_id).cte("new_identity")
_OPEN_CONTACT_CONVERSATION = _open_with_first_message({"contact_id": _new_identity.c.contact_id},
                                                      ("identities", _new_identity))


# ----------------------------------------------------------------------------- statements: conversations

_FIND_OPEN = select(conversations).where(
    conversations.c.tenant_id == bindparam("p_tenant_id", type_=_UUID),
    conversations.c.inbox_id == bindparam("p_inbox_id", type_=_UUID),
    conversations.c.contact_id == bindparam("p_contact_id", type_=_UUID),
    conversations.c.status == _fixed(ConversationStatus.OPEN.value))

_GET_CONVERSATION = select(conversations).where(conversations.c.tenant_id == bindparam("p_tenant_id", type_=_UUID),
                                                conversations.c.id == bindparam("p_id", type_=_UUID))

_GET_WITH_TICKET = select(*_prefixed(conversations, "c_"), *_prefixed(tickets, "t_")).select_from(
    conversations.outerjoin(tickets, tickets.c.conversation_id == conversations.c.id)
).where(conversations.c.tenant_id == bindparam("p_tenant_id", type_=_UUID),
        conversations.c.id == bindparam("p_id", type_=_UUID))
_GET_WITH_TICKET_FOR_UPDATE = _GET_WITH_TICKET.with_for_update(of=conversations)

_SAVE_CONVERSATION = update(conversations).where(
    conversations.c.tenant_id == bindparam("c_tenant_id", type_=_UUID),
    conversations.c.id == bindparam("c_id", type_=_UUID),
).values(status=bindparam("c_status", type_=Text), language=bindparam("c_language", type_=Text),
         assignee_agent_id=bindparam("c_assignee_agent_id", type_=_UUID),
         updated_at=bindparam("c_updated_at", type_=_TS))
_SAVE_CONVERSATION_AND_TICKET = _SAVE_CONVERSATION.add_cte(
    update(tickets).where(tickets.c.tenant_id == bindparam("t_tenant_id", type_=_UUID),
                          tickets.c.id == bindparam("t_id", type_=_UUID)).values(
        status=bindparam("t_status", type_=Text), assignee_agent_id=bindparam("t_assignee_agent_id", type_=_UUID),
        updated_at=bindparam("t_updated_at", type_=_TS),
    ).returning(tickets.c.id).cte("ticket_update"))

_CONVERSATION_LISTS: dict[tuple[bool, ...], Any] = {}


def _conversation_list(inbox: bool, status: bool, assignee: bool, contact: bool, after: bool) -> Any:
    key = (inbox, status, assignee, contact, after)
    stmt = _CONVERSATION_LISTS.get(key)
    if stmt is None:
        c = conversations.c
        stmt = select(conversations).where(c.tenant_id == bindparam("p_tenant_id", type_=_UUID))
        if after:
            stmt = stmt.where(_page_after(c.created_at, c.id, descending=True))
        if inbox:
            stmt = stmt.where(c.inbox_id == bindparam("p_inbox_id", type_=_UUID))
        if status:
            stmt = stmt.where(c.status == bindparam("p_status", type_=Text))
        if assignee:
            stmt = stmt.where(c.assignee_agent_id == bindparam("p_assignee_agent_id", type_=_UUID))
        if contact:
            stmt = stmt.where(c.contact_id == bindparam("p_contact_id", type_=_UUID))
        stmt = stmt.order_by(c.created_at.desc(), c.id.desc()).limit(bindparam("p_limit", type_=Integer))
        _CONVERSATION_LISTS[key] = stmt
    return stmt


# ----------------------------------------------------------------------------- statements: tickets

_GET_TICKET = select(tickets).where(tickets.c.tenant_id == bindparam("p_tenant_id", type_=_UUID),
                                    tickets.c.id == bindparam("p_id", type_=_UUID))

_TICKET_LISTS: dict[tuple[bool, ...], Any] = {}


def _ticket_list(status: bool, assignee: bool, after: bool) -> Any:
    key = (status, assignee, after)
    stmt = _TICKET_LISTS.get(key)
    if stmt is None:
        t = tickets.c
        stmt = select(tickets).where(t.tenant_id == bindparam("p_tenant_id", type_=_UUID))
        if after:
            stmt = stmt.where(_page_after(t.opened_at, t.id, descending=True))
        if status:
            stmt = stmt.where(t.status == bindparam("p_status", type_=Text))
        if assignee:
            stmt = stmt.where(t.assignee_agent_id == bindparam("p_assignee_agent_id", type_=_UUID))
        stmt = stmt.order_by(t.opened_at.desc(), t.id.desc()).limit(bindparam("p_limit", type_=Integer))
        _TICKET_LISTS[key] = stmt
    return stmt


_CONTACT_LISTS: dict[tuple[bool, ...], Any] = {}


def _contact_list(email: bool, phone: bool, after: bool) -> Any:
    key = (email, phone, after)
    stmt = _CONTACT_LISTS.get(key)
    if stmt is None:
        k = contacts.c
        stmt = select(contacts).where(k.tenant_id == bindparam("p_tenant_id", type_=_UUID))
        if after:
            stmt = stmt.where(_page_after(k.created_at, k.id, descending=False))
        if email:
            stmt = stmt.where(k.email == bindparam("p_email", type_=Text))
        if phone:
            stmt = stmt.where(k.phone == bindparam("p_phone", type_=Text))
        stmt = stmt.order_by(k.created_at, k.id).limit(bindparam("p_limit", type_=Integer))
        _CONTACT_LISTS[key] = stmt
    return stmt


# ----------------------------------------------------------------------------- statements: messages

_new_message = insert(messages).values(_binds(messages, "m_")).on_conflict_do_nothing().returning(
    messages.c.conversation_id, messages.c.created_at).cte("new_message")
_ADD_MESSAGE = update(conversations).where(conversations.c.id == _new_message.c.conversation_id).values(
    last_message_at=func.greatest(func.coalesce(conversations.c.last_message_at, _new_message.c.created_at),
                                  _new_message.c.created_at),
    updated_at=func.greatest(conversations.c.updated_at, _new_message.c.created_at),
).returning(conversations.c.id)

_GET_MESSAGE = select(messages).where(messages.c.tenant_id == bindparam("p_tenant_id", type_=_UUID),
                                      messages.c.id == bindparam("p_id", type_=_UUID))

_detected = update(messages).where(
    messages.c.tenant_id == bindparam("p_tenant_id", type_=_UUID), messages.c.id == bindparam("p_id", type_=_UUID),
    messages.c.direction == _fixed(Direction.INBOUND.value), messages.c.language.is_(None),
).values(language=bindparam("p_language", type_=Text)).returning(*messages.c).cte("detected")
_other = messages.alias("other")
_newer = exists().where(
    _other.c.conversation_id == _detected.c.conversation_id, _other.c.direction == _fixed(Direction.INBOUND.value),
    _other.c.language.is_not(None),
    tuple_(_other.c.created_at, _other.c.id) > tuple_(_detected.c.created_at, _detected.c.id))
_SET_DETECTED_LANGUAGE = select(*[col.label("m_" + col.name) for col in _detected.c], *_prefixed(conversations, "c_"),
                                (~_newer).label("latest")).select_from(
    _detected.join(conversations, conversations.c.id == _detected.c.conversation_id))

_APPLY_STATUS = update(messages).where(
    messages.c.tenant_id == bindparam("p_tenant_id", type_=_UUID), messages.c.id == bindparam("p_id", type_=_UUID),
    messages.c.status == any_(bindparam("p_sources", type_=ARRAY(Text))),
).values(status=bindparam("p_status", type_=Text), error=bindparam("p_error", type_=Text)).returning(*messages.c)

_MESSAGE_LISTS: dict[bool, Any] = {}


def _message_list(after: bool) -> Any:
    stmt = _MESSAGE_LISTS.get(after)
    if stmt is None:
        m = messages.c
        stmt = select(messages).where(m.tenant_id == bindparam("p_tenant_id", type_=_UUID),
                                      m.conversation_id == bindparam("p_conversation_id", type_=_UUID))
        if after:
            stmt = stmt.where(_page_after(m.created_at, m.id, descending=False))
        stmt = stmt.order_by(m.created_at, m.id).limit(bindparam("p_limit", type_=Integer))
        _MESSAGE_LISTS[after] = stmt
    return stmt


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


class ContactRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lookup_inbound(self, tenant_id: UUID, inbox_id: UUID, sender_id: str, email: str | None,
                             phone: str | None, external_id: str | None) -> InboundLookup:
        """One round trip: is the message a duplicate, which contacts match the sender's identity,
        e-mail and phone, and the open conversation of each on this inbox."""
        rows = (await self.conn.execute(_LOOKUP_INBOUND, {
            "tenant_id": tenant_id, "inbox_id": inbox_id, "sender_id": sender_id,
            "external_id": external_id or None, "email": email or None, "phone": phone or None})).all()
        found: dict[int, UUID] = {}
        open_conversations: dict[UUID, Conversation] = {}
        for row in rows:
            if row.rank == 0:
                return InboundLookup(duplicate=True)
            found.setdefault(row.rank, row.contact_id)
            if row.conv_id is not None:
                open_conversations[row.contact_id] = _conversation(row, "conv_")
        return InboundLookup(by_identity=found.get(1), by_email=found.get(2), by_phone=found.get(3),
                             open_conversations=open_conversations)

    async def add_with_conversation(self, contact: Contact, identity: Identity, conversation: Conversation,
                                    ticket: Ticket, message: Message) -> bool | None:
        """A new sender, in one statement: the contact, its first identity, its conversation (which
        must be ``conversation.contact_id == contact.id``), the ticket and the first message.

        None when the contact or the identity already existed (a concurrent first message won):
        nothing but maybe the contact was written, so ``discard()`` it and resolve again. Else
        whether the message was stored (False: a message with its external id exists)."""
        params = {**_contact_params(contact),
                  **_identity_params(contact.tenant_id, contact.id, identity, contact.created_at),
                  **_conversation_params(_first_message_bumps(conversation, message)),
                  **_ticket_params(ticket), **_message_params(message)}
        row = (await self.conn.execute(_OPEN_CONTACT_CONVERSATION, params)).one()
        if not row.identities:
            return None
        if not row.conversations:   # pragma: no cover - a new contact has no conversation to conflict with
            raise RuntimeError("the new contact's conversation was not inserted")
        return bool(row.messages)

    async def discard(self, tenant_id: UUID, contact_id: UUID) -> None:
        """Remove a contact that lost a creation race (it has no identity and no conversation)."""
        await self.conn.execute(_DISCARD_CONTACT, {"p_tenant_id": tenant_id, "p_id": contact_id})

    async def add_identity(self, tenant_id: UUID, contact_id: UUID, identity: Identity, now: datetime) -> bool:
        result = await self.conn.execute(_ADD_IDENTITY, _identity_params(tenant_id, contact_id, identity, now))
        return result.first() is not None

    async def recipient_id(self, tenant_id: UUID, contact_id: UUID, inbox_id: UUID) -> str | None:
        return await self.conn.scalar(_RECIPIENT_ID, {"tenant_id": tenant_id, "contact_id": contact_id,
                                                      "inbox_id": inbox_id})

    async def get(self, tenant_id: UUID, contact_id: UUID) -> Contact | None:
        row = (await self.conn.execute(_GET_CONTACT, {"p_tenant_id": tenant_id, "p_id": contact_id})).first()
        if row is None:
            return None
        return _contact(row, (await self._identities(tenant_id, [row.id])).get(row.id, ()))

    async def list(self, tenant_id: UUID, *, email: str | None, phone: str | None, after: Cursor,
                   limit: int) -> list[Contact]:
        stmt = _contact_list(email is not None, phone is not None, after is not None)
        rows = (await self.conn.execute(stmt, {"p_tenant_id": tenant_id, "p_email": email, "p_phone": phone,
                                               "p_limit": limit, **_cursor_params(after)})).all()
        identities = await self._identities(tenant_id, [r.id for r in rows])
        return [_contact(r, identities.get(r.id, ())) for r in rows]

    async def _identities(self, tenant_id: UUID, contact_ids: Iterable[UUID]) -> dict[UUID, tuple[Identity, ...]]:
        contact_ids = list(contact_ids)
        if not contact_ids:
            return {}
        rows = (await self.conn.execute(_IDENTITIES, {"p_tenant_id": tenant_id, "p_contact_ids": contact_ids})).all()
        out: dict[UUID, list[Identity]] = {}
        for r in rows:
            out.setdefault(r.contact_id, []).append(Identity(r.channel, r.inbox_id, r.external_id))
        return {k: tuple(v) for k, v in out.items()}


# ----------------------------------------------------------------------------- conversations and tickets


class ConversationRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add_with_ticket(self, conversation: Conversation, ticket: Ticket, message: Message) -> bool | None:
        """Open a conversation with its ticket and first message in one statement.

        None when the contact already has an open conversation on the inbox (nothing was written:
        ``find_open`` it and ``MessageRepository.add`` the message there); else whether the message
        was stored (False: a message with its external id exists)."""
        params = {**_conversation_params(_first_message_bumps(conversation, message)), **_ticket_params(ticket),
                  **_message_params(message)}
        row = (await self.conn.execute(_OPEN_CONVERSATION, params)).one()
        if not row.conversations:
            return None
        return bool(row.messages)

    async def find_open(self, tenant_id: UUID, inbox_id: UUID, contact_id: UUID) -> Conversation | None:
        row = (await self.conn.execute(_FIND_OPEN, {"p_tenant_id": tenant_id, "p_inbox_id": inbox_id,
                                                    "p_contact_id": contact_id})).first()
        return _conversation(row) if row else None

    async def get(self, tenant_id: UUID, conversation_id: UUID) -> Conversation | None:
        row = (await self.conn.execute(_GET_CONVERSATION, {"p_tenant_id": tenant_id, "p_id": conversation_id})).first()
        return _conversation(row) if row else None

    async def get_with_ticket(self, tenant_id: UUID, conversation_id: UUID, *, for_update: bool = False
                              ) -> tuple[Conversation, Ticket | None] | None:
        stmt = _GET_WITH_TICKET_FOR_UPDATE if for_update else _GET_WITH_TICKET
        row = (await self.conn.execute(stmt, {"p_tenant_id": tenant_id, "p_id": conversation_id})).first()
        if row is None:
            return None
        return _conversation(row, "c_"), (_ticket(row, "t_") if row.t_id is not None else None)

    async def save(self, conversation: Conversation, ticket: Ticket | None = None) -> None:
        """Write a conversation's mutable fields (and its ticket's) in one statement."""
        params = {"c_tenant_id": conversation.tenant_id, "c_id": conversation.id,
                  "c_status": conversation.status.value, "c_language": conversation.language,
                  "c_assignee_agent_id": conversation.assignee_agent_id, "c_updated_at": conversation.updated_at}
        if ticket is None:
            await self.conn.execute(_SAVE_CONVERSATION, params)
            return
        params.update(t_tenant_id=ticket.tenant_id, t_id=ticket.id, t_status=ticket.status.value,
                      t_assignee_agent_id=ticket.assignee_agent_id, t_updated_at=ticket.updated_at)
        await self.conn.execute(_SAVE_CONVERSATION_AND_TICKET, params)

    async def list(self, tenant_id: UUID, *, inbox_id: UUID | None, status: str | None,
                   assignee_agent_id: UUID | None, contact_id: UUID | None, after: Cursor,
                   limit: int) -> list[Conversation]:
        stmt = _conversation_list(inbox_id is not None, status is not None, assignee_agent_id is not None,
                                  contact_id is not None, after is not None)
        rows = (await self.conn.execute(stmt, {
            "p_tenant_id": tenant_id, "p_inbox_id": inbox_id, "p_status": status,
            "p_assignee_agent_id": assignee_agent_id, "p_contact_id": contact_id, "p_limit": limit,
            **_cursor_params(after)})).all()
        return [_conversation(r) for r in rows]


class TicketRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, tenant_id: UUID, ticket_id: UUID) -> Ticket | None:
        row = (await self.conn.execute(_GET_TICKET, {"p_tenant_id": tenant_id, "p_id": ticket_id})).first()
        return _ticket(row) if row else None

    async def list(self, tenant_id: UUID, *, status: str | None, assignee_agent_id: UUID | None, after: Cursor,
                   limit: int) -> list[Ticket]:
        stmt = _ticket_list(status is not None, assignee_agent_id is not None, after is not None)
        rows = (await self.conn.execute(stmt, {
            "p_tenant_id": tenant_id, "p_status": status, "p_assignee_agent_id": assignee_agent_id,
            "p_limit": limit, **_cursor_params(after)})).all()
        return [_ticket(r) for r in rows]


# ----------------------------------------------------------------------------- messages


class MessageRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, message: Message) -> bool:
        """Insert a message and bump its conversation's last_message_at in one statement; False when
        a message with the same (tenant, inbox, external_id) exists (a redelivered inbound message)."""
        return (await self.conn.execute(_ADD_MESSAGE, _message_params(message))).first() is not None

    async def get(self, tenant_id: UUID, message_id: UUID) -> Message | None:
        row = (await self.conn.execute(_GET_MESSAGE, {"p_tenant_id": tenant_id, "p_id": message_id})).first()
        return _message(row) if row else None

    async def set_detected_language(self, tenant_id: UUID, message_id: UUID, language: str
                                    ) -> tuple[Message, Conversation, bool] | None:
        """Set an inbound message's language if it has none; returns the message, its conversation
        and whether it is the customer's latest message with a known language (None: the message is
        unknown, or already had its language)."""
        row = (await self.conn.execute(_SET_DETECTED_LANGUAGE, {"p_tenant_id": tenant_id, "p_id": message_id,
                                                                "p_language": language})).first()
        if row is None:
            return None
        return _message(row, "m_"), _conversation(row, "c_"), bool(row.latest)

    async def apply_status(self, tenant_id: UUID, message_id: UUID, status: MessageStatus, error: str | None,
                           sources: frozenset[MessageStatus]) -> Message | None:
        """Move a message to ``status`` if its current status is one of ``sources``."""
        if not sources:
            return None
        row = (await self.conn.execute(_APPLY_STATUS, {
            "p_tenant_id": tenant_id, "p_id": message_id, "p_sources": sorted(s.value for s in sources),
            "p_status": status.value, "p_error": error})).first()
        return _message(row) if row else None

    async def list(self, tenant_id: UUID, conversation_id: UUID, *, after: Cursor, limit: int) -> list[Message]:
        rows = (await self.conn.execute(_message_list(after is not None), {
            "p_tenant_id": tenant_id, "p_conversation_id": conversation_id, "p_limit": limit,
            **_cursor_params(after)})).all()
        return [_message(r) for r in rows]
