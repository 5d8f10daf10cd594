import hashlib
from datetime import UTC, datetime, timedelta

from meridian_gateway.domain.idempotency import IdempotencyRecord, body_fingerprint, storable, valid_key

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def record(**kw):
    base = dict(method="POST", path="/api/v1/contacts", body_sha256=body_fingerprint(b"{}"), status=201,
                body=b"{}", content_type="application/json", created_at=NOW, expires_at=NOW + timedelta(hours=24))
    return IdempotencyRecord(**{**base, **kw})


def test_fingerprint_is_sha256_of_the_exact_bytes():
    assert body_fingerprint(b'{"a":1}') == hashlib.sha256(b'{"a":1}').hexdigest()
    assert body_fingerprint(b'{"a":1}') != body_fingerprint(b'{"a": 1}')
    assert body_fingerprint(b"") == hashlib.sha256(b"").hexdigest()


def test_matches_needs_same_method_path_and_body():
    r = record()
    assert r.matches("POST", "/api/v1/contacts", body_fingerprint(b"{}"))
    assert not r.matches("POST", "/api/v1/contacts", body_fingerprint(b"{ }"))
    assert not r.matches("POST", "/api/v1/tickets", body_fingerprint(b"{}"))
    assert not r.matches("PUT", "/api/v1/contacts", body_fingerprint(b"{}"))


def test_expiry_and_abandoned_claims():
    assert not record().expired(NOW)
    assert record().expired(NOW + timedelta(hours=24))
    in_flight = record(status=None, body=None)
    assert not in_flight.completed
    assert not in_flight.abandoned(NOW + timedelta(seconds=30), timedelta(seconds=60))
    assert in_flight.abandoned(NOW + timedelta(seconds=60), timedelta(seconds=60))
    assert not record().abandoned(NOW + timedelta(days=2), timedelta(seconds=60))


def test_only_2xx_and_4xx_are_stored():
    assert storable(200) and storable(201) and storable(204)
    assert storable(400) and storable(404) and storable(422)
    assert not storable(500) and not storable(503) and not storable(302) and not storable(101)


def test_key_validity():
    assert valid_key("abc-123")
    assert not valid_key("")
    assert not valid_key("x" * 256)
    assert not valid_key("a\nb")
