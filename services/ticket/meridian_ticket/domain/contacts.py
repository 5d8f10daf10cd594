"""Contact resolution: who is the sender of an inbound message?

Rule, in order:
1. the sender's identity on this inbox (tenant, inbox, channel-side sender id) is known → its contact;
2. else a contact of the tenant with the same e-mail address → that contact, and the identity is added;
3. else a contact of the tenant with the same phone number → that contact, and the identity is added;
4. else a new contact (with the identity).
E-mail and phone are compared normalized. On channels whose sender id *is* an e-mail address or a
phone number (email, whatsapp, sms), that id counts as the e-mail/phone when the sender has none.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from meridian_ticket.domain.model import Contact, Identity

EMAIL_CHANNELS = frozenset({"email"})
PHONE_CHANNELS = frozenset({"whatsapp", "sms"})


def normalize_email(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    return value if "@" in value else None


def normalize_phone(value: str | None) -> str | None:
    """Digits only, with a leading ``+`` when given; fewer than 5 digits is not a phone number."""
    raw = (value or "").strip()
    digits = re.sub(r"\D", "", raw)
    if len(digits) < 5:
        return None
    if raw.startswith("00"):                  # international prefix 00 = +
        return "+" + digits[2:]
    return ("+" if raw.startswith("+") else "") + digits


@dataclass(frozen=True, slots=True)
class SenderInfo:
    id: str
    name: str = ""
    email: str = ""
    phone: str = ""


def contact_points(channel: str, sender: SenderInfo) -> tuple[str | None, str | None]:
    """(email, phone) of a sender, normalized."""
    email = normalize_email(sender.email)
    phone = normalize_phone(sender.phone)
    if email is None and channel in EMAIL_CHANNELS:
        email = normalize_email(sender.id)
    if phone is None and channel in PHONE_CHANNELS:
        phone = normalize_phone(sender.id)
    return email, phone


class ResolutionKind(enum.StrEnum):
    IDENTITY = "identity"    # known identity → existing contact
    EMAIL = "email"          # matched by e-mail → existing contact, add the identity
    PHONE = "phone"          # matched by phone → existing contact, add the identity
    NEW = "new"              # nobody matched → new contact with the identity


@dataclass(frozen=True, slots=True)
class Resolution:
    kind: ResolutionKind
    contact_id: UUID | None   # None when kind is NEW

    @property
    def adds_identity(self) -> bool:
        return self.kind in (ResolutionKind.EMAIL, ResolutionKind.PHONE)


def resolve_contact(*, by_identity: UUID | None, by_email: UUID | None, by_phone: UUID | None) -> Resolution:
    """The contact of a sender, given the contacts the tenant's data matched on each key."""
    if by_identity is not None:
        return Resolution(ResolutionKind.IDENTITY, by_identity)
    if by_email is not None:
        return Resolution(ResolutionKind.EMAIL, by_email)
    if by_phone is not None:
        return Resolution(ResolutionKind.PHONE, by_phone)
    return Resolution(ResolutionKind.NEW, None)


def new_contact(contact_id: UUID, tenant_id: UUID, channel: str, sender: SenderInfo, now: datetime) -> Contact:
    email, phone = contact_points(channel, sender)
    name = sender.name.strip() or None
    return Contact(id=contact_id, tenant_id=tenant_id, name=name, email=email, phone=phone, created_at=now)


def identity_of(channel: str, inbox_id: UUID, sender: SenderInfo) -> Identity:
    return Identity(channel=channel, inbox_id=inbox_id, external_id=sender.id)
