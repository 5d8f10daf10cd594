"""Ticket's problem types."""

from __future__ import annotations

from meridian.errors import Conflict, NotFound, ValidationFailed


class ConversationNotFound(NotFound):
    type = "conversation-not-found"
    title = "Conversation not found"


class MessageNotFound(NotFound):
    type = "message-not-found"
    title = "Message not found"


class ContactNotFound(NotFound):
    type = "contact-not-found"
    title = "Contact not found"


class TicketNotFound(NotFound):
    type = "ticket-not-found"
    title = "Ticket not found"


class ConversationClosed(Conflict):
    type = "conversation-closed"
    title = "Conversation is closed"


class OpenConversationExists(Conflict):
    type = "open-conversation-exists"
    title = "The contact already has an open conversation on this inbox"


class RecipientUnknown(Conflict):
    type = "recipient-unknown"
    title = "The contact has no identity on the conversation's inbox"


class MessageTextInvalid(ValidationFailed):
    type = "message-text-invalid"
    title = "Message text is invalid"


class EventInvalid(ValidationFailed):
    """An incoming event that can never be processed (dead-lettered with this reason)."""

    type = "event-invalid"
    title = "Event is invalid"
