"""At-least-once across restarts of the embedded runtime, whose bus keeps its records in memory.

A relay marks an outbox row sent when it hands the event to the bus. With the in-memory bus, an
event handed over but not yet consumed by every group is gone if the process stops: a crash, or a
stop that could not wait. So the runtime keeps a checkpoint, a time before which every event sent
was consumed by every group, and at start it has the relays send again what was sent since
(``OutboxRelay.resend_since``); consumers skip what they processed already.

The checkpoint is written when the bus is seen drained (every group committed every record), at
most every ``INTERVAL`` seconds, and after the final drain of a clean stop; not when nothing was
published since the moment the last one names (an idle platform leaves the file alone). It lies
``MARGIN`` before that moment: a relay publishes the rows it claimed within the same transaction,
milliseconds after their ``sent_at``, so whatever was sent before the margin had reached the bus,
and the bus had no record left unconsumed. It is a file beside the embedded database's data.
Without one (a first start, or a lost file) everything still retained in the outboxes is sent again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from meridian.bus.memory import MemoryBus
from meridian.db.outbox import RETENTION, OutboxRelay

log = logging.getLogger("meridian.runtime.checkpoint")

FILE_NAME = "bus-checkpoint"
INTERVAL = 5.0
MARGIN = timedelta(seconds=60)


class BusCheckpoint:
    def __init__(self, data_dir: Path, bus: MemoryBus) -> None:
        self.path = data_dir / FILE_NAME
        self._bus = bus
        self._written: datetime | None = None  # what this process wrote last

    def read(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.path.read_text().strip())
        except (OSError, ValueError):
            return None

    def mark_if_drained(self, margin: timedelta = MARGIN) -> bool:
        """Advance the checkpoint if the bus is drained now; True when it is current.

        Nothing published since the moment the last checkpoint names means no row was sent since
        (a relay marks a row sent before it publishes it): a newer checkpoint would resend the same
        nothing, so the file is not rewritten."""
        if not self._bus.is_drained():
            return False
        if self._written is not None and self._bus.last_publish_ms < self._written.timestamp() * 1000:
            return True
        mark = datetime.now(UTC) - margin
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(mark.isoformat())
        os.replace(tmp, self.path)  # a reader sees the old checkpoint or the new one, never half of one
        self._written = mark
        return True

    async def keep(self) -> None:
        """Background task: advance the checkpoint while the platform runs."""
        while True:
            await asyncio.sleep(INTERVAL)
            try:
                self.mark_if_drained()
            except OSError as exc:
                log.warning("bus checkpoint not written", extra={"path": str(self.path), "error": repr(exc)})

    async def resend_unconfirmed(self, relays: Iterable[OutboxRelay]) -> int:
        """At start: every relay sends again what it sent since the checkpoint."""
        return await resend_since(relays, self.read() or datetime.now(UTC) - RETENTION)

    async def drain_and_mark(self, relays: Iterable[OutboxRelay], timeout: float) -> bool:  # noqa: ASYNC109
        """At a clean stop, once no request is served any more: let the relays publish what is left and
        the consumers finish (up to ``timeout`` seconds), then write the checkpoint: now, as nothing
        is in flight any more."""
        relays = list(relays)
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            with contextlib.suppress(Exception):  # the database is going: the next start resends
                if all([await r.pending() == 0 for r in relays]) and self.mark_if_drained(timedelta(0)):
                    return True
            await asyncio.sleep(0.05)
        log.warning("stopping before every event was consumed; they are sent again at the next start",
                    extra={"timeout_s": timeout})
        return False


async def resend_since(relays: Iterable[OutboxRelay], since: datetime) -> int:
    """Every relay sends again what it sent since ``since``, which a lost bus may not have delivered:
    the embedded bus after a crash, or the memory-only broker `run-distributed` restarted."""
    total = 0
    for relay in relays:
        total += await relay.resend_since(since)
    if total:
        log.warning("events handed to a bus that may have lost them; sending them again",
                    extra={"events": total, "since": since.isoformat()})
    return total
