"""Inbound messages whose language never comes are announced anyway.

ticket announces an inbound message (``MessageCreated``, what agents see) once it has both the
message and the language translation detected from the same ``MessageReceived``
(``InboundLanguageRepository``). If translation is down, or dead-lettered that event, the message
would wait forever. This task looks every ``language_poll_interval`` seconds for messages that have
waited longer than ``language_wait``, gives them the undetermined language (``und``) and announces
them. A detection that arrives later still finds such a message and corrects it (``MessageUpdated``
with the language; ``handlers.on_message_translated``). Halves whose other half never comes are
forgotten after a day: a settled message's, and a language whose message never came (ticket
dead-lettered its ``MessageReceived``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from meridian_ticket import contracts
from meridian_ticket.domain.model import UNDETERMINED_LANGUAGE

log = logging.getLogger("meridian.ticket.language_deadline")

BATCH = 500
LANGUAGE_RETENTION = timedelta(days=1)  # how long a half waits for its other half, then is forgotten


class LanguageDeadline:
    def __init__(self, uow_factory: Callable[[], Any], *, wait: float, poll_interval: float,
                 retention: timedelta = LANGUAGE_RETENTION) -> None:
        self._uow_factory = uow_factory
        self._wait = timedelta(seconds=wait)
        self._retention = retention
        self._poll = poll_interval
        self._failures = 0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(min(0.1 * 2 ** self._failures, 5.0) if self._failures else self._poll)
            try:
                while await self.run_once() == BATCH:
                    pass
                self._failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database is down: try again later, nothing is lost
                self._failures += 1
                log.warning("language deadline round failed", extra={"error": repr(exc), "failures": self._failures})

    async def run_once(self) -> int:
        """Announce up to ``BATCH`` overdue messages and forget expired halves, in one transaction;
        returns how many messages were announced."""
        async with self._uow_factory() as uow:
            now = uow.clock.now()
            settled = await uow.inbound_languages.settle_overdue(now - self._wait, BATCH, UNDETERMINED_LANGUAGE)
            for message in sorted(settled, key=lambda m: (m.created_at, m.id)):  # a conversation's in order
                uow.emit(contracts.message_created(message), key=str(message.conversation_id),
                         tenant_id=message.tenant_id)
            pruned = await uow.inbound_languages.prune_halves(now - self._retention)
            await uow.commit()
        if settled:
            log.warning("inbound messages announced without a detected language",
                        extra={"count": len(settled), "waited_seconds": self._wait.total_seconds()})
        if pruned:
            log.info("halves whose other half never came forgotten", extra={"count": pruned})
        return len(settled)
