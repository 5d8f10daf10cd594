"""Outbound delivery rules: what an attempt's result means and when to try again.

2xx → delivered. 408, 429, 5xx, timeouts and connection errors → retry with exponential backoff and
full jitter (``uniform(0, min(cap, base · 2^(n-1)))`` after the n-th attempt) until the last
attempt, then failed. Any other status → failed at once.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from meridian_ingest.domain.model import DeliveryStatus

RETRYABLE_STATUS = frozenset({408, 429})


class AttemptKind(enum.Enum):
    DELIVERED = "delivered"
    RETRYABLE = "retryable"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class AttemptResult:
    kind: AttemptKind
    error: str = ""
    status_code: int | None = None


def classify_status(status_code: int) -> AttemptResult:
    if 200 <= status_code < 300:
        return AttemptResult(AttemptKind.DELIVERED, status_code=status_code)
    kind = AttemptKind.RETRYABLE if status_code in RETRYABLE_STATUS or status_code >= 500 else AttemptKind.PERMANENT
    return AttemptResult(kind, error=f"callback answered HTTP {status_code}", status_code=status_code)


def transport_failure(error: str) -> AttemptResult:
    return AttemptResult(AttemptKind.RETRYABLE, error=error)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 1.0
    max_delay: float = 60.0

    def ceiling(self, attempt: int) -> float:
        """Upper bound of the wait after the ``attempt``-th (1-based) failed attempt."""
        return min(self.max_delay, self.base_delay * 2 ** max(0, attempt - 1))

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        return (rng or random).uniform(0.0, self.ceiling(attempt))


@dataclass(frozen=True, slots=True)
class NextStep:
    status: DeliveryStatus
    attempts: int
    error: str | None
    next_attempt_at: datetime | None = None


def next_step(policy: RetryPolicy, attempts_before: int, result: AttemptResult, now: datetime,
              rng: random.Random | None = None) -> NextStep:
    """The delivery's state after one more attempt with ``result``."""
    attempts = attempts_before + 1
    if result.kind is AttemptKind.DELIVERED:
        return NextStep(DeliveryStatus.DELIVERED, attempts, None)
    if result.kind is AttemptKind.PERMANENT:
        return NextStep(DeliveryStatus.FAILED, attempts, result.error)
    if attempts >= policy.max_attempts:
        return NextStep(DeliveryStatus.FAILED, attempts, f"{result.error} (gave up after {attempts} attempts)")
    wait = timedelta(seconds=policy.delay(attempts, rng))
    return NextStep(DeliveryStatus.PENDING, attempts, result.error, now + wait)
