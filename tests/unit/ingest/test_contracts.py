import random
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

from google.protobuf.timestamp_pb2 import Timestamp
from meridian_ingest import contracts
from meridian_ingest.domain.model import InboundMessage, InboxCredentials, Sender


def test_timestamps_match_from_datetime_for_any_datetime():
    rng = random.Random(7)
    samples = [datetime.now(UTC), datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
               datetime(1969, 12, 31, 23, 59, 59, 500000, tzinfo=UTC), datetime(2025, 3, 1, 10),  # naive: UTC
               datetime(2025, 3, 1, 10, tzinfo=timezone(timedelta(hours=5, minutes=30)))]
    samples += [datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=rng.randint(-10**16, 10**17))
                for _ in range(2000)]
    for dt in samples:
        expected, got = Timestamp(), Timestamp()
        expected.FromDatetime(dt)
        contracts._set_time(got, dt)
        assert got == expected, dt


def test_message_received_carries_both_times():
    inbox = InboxCredentials(id=uuid4(), tenant_id=uuid4(), channel="api", settings={}, secret="s")
    now = datetime(2025, 3, 1, 10, 0, 0, 123456, tzinfo=UTC)
    sent = datetime(2025, 3, 1, 9, 59, tzinfo=UTC)
    event = contracts.message_received(inbox, InboundMessage("e1", "c1", Sender("c1"), "hi", sent), now)
    assert event.sent_at.ToJsonString() == "2025-03-01T09:59:00Z"
    assert event.received_at.ToJsonString() == "2025-03-01T10:00:00.123456Z"
    event = contracts.message_received(inbox, InboundMessage("e1", "c1", Sender("c1"), "hi"), now)
    assert event.sent_at == event.received_at
