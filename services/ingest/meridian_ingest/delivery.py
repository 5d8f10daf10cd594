"""The delivery worker: sends pending outbound messages through their channel adapter.

It wakes when a new delivery commits and polls for due retries. Each round leases due rows with
``FOR UPDATE SKIP LOCKED`` (their ``next_attempt_at`` moves past the lease, so several workers never
send the same attempt and a crashed worker's rows come back), sends them concurrently (bounded), and
records each outcome in its own transaction (DeliveryUpdated, dead letter and audit on failure).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from meridian_ingest.channels import ADAPTERS
from meridian_ingest.domain.delivery import AttemptKind, AttemptResult, RetryPolicy
from meridian_ingest.domain.model import Delivery
from meridian_ingest.handlers import record_attempt
from meridian_ingest.inbox_cache import InboxCache
from meridian_ingest.settings import IngestSettings

log = logging.getLogger("meridian.ingest.delivery")


class DeliveryWorker:
    def __init__(self, uow_factory: Callable[[], Any], inboxes: InboxCache, settings: IngestSettings, *,
                 client_factory: Callable[[], httpx.AsyncClient] | None = None, rng: random.Random | None = None
                 ) -> None:
        self._uow_factory = uow_factory
        self._inboxes = inboxes
        self._settings = settings
        self.policy = RetryPolicy(settings.delivery_max_attempts, settings.delivery_base_delay,
                                  settings.delivery_max_delay)
        self._client_factory = client_factory or (lambda: httpx.AsyncClient(
            timeout=settings.delivery_timeout, follow_redirects=False,
            limits=httpx.Limits(max_connections=settings.delivery_concurrency)))
        self._rng = rng
        self._wake = asyncio.Event()
        self._inflight: set[asyncio.Task[None]] = set()
        self._failures = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        async with self._client_factory() as client:
            try:
                while True:
                    try:
                        await asyncio.wait_for(self._wake.wait(), timeout=self._settings.delivery_poll_interval)
                    except TimeoutError:
                        pass
                    self._wake.clear()
                    try:
                        await self.dispatch(client)
                        self._failures = 0
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:  # database down: back off; pending rows stay pending
                        self._failures += 1
                        log.warning("delivery round failed", extra={"error": repr(exc), "failures": self._failures})
                        await asyncio.sleep(min(0.1 * 2 ** self._failures, 5.0))
            finally:
                for task in self._inflight:
                    task.cancel()
                await asyncio.gather(*self._inflight, return_exceptions=True)

    async def dispatch(self, client: httpx.AsyncClient) -> int:
        """Lease as many due deliveries as there are free slots and start sending them."""
        started = 0
        while True:
            free = self._settings.delivery_concurrency - len(self._inflight)
            if free <= 0:
                return started
            due = await self._claim(free)
            for delivery in due:
                task = asyncio.create_task(self._attempt(client, delivery))
                self._inflight.add(task)
                task.add_done_callback(self._done)
            started += len(due)
            if len(due) < free:
                return started

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake.set()  # a slot is free: look for more due work

    async def _claim(self, limit: int) -> list[Delivery]:
        async with self._uow_factory() as uow:
            now = uow.clock.now()
            lease = now + timedelta(seconds=max(self._settings.delivery_lease, self._settings.delivery_timeout * 2))
            due = await uow.deliveries.claim_due(now, lease, limit)
            await uow.commit()
            return due

    async def _attempt(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        try:
            result = await self.send(client, delivery)
            async with self._uow_factory() as uow:
                status = await record_attempt(uow, delivery, result, self.policy, self._rng)
                await uow.commit()
            log.info("delivery attempt", extra={"delivery_id": str(delivery.id), "message_id": delivery.message_id,
                                                "attempt": delivery.attempts + 1, "result": result.kind.value,
                                                "status": status.value if status else "stale"})
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # recording failed: the lease expires and the attempt is made again
            log.error("delivery attempt not recorded", extra={"delivery_id": str(delivery.id), "error": repr(exc)})

    async def send(self, client: httpx.AsyncClient, delivery: Delivery) -> AttemptResult:
        inbox = await self._inboxes.get(delivery.inbox_id)
        if inbox is None or inbox.tenant_id != delivery.tenant_id:
            return AttemptResult(AttemptKind.PERMANENT, error="inbox not found")
        adapter = ADAPTERS.get(inbox.channel)
        if adapter is None:
            return AttemptResult(AttemptKind.PERMANENT, error=f"channel {inbox.channel!r} is not supported")
        return await adapter.deliver(client, inbox, delivery)
