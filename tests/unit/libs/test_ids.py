import time
import uuid

from meridian.ids import uuid7


def test_uuid7_has_version_7_and_the_rfc_variant():
    u = uuid7()
    assert u.version == 7 and u.variant == uuid.RFC_4122


def test_uuid7_orders_by_creation_and_keeps_to_the_clock_in_a_burst():
    ids = [uuid7() for _ in range(100_000)]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    newest_ms = ids[-1].int >> 80
    assert abs(newest_ms - time.time_ns() // 1_000_000) < 1_000  # not seconds ahead of the clock


def test_uuid7_timestamp_is_now():
    before = time.time_ns() // 1_000_000
    u = uuid7()
    assert before <= u.int >> 80 <= time.time_ns() // 1_000_000 + 1
