"""TicketUow: ticket's repositories on one transaction."""

from __future__ import annotations

from meridian.db.uow import SqlUnitOfWork
from sqlalchemy.ext.asyncio import AsyncConnection

from meridian_ticket.repository import ContactRepository, ConversationRepository, MessageRepository, TicketRepository


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
