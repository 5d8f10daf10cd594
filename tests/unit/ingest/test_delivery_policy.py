import random
from datetime import UTC, datetime, timedelta

import pytest
from meridian_ingest.domain.delivery import (
    AttemptKind,
    AttemptResult,
    RetryPolicy,
    classify_status,
    next_step,
    transport_failure,
)
from meridian_ingest.domain.model import DeliveryStatus

NOW = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("code, kind", [
    (200, AttemptKind.DELIVERED), (202, AttemptKind.DELIVERED), (204, AttemptKind.DELIVERED),
    (500, AttemptKind.RETRYABLE), (502, AttemptKind.RETRYABLE), (503, AttemptKind.RETRYABLE),
    (408, AttemptKind.RETRYABLE), (429, AttemptKind.RETRYABLE),
    (400, AttemptKind.PERMANENT), (401, AttemptKind.PERMANENT), (404, AttemptKind.PERMANENT),
    (410, AttemptKind.PERMANENT), (301, AttemptKind.PERMANENT),
])
def test_status_codes_are_classified(code, kind):
    assert classify_status(code).kind is kind


def test_backoff_ceiling_doubles_up_to_the_cap():
    policy = RetryPolicy(max_attempts=10, base_delay=1.0, max_delay=60.0)
    assert [policy.ceiling(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_full_jitter_stays_within_zero_and_the_ceiling_and_varies():
    policy = RetryPolicy(max_attempts=10, base_delay=0.5, max_delay=10.0)
    rng = random.Random(7)
    for attempt in range(1, 8):
        delays = [policy.delay(attempt, rng) for _ in range(500)]
        assert all(0.0 <= d <= policy.ceiling(attempt) for d in delays)
        assert max(delays) > 0.8 * policy.ceiling(attempt)   # spread over the whole range: full jitter
        assert min(delays) < 0.2 * policy.ceiling(attempt)


def test_retryable_failures_are_rescheduled_until_the_last_attempt():
    policy = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=60.0)
    result = transport_failure("callback timed out")
    step = next_step(policy, 0, result, NOW, random.Random(1))
    assert step.status is DeliveryStatus.PENDING and step.attempts == 1
    assert NOW <= step.next_attempt_at <= NOW + timedelta(seconds=1)
    step = next_step(policy, 1, result, NOW, random.Random(1))
    assert step.status is DeliveryStatus.PENDING and step.next_attempt_at <= NOW + timedelta(seconds=2)
    step = next_step(policy, 2, result, NOW)
    assert step.status is DeliveryStatus.FAILED and step.attempts == 3
    assert "gave up after 3 attempts" in step.error


def test_delivered_and_permanent_outcomes_are_final():
    policy = RetryPolicy(max_attempts=5)
    assert next_step(policy, 2, classify_status(200), NOW).status is DeliveryStatus.DELIVERED
    step = next_step(policy, 0, classify_status(400), NOW)
    assert step.status is DeliveryStatus.FAILED and step.attempts == 1 and "400" in step.error
    assert next_step(policy, 0, AttemptResult(AttemptKind.PERMANENT, "inbox not found"), NOW).error == "inbox not found"
