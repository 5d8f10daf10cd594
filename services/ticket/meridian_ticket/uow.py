"""TicketUow: ticket's repositories on one transaction, and what a consumer batch shares in it.

A batch of MessageTranslated events sets its messages' languages in one statement
(``detect_languages``, run before the handlers); each handler then takes its message's result with
``detection``. Because that statement read the database once for the whole batch, the handlers
also keep here what earlier events of the same transaction changed: the newest message of each
conversation given a language so far, and the conversations whose language they changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from meridian.db.uow import SqlUnitOfWork
from sqlalchemy.ext.asyncio import AsyncConnection

from meridian_ticket.domain.model import Conversation, Message
from meridian_ticket.repository import (
    ContactRepository,
    ConversationRepository,
    Detection,
    MessageRepository,
    TicketRepository,
)


class TicketUow(SqlUnitOfWork):
    contacts: ContactRepository
    conversations: ConversationRepository
    messages: MessageRepository
    tickets: TicketRepository

    def bind(self, conn: AsyncConnection) -> None:
        self.contacts = ContactRepository(conn)
        self.conversations = ConversationRepository(conn)
        self.messages = MessageRepository(conn)
        self.tickets = TicketRepository(conn)
        self._detections: dict[tuple[UUID, UUID], Detection | None] = {}
        self._newest_detected: dict[UUID, tuple[datetime, UUID]] = {}
        self._saved_conversations: dict[UUID, Conversation] = {}

    async def detect_languages(self, detections: Sequence[tuple[UUID, UUID, str]]) -> None:
        """Set the languages of these (tenant_id, message_id, language) in one statement; the first
        of a repeated message id wins (a later one finds the language already set)."""
        todo = {(t, m): language for t, m, language in detections if (t, m) not in self._detections}
        found = await self.messages.set_detected_languages([(t, m, lang) for (t, m), lang in todo.items()])
        for key in todo:
            self._detections[key] = found.get(key)

    async def detection(self, tenant_id: UUID, message_id: UUID, language: str) -> Detection | None:
        """The result of setting this message's language (set now unless a batch already did);
        None when the message is unknown or already had its language."""
        key = (tenant_id, message_id)
        if key not in self._detections:
            await self.detect_languages([(tenant_id, message_id, language)])
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
