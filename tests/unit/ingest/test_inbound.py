import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from meridian_ingest.domain.errors import BodyNotUtf8, MalformedJson, PayloadInvalid
from meridian_ingest.domain.inbound import decode_json, validate_api_payload


def fields(exc: PayloadInvalid) -> set[str]:
    return {e["field"] for e in exc.errors}


def test_a_full_payload_becomes_an_inbound_message():
    msg = validate_api_payload({"id": "ext-1",
                                "sender": {"id": "c-1", "name": "Ana", "email": "a@x.io", "phone": "+34"},
                                "text": "Hola", "timestamp": "2025-01-02T03:04:05+01:00"})
    assert msg.external_id == "ext-1"
    assert msg.thread_id == "c-1"
    assert (msg.sender.name, msg.sender.email, msg.sender.phone) == ("Ana", "a@x.io", "+34")
    assert msg.sent_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=1)))


def test_optional_fields_may_be_absent_or_null_and_naive_or_z_times_are_utc():
    msg = validate_api_payload({"id": "e", "sender": {"id": "c", "name": None}, "text": "t",
                                "timestamp": "2025-01-02T03:04:05Z"})
    assert msg.sender.name == "" and msg.sent_at == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    msg = validate_api_payload({"id": "e", "sender": {"id": "c"}, "text": "t", "timestamp": "2025-01-02T03:04:05"})
    assert msg.sent_at.tzinfo == UTC
    assert validate_api_payload({"id": "e", "sender": {"id": "c"}, "text": "t"}).sent_at is None


@pytest.mark.parametrize("payload, expected", [
    ({}, {"id", "sender", "text"}),
    ({"id": "", "sender": {"id": " "}, "text": ""}, {"id", "sender.id", "text"}),
    ({"id": 5, "sender": "c", "text": ["x"]}, {"id", "sender", "text"}),
    ({"id": "e", "sender": {"id": "c", "email": 3}, "text": "t"}, {"sender.email"}),
    ({"id": "e", "sender": {"id": "c"}, "text": "t", "timestamp": "yesterday"}, {"timestamp"}),
    ({"id": "e", "sender": {"id": "c"}, "text": "t", "timestamp": 1700000000}, {"timestamp"}),
    ({"id": "e\x00", "sender": {"id": "c"}, "text": "t\x00"}, {"id", "text"}),
    ({"id": "e", "sender": {"id": "c"}, "text": "\ud800"}, {"text"}),
    ({"id": "e" * 300, "sender": {"id": "c"}, "text": "t"}, {"id"}),
])
def test_every_bad_field_is_listed(payload, expected):
    with pytest.raises(PayloadInvalid) as err:
        validate_api_payload(payload)
    assert fields(err.value) == expected
    assert err.value.status == 400


@pytest.mark.parametrize("payload", [[], "text", 3, None])
def test_a_body_that_is_not_an_object_is_invalid(payload):
    with pytest.raises(PayloadInvalid):
        validate_api_payload(payload)


def test_decode_json_distinguishes_encoding_from_syntax():
    assert decode_json(json.dumps({"a": "ñ"}).encode()) == {"a": "ñ"}
    with pytest.raises(BodyNotUtf8):
        decode_json(b'{"a": "\xff\xfe"}')
    with pytest.raises(MalformedJson):
        decode_json(b'{"a": ')
    with pytest.raises(MalformedJson):
        decode_json(b"")
    with pytest.raises(MalformedJson):
        decode_json(b"[" * 100_000)
