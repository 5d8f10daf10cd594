"""TicketUow: ticket's repositories on one transaction, and what a consumer batch shares in it.

A batch of MessageReceived events looks up all its senders in one statement (``prefetch_inbound``);
a handler uses its sender's answer unless an earlier event of the transaction changed the tenant's
contacts or conversations (then it looks up again). The handlers' new messages are stored together
at commit (``add_message``), and each one's follow-up runs once it is known to be stored.

A batch of AssignmentDecided events locks and reads all its conversations (with their tickets) in
one statement (``lock_conversations``); each handler takes its conversation once with
``conversation_for_update``, and a later event of the batch for the same conversation reads it
again (locked already, and changed by the earlier one).

An inbound message and its language arrive apart: ticket.inbound threads the message of a
MessageReceived while translation detects its language from the same event. Each batch records its
halves in one statement (``thread_inbound`` for new message ids, ``detect_inbound`` for languages);
the half that comes second finds the first (``inbound_message``, ``inbound_detected``). After its
pairing statement, each batch locks the conversations it may write, in id order, before writing any
(``lock_inbound_conversations``; ``detect_inbound``), so that the two groups' batches never wait for
each other in a cycle. A message whose language came too late was announced as undetermined
(meridian_ticket.language_deadline); its detection, when it comes, corrects it.

A batch of MessageTranslated events whose messages are threaded sets their languages in one
statement (``detect_languages``, run before the handlers); each handler then takes its message's
result with ``detection``. Because that statement read the database once for the whole batch, the
handlers also keep here what earlier events of the same transaction changed: the newest message of
each conversation given a language so far, and the conversations whose language they changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import UUID

from meridian.db.uow import SqlUnitOfWork
from meridian.ids import uuid7
from sqlalchemy.ext.asyncio import AsyncConnection

from meridian_ticket.domain.model import Conversation, Message, Ticket
from meridian_ticket.repository import (
    ContactRepository,
    ConversationRepository,
    Detection,
    InboundLanguageRepository,
    InboundLookup,
    InboundSender,
    MessageRepository,
    Threaded,
    TicketRepository,
)


def _stored() -> None:
    """Nothing to do once a message is stored."""


class TicketUow(SqlUnitOfWork):
    contacts: ContactRepository
    conversations: ConversationRepository
    messages: MessageRepository
    tickets: TicketRepository
    inbound_languages: InboundLanguageRepository

    def bind(self, conn: AsyncConnection) -> None:
        self.contacts = ContactRepository(conn, self.db)
        self.conversations = ConversationRepository(conn, self.db)
        self.messages = MessageRepository(conn, self.db)
        self.tickets = TicketRepository(conn)
        self.inbound_languages = InboundLanguageRepository(self.db)
        self._threaded: dict[UUID, tuple[UUID, str | None]] = {}
        self._detected_inbound: dict[UUID, Threaded | None] = {}
        self._detections: dict[tuple[UUID, UUID], Detection | None] = {}
        self._newest_detected: dict[UUID, tuple[datetime, UUID]] = {}
        self._saved_conversations: dict[UUID, Conversation] = {}
        self._inbound: dict[InboundSender, InboundLookup] = {}
        self._contacts_changed: set[UUID] = set()
        self._locked: dict[tuple[UUID, UUID], tuple[Conversation, Ticket | None]] = {}

    def add_message(self, message: Message, on_stored: Callable[[], None] | None = None) -> None:
        """Store ``message`` at commit with the transaction's other new messages, in one statement;
        ``on_stored`` (if given) runs unless it was a duplicate (see ``store_at_commit``)."""
        self.store_at_commit(self.messages.add_many, message, on_stored or _stored)

    async def prefetch_inbound(self, senders: Sequence[InboundSender]) -> None:
        """Look up a batch's senders in one statement (see ``inbound_lookup``)."""
        todo = list(dict.fromkeys(senders))
        self._inbound.update(zip(todo, await self.contacts.lookup_inbound(todo), strict=True))

    async def lock_inbound_conversations(self) -> None:
        """Lock the open conversations the batch's lookups found (``prefetch_inbound``), in id order,
        before its handlers write any (``ConversationRepository.lock_in_order``)."""
        await self.conversations.lock_in_order({conversation.id for lookup in self._inbound.values()
                                                for conversation in lookup.open_conversations.values()})

    async def lock_conversations(self, keys: Sequence[tuple[UUID, UUID]]) -> None:
        """Lock and read a batch's conversations ``(tenant_id, id)`` with their tickets in one statement."""
        if keys:
            self._locked.update(await self.conversations.lock_with_tickets(list(dict.fromkeys(keys))))

    async def conversation_for_update(self, tenant_id: UUID, conversation_id: UUID
                                      ) -> tuple[Conversation, Ticket | None] | None:
        """The conversation with its ticket, locked: the batch's read the first time, then read again."""
        found = self._locked.pop((tenant_id, conversation_id), None)
        if found is None:
            found = await self.conversations.get_with_ticket(tenant_id, conversation_id, for_update=True)
        return found

    async def inbound_lookup(self, sender: InboundSender, *, fresh: bool = False) -> InboundLookup:
        """What the database knows of this sender: the batch's prefetched answer while it still
        holds, i.e. once, and only if no contact, identity or conversation of the tenant changed in
        this transaction since; else (or when ``fresh``) a new lookup."""
        lookup = self._inbound.pop(sender, None)
        if lookup is None or fresh or sender.tenant_id in self._contacts_changed:
            [lookup] = await self.contacts.lookup_inbound([sender])
        return lookup

    def contacts_changed(self, tenant_id: UUID) -> None:
        """A handler is about to add a contact, an identity or a conversation of this tenant: the
        batch's prefetched lookups of the tenant no longer hold."""
        self._contacts_changed.add(tenant_id)

    async def thread_inbound(self, threaded: Sequence[tuple[UUID, UUID]]) -> None:
        """Give each (received_event_id, tenant_id) of a batch the id of the message it will be
        stored as, and learn the languages detected already, in one statement."""
        todo = [(r, t, uuid7()) for r, t in dict.fromkeys(threaded) if r not in self._threaded]
        found = await self.inbound_languages.thread(todo)
        for received, _, message_id in todo:
            self._threaded[received] = (message_id, found.get(received))

    async def inbound_message(self, received_event_id: UUID, tenant_id: UUID) -> tuple[UUID, str | None]:
        """The id for the message of this MessageReceived, and its language when translation's
        detection came first (else None: ticket.translations will set it)."""
        if received_event_id not in self._threaded:
            await self.thread_inbound([(received_event_id, tenant_id)])
        return self._threaded.pop(received_event_id)

    async def detect_inbound(self, detected: Sequence[tuple[UUID, UUID, str]]) -> None:
        """Record a batch's (received_event_id, tenant_id, language) in one statement, and set the
        languages of the messages threaded already (``detect_languages``)."""
        todo = {r: (r, t, language) for r, t, language in detected if r not in self._detected_inbound}
        found = await self.inbound_languages.detect(list(todo.values()))
        for received in todo:
            self._detected_inbound[received] = found.get(received)
        detections = [(t, threaded.message_id, language, threaded.announced)
                      for r, t, language in todo.values() if (threaded := found.get(r)) is not None]
        await self.conversations.lock_of_messages_in_order([message_id for _, message_id, _, _ in detections])
        await self.detect_languages(detections)

    async def inbound_detected(self, received_event_id: UUID, tenant_id: UUID, language: str) -> Threaded | None:
        """The message this detection belongs to when it is threaded already (its language is then
        set: see ``detection``); None when the message is still to come."""
        if received_event_id not in self._detected_inbound:
            await self.detect_inbound([(received_event_id, tenant_id, language)])
        return self._detected_inbound.pop(received_event_id)

    async def detect_languages(self, detections: Sequence[tuple[UUID, UUID, str, bool]]) -> None:
        """Set the languages of these (tenant_id, message_id, language, announced) in one statement
        (``MessageRepository.set_detected_languages``); the first of a repeated message id wins (a
        later one finds the language already set)."""
        todo = {(t, m): (language, announced) for t, m, language, announced in detections
                if (t, m) not in self._detections}
        found = await self.messages.set_detected_languages([(t, m, language, announced)
                                                            for (t, m), (language, announced) in todo.items()])
        for key in todo:
            self._detections[key] = found.get(key)

    async def detection(self, tenant_id: UUID, threaded: Threaded, language: str) -> Detection | None:
        """The result of setting this message's language (set now unless a batch already did);
        None when the message is unknown or already had its language."""
        key = (tenant_id, threaded.message_id)
        if key not in self._detections:
            await self.detect_languages([(tenant_id, threaded.message_id, language, threaded.announced)])
        found = self._detections.get(key)
        self._detections[key] = None  # a repeated event finds the language already set
        return found

    def is_latest_detected(self, detection: Detection) -> bool:
        """Whether the message is its conversation's newest inbound message with a known language,
        counting the messages given one earlier in this transaction; records it."""
        message: Message = detection.message
        position = (message.created_at, message.id)
        newest = self._newest_detected.get(message.conversation_id)
        if newest is not None and newest > position:
            return False
        self._newest_detected[message.conversation_id] = position
        return not detection.newer_known

    def conversation_as_saved(self, conversation: Conversation) -> Conversation:
        """``conversation`` as this transaction last saved it (a batch read may predate the save)."""
        return self._saved_conversations.get(conversation.id, conversation)

    async def set_conversation_language(self, conversation: Conversation, language: str, now: datetime
                                        ) -> Conversation:
        """Change the conversation's language; returns it as stored now."""
        stored = await self.conversations.set_language(conversation.tenant_id, conversation.id, language, now)
        if stored is None:
            raise RuntimeError(f"conversation {conversation.id} vanished")  # retried by the consumer
        self._saved_conversations[conversation.id] = stored
        return stored
