import uuid
from datetime import UTC, datetime

from meridian_ticket.domain.contacts import (
    ResolutionKind,
    SenderInfo,
    contact_points,
    new_contact,
    normalize_email,
    normalize_phone,
    resolve_contact,
)

A, B, C = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()


def test_known_identity_wins_over_email_and_phone():
    r = resolve_contact(by_identity=A, by_email=B, by_phone=C)
    assert (r.kind, r.contact_id, r.adds_identity) == (ResolutionKind.IDENTITY, A, False)


def test_email_match_reuses_the_contact_and_adds_the_identity():
    r = resolve_contact(by_identity=None, by_email=B, by_phone=C)
    assert (r.kind, r.contact_id, r.adds_identity) == (ResolutionKind.EMAIL, B, True)


def test_phone_match_when_no_email_match():
    r = resolve_contact(by_identity=None, by_email=None, by_phone=C)
    assert (r.kind, r.contact_id, r.adds_identity) == (ResolutionKind.PHONE, C, True)


def test_nobody_matches_means_a_new_contact():
    r = resolve_contact(by_identity=None, by_email=None, by_phone=None)
    assert (r.kind, r.contact_id, r.adds_identity) == (ResolutionKind.NEW, None, False)


def test_email_and_phone_are_normalized():
    assert normalize_email("  Ana@Example.COM ") == "ana@example.com"
    assert normalize_email("not-an-email") is None
    assert normalize_email("") is None
    assert normalize_phone("+34 600-123-456") == "+34600123456"
    assert normalize_phone("0034 600 123 456") == "+34600123456"
    assert normalize_phone("600 123 456") == "600123456"
    assert normalize_phone("12") is None


def test_sender_id_counts_as_phone_or_email_on_channels_where_it_is_one():
    assert contact_points("whatsapp", SenderInfo(id="+49 151 2345678")) == (None, "+491512345678")
    assert contact_points("email", SenderInfo(id="Bob@Shop.example")) == ("bob@shop.example", None)
    assert contact_points("api", SenderInfo(id="+49 151 2345678")) == (None, None)
    given = SenderInfo(id="+1 555 0000000", email="x@y.z", phone="+44 20 7946 0000")
    assert contact_points("whatsapp", given) == ("x@y.z", "+442079460000")


def test_new_contact_takes_the_senders_profile():
    now = datetime(2025, 1, 1, tzinfo=UTC)
    c = new_contact(A, B, "api", SenderInfo(id="c1", name=" Ana ", email="ANA@x.io", phone=""), now)
    assert (c.id, c.tenant_id, c.name, c.email, c.phone, c.created_at) == (A, B, "Ana", "ana@x.io", None, now)
    assert new_contact(A, B, "api", SenderInfo(id="c1"), now).name is None
