"""Ticket's tables (schema ``ticket``).

Personal data — contacts.name/email/phone, contact_identities.external_id and messages.text — is
stored in plaintext for now; encrypting it at rest is the compliance issue's job (it will need a
blind index for the e-mail/phone lookups below).
"""

from __future__ import annotations

from meridian.db.naming import service_metadata
from meridian.db.outbox import outbox_table, processed_events_table
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Index,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID

metadata = service_metadata()

contacts = Table(
    "contacts",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("name", Text, nullable=True),     # personal data (plaintext for now)
    Column("email", Text, nullable=True),    # personal data, normalized (lowercase)
    Column("phone", Text, nullable=True),    # personal data, normalized (+digits)
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("ix_contacts_tenant_id_created_at_id", contacts.c.tenant_id, contacts.c.created_at, contacts.c.id)
# "same e-mail / phone in the tenant = same person": resolution never creates a second contact for
# one, and these indexes make concurrent first messages converge (ON CONFLICT DO NOTHING + re-read).
Index("uq_contacts_tenant_id_email", contacts.c.tenant_id, contacts.c.email, unique=True,
      postgresql_where=contacts.c.email.is_not(None))
Index("uq_contacts_tenant_id_phone", contacts.c.tenant_id, contacts.c.phone, unique=True,
      postgresql_where=contacts.c.phone.is_not(None))

contact_identities = Table(
    "contact_identities",
    metadata,
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("channel", Text, nullable=False),
    Column("inbox_id", UUID(as_uuid=True), nullable=False),
    Column("external_id", Text, nullable=False),  # channel-side sender id (personal data)
    Column("contact_id", UUID(as_uuid=True), ForeignKey("contacts.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", "inbox_id", "external_id"),
)
Index("ix_contact_identities_contact_id", contact_identities.c.contact_id)

conversations = Table(
    "conversations",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("inbox_id", UUID(as_uuid=True), nullable=False),
    Column("contact_id", UUID(as_uuid=True), ForeignKey("contacts.id"), nullable=False),
    Column("channel", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("language", Text, nullable=True),
    Column("assignee_agent_id", UUID(as_uuid=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_message_at", DateTime(timezone=True), nullable=True),
)
Index("ix_conversations_tenant_id_created_at_id", conversations.c.tenant_id, conversations.c.created_at,
      conversations.c.id)
Index("ix_conversations_tenant_id_contact_id", conversations.c.tenant_id, conversations.c.contact_id)
# at most one open conversation per (tenant, inbox, contact)
Index("uq_conversations_open", conversations.c.tenant_id, conversations.c.inbox_id, conversations.c.contact_id,
      unique=True, postgresql_where=text("status = 'open'"))

messages = Table(
    "messages",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("conversation_id", UUID(as_uuid=True), ForeignKey("conversations.id"), nullable=False),
    Column("inbox_id", UUID(as_uuid=True), nullable=False),
    Column("contact_id", UUID(as_uuid=True), nullable=False),
    Column("direction", Text, nullable=False),
    Column("text", Text, nullable=False),    # personal data (plaintext for now)
    Column("language", Text, nullable=True),
    Column("status", Text, nullable=False),
    Column("sender_agent_id", UUID(as_uuid=True), nullable=True),
    Column("external_id", Text, nullable=True),
    Column("error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)
Index("ix_messages_conversation_id_created_at_id", messages.c.conversation_id, messages.c.created_at, messages.c.id)
# inbound dedupe: one message per channel-side id on an inbox
Index("uq_messages_tenant_id_inbox_id_external_id", messages.c.tenant_id, messages.c.inbox_id, messages.c.external_id,
      unique=True, postgresql_where=messages.c.external_id.is_not(None))

# An inbound message is threaded (ticket.inbound) while translation detects its language from the same
# MessageReceived (ticket.translations): each half is kept here, under that event's id, until the
# other arrives, and the transaction that brings the second half takes the row away
# (meridian_ticket.repository.InboundLanguageRepository). A message that waited too long is announced
# with the undetermined language and its row kept, marked settled, so a detection that comes later
# still finds it and corrects the message (meridian_ticket.language_deadline).
inbound_languages = Table(
    "inbound_languages",
    metadata,
    Column("received_event_id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("message_id", UUID(as_uuid=True), nullable=True),   # the threaded message
    Column("language", Text, nullable=True),                   # its detected language
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("settled_at", DateTime(timezone=True), nullable=True),  # the message announced as undetermined
)

tickets = Table(
    "tickets",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("tenant_id", UUID(as_uuid=True), nullable=False),
    Column("conversation_id", UUID(as_uuid=True), ForeignKey("conversations.id"), nullable=False),
    Column("status", Text, nullable=False),
    Column("priority", Text, nullable=False),
    Column("assignee_agent_id", UUID(as_uuid=True), nullable=True),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("conversation_id"),
)
Index("ix_tickets_tenant_id_opened_at_id", tickets.c.tenant_id, tickets.c.opened_at, tickets.c.id)

outbox = outbox_table(metadata)
processed_events = processed_events_table(metadata)
