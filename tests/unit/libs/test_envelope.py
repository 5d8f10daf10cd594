"""The event envelope: CloudEvents headers, proto3 JSON or binary values, clear decode errors."""

from __future__ import annotations

import json

import pytest

from meridian.bus.base import Record
from meridian.contracts.ticket import messages_v1_pb2 as messages_v1
from meridian.events.envelope import PROTOBUF, EventDecodeError, decode, new_meta, to_record
from meridian.events.registry import EventTypeUnknown, audit_topic, topic_of


def _message() -> messages_v1.MessageThreaded:
    return messages_v1.MessageThreaded(message_id="m1", conversation_id="c1", inbox_id="i1", text="hola")


def _headers(record: Record, **override: str) -> tuple[tuple[str, bytes], ...]:
    headers = {k: v for k, v in record.headers}
    for k, v in override.items():
        headers[k.replace("_", "-") if k == "content_type" else k] = v.encode()
    return tuple(headers.items())


def test_json_round_trip_keeps_meta_and_message():
    meta = new_meta(_message(), tenant_id="t1", source="ticket", key="c1", data_region="eu")
    record = to_record(topic_of(_message()), _message(), meta)
    assert record.topic == "ticket.messages.v1"
    assert record.key == b"c1"
    assert json.loads(record.value)["conversationId"] == "c1"
    got_meta, got = decode(record)
    assert got == _message()
    assert got_meta.id == meta.id and got_meta.tenant_id == "t1" and got_meta.data_region == "eu"
    assert got_meta.type == "meridian.ticket.v1.MessageThreaded" and got_meta.schema_version == 1
    assert meta.id.version == 7


def test_binary_protobuf_values_are_accepted():
    meta = new_meta(_message(), tenant_id="t1", source="x", key="c1")
    record = to_record("ticket.messages.v1", _message(), meta)
    binary = Record(topic=record.topic, key=record.key, value=_message().SerializeToString(),
                    headers=_headers(record, content_type=PROTOBUF))
    assert decode(binary)[1] == _message()


def test_json_from_an_integrator_may_use_field_names_and_unknown_fields():
    meta = new_meta(_message(), tenant_id="t1", source="x", key="c1")
    record = to_record("ticket.messages.v1", _message(), meta)
    value = json.dumps({"message_id": "m1", "conversationId": "c1", "inboxId": "i1", "text": "hola",
                        "added_later": 1}).encode()
    assert decode(Record(topic=record.topic, value=value, headers=record.headers))[1] == _message()


def test_unknown_type_and_unknown_major_version_are_refused():
    meta = new_meta(_message(), tenant_id="t1", source="x", key="c1")
    record = to_record("ticket.messages.v1", _message(), meta)
    with pytest.raises(EventTypeUnknown, match="unknown event type"):
        decode(Record(topic=record.topic, value=record.value,
                      headers=_headers(record, ce_type="meridian.ticket.v1.NoSuchEvent")))
    with pytest.raises(EventTypeUnknown):
        decode(Record(topic=record.topic, value=record.value,
                      headers=_headers(record, ce_type="meridian.ticket.v2.MessageThreaded", ce_schemaversion="2")))
    with pytest.raises(EventTypeUnknown, match="no schema version 3"):
        decode(Record(topic=record.topic, value=record.value, headers=_headers(record, ce_schemaversion="3")))


@pytest.mark.parametrize("value, override, match", [
    (b"{not json", {}, "cannot parse"),
    (b"\xff\xfe", {}, "cannot parse"),
    (b"{}", {"ce_id": "not-a-uuid"}, "not a UUID"),
    (b"{}", {"content_type": "text/xml"}, "unsupported content-type"),
])
def test_malformed_records_raise_decode_errors(value, override, match):
    meta = new_meta(_message(), tenant_id="t1", source="x", key="c1")
    record = to_record("ticket.messages.v1", _message(), meta)
    with pytest.raises(EventDecodeError, match=match):
        decode(Record(topic=record.topic, value=value, headers=_headers(record, **override)))


def test_missing_required_header_is_a_decode_error():
    record = Record(topic="t", value=b"{}", headers=(("ce_type", b"meridian.ticket.v1.MessageThreaded"),))
    with pytest.raises(EventDecodeError, match="ce_id"):
        decode(record)


def test_audit_topics_are_per_service():
    assert audit_topic("knowledge-base") == "knowledge_base.audit.v1"
    assert audit_topic("ticket") == "ticket.audit.v1"
