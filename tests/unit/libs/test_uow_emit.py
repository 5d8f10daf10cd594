"""What ``SqlUnitOfWork.emit`` writes to the outbox: binary protobuf values with the matching
``content-type``, whether the event is new or caused by a JSON event an integrator published."""

from __future__ import annotations

from meridian.bus.base import Record
from meridian.contracts.ticket import messages_v1_pb2 as messages_v1
from meridian.db.outbox import outbox_table, processed_events_table
from meridian.db.uow import Clock, OutboxRow, SqlUnitOfWork
from meridian.events.envelope import JSON, PROTOBUF, decode, new_meta, read_meta, to_record
from sqlalchemy import MetaData

metadata = MetaData()
OUTBOX = outbox_table(metadata)
PROCESSED = processed_events_table(metadata)


def _uow() -> SqlUnitOfWork:
    return SqlUnitOfWork(None, outbox=OUTBOX, processed=PROCESSED, source="ticket",  # type: ignore[arg-type]
                         data_region="eu", clock=Clock())


def _as_relayed(row: OutboxRow) -> Record:
    """The record ``OutboxRelay`` publishes for an outbox row."""
    return Record(topic=row.topic, key=row.key.encode() if row.key is not None else None,
                  value=bytes(row.payload), headers=tuple((k, v.encode()) for k, v in row.headers.items()))


def _message(i: int = 1) -> messages_v1.MessageThreaded:
    return messages_v1.MessageThreaded(message_id=f"m{i}", conversation_id="c1", inbox_id="i1", text="hola")


def test_an_emitted_event_is_written_as_binary_protobuf_and_round_trips():
    uow = _uow()
    meta = uow.emit(_message(), key="c1", tenant_id="t1")
    [row] = uow.outbox_rows()
    assert meta.content_type == PROTOBUF
    assert row.headers["content-type"] == "application/protobuf"
    assert row.payload == _message().SerializeToString(deterministic=True)
    record = _as_relayed(row)
    got_meta, got = decode(record)
    assert got == _message()
    assert got_meta.id == meta.id and got_meta.content_type == PROTOBUF
    assert got_meta.tenant_id == "t1" and got_meta.source == "ticket" and got_meta.data_region == "eu"
    assert record.topic == "ticket.messages.v1" and record.key == b"c1"


def test_an_event_caused_by_integrator_json_is_still_published_binary():
    json_meta = new_meta(_message(), tenant_id="t1", source="/integrations/acme", key="c1")._replace(content_type=JSON)
    cause = read_meta(to_record("ticket.messages.v1", _message(), json_meta))
    assert cause.content_type == JSON
    uow = _uow()
    uow.cause = cause
    uow.emit(_message(2), key="c1", tenant_id="t2", headers={"x-extra": "kept"})
    [row] = uow.outbox_rows()
    assert row.headers["content-type"] == "application/protobuf"
    assert row.headers["x-extra"] == "kept"
    got_meta, got = decode(_as_relayed(row))
    assert got == _message(2)
    assert got_meta.causation_id == str(cause.id) and got_meta.correlation_id == cause.correlation_id
    assert got_meta.tenant_id == "t2"  # the tenant given to emit, not the cause's
