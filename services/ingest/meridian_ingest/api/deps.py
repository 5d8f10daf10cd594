"""What routers read from app.state (set up by app.build)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from meridian_ingest.batcher import WebhookBatcher
from meridian_ingest.delivery import DeliveryWorker
from meridian_ingest.inbox_cache import InboxCache
from meridian_ingest.settings import IngestSettings


@dataclass
class IngestState:
    settings: IngestSettings
    inboxes: InboxCache
    batcher: WebhookBatcher
    worker: DeliveryWorker


async def _state(request: Request) -> IngestState:
    return request.app.state.ingest


IngestDep = Annotated[IngestState, Depends(_state)]
