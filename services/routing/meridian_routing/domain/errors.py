"""Routing's problem types."""

from __future__ import annotations

from meridian.errors import Conflict, NotFound, ValidationFailed


class AgentNotFound(NotFound):
    type = "agent-not-found"
    title = "Agent not found"


class AgentEmailTaken(Conflict):
    type = "agent-email-taken"
    title = "An agent with this email already exists"


class AgentInvalid(ValidationFailed):
    type = "validation-error"
    title = "Agent is invalid"


class ConversationEventInvalid(ValidationFailed):
    type = "conversation-event-invalid"
    title = "Conversation event is invalid"
