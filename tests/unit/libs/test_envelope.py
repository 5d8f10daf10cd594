"""The event envelope: CloudEvents headers, binary protobuf values from the services, proto3 JSON
still accepted from integrators, clear decode errors."""

from __future__ import annotations

import json

import pytest
from meridian.bus.base import Record
from meridian.contracts.ingest import messages_v1_pb2 as ingest_v1
from meridian.contracts.ticket import messages_v1_pb2 as messages_v1
from meridian.events.envelope import (
    JSON,
    PROTOBUF,
    EventDecodeError,
    decode,
    encode_value,
    new_meta,
    read_meta,
    to_record,
)
from meridian.events.registry import EventTypeUnknown, audit_topic, topic_of


def _message() -> messages_v1.MessageThreaded:
    return messages_v1.MessageThreaded(message_id="m1", conversation_id="c1", inbox_id="i1", text="hola")


def _headers(record: Record, **override: str) -> tuple[tuple[str, bytes], ...]:
    headers = {k: v for k, v in record.headers}
    for k, v in override.items():
        headers[k.replace("_", "-") if k == "content_type" else k] = v.encode()
    return tuple(headers.items())


def test_services_publish_binary_protobuf_and_it_round_trips():
    meta = new_meta(_message(), tenant_id="t1", source="ticket", key="c1", data_region="eu")
    record = to_record(topic_of(_message()), _message(), meta)
    assert record.topic == "ticket.messages.v1"
    assert record.key == b"c1"
    assert record.header("content-type") == b"application/protobuf"
    assert record.value == _message().SerializeToString(deterministic=True)  # no JSON encoding
    got_meta, got = decode(record)
    assert got == _message()
    assert got_meta.content_type == PROTOBUF
    assert got_meta.id == meta.id and got_meta.tenant_id == "t1" and got_meta.data_region == "eu"
    assert got_meta.type == "meridian.ticket.v1.MessageThreaded" and got_meta.schema_version == 1
    assert meta.id.version == 7


def test_an_event_caused_by_a_json_event_is_published_binary():
    meta = new_meta(_message(), tenant_id="t1", source="x", key="c1")
    json_record = to_record("ticket.messages.v1", _message(), meta._replace(content_type=JSON))
    cause = read_meta(json_record)
    assert cause.content_type == JSON
    caused = cause.caused("meridian.ticket.v1.MessageCreated", "ticket", "c1")
    assert caused.content_type == PROTOBUF
    assert to_record("ticket.messages.v1", _message(), caused).header("content-type") == b"application/protobuf"


def test_encode_value_defaults_to_binary_and_still_writes_json_on_request():
    assert encode_value(_message()) == _message().SerializeToString(deterministic=True)
    assert json.loads(encode_value(_message(), JSON))["conversationId"] == "c1"


def test_json_values_still_round_trip():
    meta = new_meta(_message(), tenant_id="t1", source="x", key="c1")._replace(content_type=JSON)
    record = to_record("ticket.messages.v1", _message(), meta)
    assert record.header("content-type") == b"application/json"
    assert json.loads(record.value)["conversationId"] == "c1"
    got_meta, got = decode(record)
    assert got == _message() and got_meta.content_type == JSON


@pytest.mark.parametrize("content_type", [PROTOBUF, "application/x-protobuf", "application/vnd.google.protobuf",
                                          "Application/Protobuf; proto=meridian.ticket.v1.MessageThreaded"])
def test_binary_protobuf_aliases_are_accepted(content_type):
    meta = new_meta(_message(), tenant_id="t1", source="x", key="c1")
    record = to_record("ticket.messages.v1", _message(), meta)
    binary = Record(topic=record.topic, key=record.key, value=_message().SerializeToString(),
                    headers=_headers(record, content_type=content_type))
    assert decode(binary)[1] == _message()


def test_json_from_an_integrator_may_use_field_names_and_unknown_fields():
    meta = new_meta(_message(), tenant_id="t1", source="x", key="c1")
    record = to_record("ticket.messages.v1", _message(), meta)
    value = json.dumps({"message_id": "m1", "conversationId": "c1", "inboxId": "i1", "text": "hola",
                        "added_later": 1}).encode()
    assert decode(Record(topic=record.topic, value=value, headers=_headers(record, content_type=JSON)))[1] == _message()
    without_content_type = tuple((k, v) for k, v in record.headers if k != "content-type")
    assert decode(Record(topic=record.topic, value=value, headers=without_content_type))[1] == _message()


def test_the_documented_kcat_json_record_is_decoded():
    """docs/events.md, "Publishing as an integrator (kcat)": the same headers and value."""
    headers = tuple((k, v.encode()) for k, v in [
        ("ce_specversion", "1.0"),
        ("ce_id", "0194b7c2-7d1e-7a3b-9c41-2f5e8d6a1b90"),
        ("ce_type", "meridian.ingest.v1.MessageReceived"),
        ("ce_source", "/integrations/acme-shop"),
        ("ce_time", "2025-01-31T09:15:00Z"),
        ("ce_tenant", "0194b7a0-1111-7000-8000-000000000001"),
        ("ce_dataregion", "eu"),
        ("ce_correlationid", "0194b7c2-7d1e-7a3b-9c41-2f5e8d6a1b90"),
        ("ce_partitionkey", "inbox-7f3c2a:thread-42"),
        ("ce_schemaversion", "1"),
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        ("content-type", "application/json"),
    ])
    value = (b'{"inboxId":"inbox-7f3c2a","channel":"webchat","externalId":"msg-1001","threadId":"thread-42",'
             b'"sender":{"id":"cust-9","name":"Ana Silva","email":"ana@example.com"},'
             b'"text":"Where is my order #5531?","sentAt":"2025-01-31T09:14:58Z","receivedAt":"2025-01-31T09:15:00Z"}')
    meta, message = decode(Record(topic="ingest.messages.v1", key=b"inbox-7f3c2a:thread-42", value=value,
                                  headers=headers))
    assert isinstance(message, ingest_v1.MessageReceived)
    assert message.inbox_id == "inbox-7f3c2a" and message.sender.name == "Ana Silva"
    assert message.sent_at.ToJsonString() == "2025-01-31T09:14:58Z"
    assert meta.content_type == JSON and meta.tenant_id == "0194b7a0-1111-7000-8000-000000000001"


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
    (b"{not json", {"content_type": JSON}, "cannot parse"),
    (b"\xff\xfe", {"content_type": JSON}, "cannot parse"),
    (b"\x0a\xff", {}, "cannot parse"),  # binary: a truncated length-delimited field
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


def test_a_caused_event_carries_its_own_schema_version():
    cause = new_meta(_message(), tenant_id="t1", source="x", key="c1")
    assert cause.schema_version == 1
    assert cause.caused("meridian.ticket.v2.MessageCreated", "ticket", "c1").schema_version == 2
    assert cause.caused("meridian.ticket.v1.MessageCreated", "ticket", "c1").schema_version == 1


def test_extra_headers_travel_on_the_record_as_through_the_outbox():
    meta = new_meta(_message(), tenant_id="t1", source="ticket", key="c1", extra={"x-dlq-reason": "boom"})
    record = to_record("ticket.messages.v1", _message(), meta)
    assert record.header("x-dlq-reason") == b"boom"
    assert record.header("ce_id") == str(meta.id).encode()
