"""Group commit of accepted webhooks.

Concurrent webhook requests each ``submit()`` an acceptance and wait. One flusher at a time takes up
to ``batch_size`` pending acceptances and commits them in ONE statement (one round trip, no
BEGIN/COMMIT): an ``INSERT … ON CONFLICT DO NOTHING RETURNING`` of the dedupe rows, and the
``MessageReceived`` outbox rows of the keys that were new. Each waiter then learns "accepted" or
"duplicate". Requests arriving during a commit form the next batch, so a lone request costs one
commit and a crowd shares them. If a batch fails it is retried one acceptance at a time (one
poison row cannot fail its neighbours); an acceptance that still fails gets ``IngestUnavailable``
(503): never a silent loss.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context

from meridian_ingest import contracts
from meridian_ingest.domain.errors import IngestUnavailable
from meridian_ingest.domain.model import InboundMessage, InboxCredentials
from meridian_ingest.uow import IngestUow

log = logging.getLogger("meridian.ingest.batcher")


@dataclass(slots=True)
class Acceptance:
    inbox: InboxCredentials
    message: InboundMessage
    future: asyncio.Future[bool] = field(default=None)  # type: ignore[assignment]
    # the webhook request's trace context: its MessageReceived continues the request's trace,
    # although a flusher task started by another request commits it
    trace_context: otel_context.Context = field(default_factory=otel_context.get_current)


class WebhookBatcher:
    def __init__(self, uow_factory: Callable[[], Any], *, batch_size: int = 200) -> None:
        self._uow_factory = uow_factory
        self._batch_size = batch_size
        self._queue: list[Acceptance] = []
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, inbox: InboxCredentials, message: InboundMessage) -> bool:
        """True when accepted (newly stored), False for a duplicate; raises IngestUnavailable."""
        item = Acceptance(inbox, message, asyncio.get_running_loop().create_future())
        self._queue.append(item)
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_all())
        return await item.future

    async def _flush_all(self) -> None:
        batch: list[Acceptance] = []
        try:
            while self._queue:
                batch, self._queue = self._queue[: self._batch_size], self._queue[self._batch_size:]
                await self._flush(batch)
        except BaseException as exc:  # cancelled at shutdown: nobody may wait forever
            for item in [*batch, *self._queue]:
                _fail(item, exc)
            self._queue = []
            raise

    async def _flush(self, batch: list[Acceptance]) -> None:
        try:
            results = await self._commit(batch)
        except Exception as exc:
            if len(batch) == 1:
                log.error("webhook acceptance failed", extra={"inbox_id": str(batch[0].inbox.id),
                                                              "error": repr(exc)})
                _fail(batch[0], exc)
                return
            log.warning("webhook batch failed, retrying one by one", extra={"size": len(batch),
                                                                           "error": repr(exc)})
            for item in batch:
                try:
                    [result] = await self._commit([item])
                except Exception as one_exc:
                    log.error("webhook acceptance failed", extra={"inbox_id": str(item.inbox.id),
                                                                  "error": repr(one_exc)})
                    _fail(item, one_exc)
                else:
                    _resolve(item, result)
            return
        for item, result in zip(batch, results, strict=True):
            _resolve(item, result)

    async def _commit(self, batch: list[Acceptance]) -> list[bool]:
        return await accept_messages(self._uow_factory(), batch)

    async def close(self) -> None:
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)


async def accept_messages(uow: IngestUow, batch: list[Acceptance]) -> list[bool]:
    """Dedupe rows + MessageReceived outbox rows for the new ones, in one statement; True per item
    that was new. A key repeated inside the batch is new at most once (the first occurrence)."""
    now = uow.clock.now()
    rows: dict[tuple[Any, str], dict[str, Any]] = {}
    for item in batch:
        key = (item.inbox.id, item.message.external_id)
        if key in rows:
            continue
        rows[key] = {"inbox_id": item.inbox.id, "external_id": item.message.external_id,
                     "tenant_id": item.inbox.tenant_id, "received_at": now}
        token = otel_context.attach(item.trace_context)
        try:
            uow.emit(contracts.message_received(item.inbox, item.message, now),
                     key=contracts.message_key(item.inbox.id, item.message.thread_id), tenant_id=item.inbox.tenant_id)
        finally:
            otel_context.detach(token)
    inserted = await uow.accept_inbound(list(rows.values()))
    results: list[bool] = []
    for item in batch:
        key = (item.inbox.id, item.message.external_id)
        results.append(key in inserted)
        inserted.discard(key)
    return results


def _resolve(item: Acceptance, result: bool) -> None:
    if not item.future.done():
        item.future.set_result(result)


def _fail(item: Acceptance, exc: BaseException) -> None:
    if not item.future.done():
        item.future.set_exception(IngestUnavailable(f"the message could not be stored ({type(exc).__name__})"))
