"""Composition root of ingest."""

from __future__ import annotations

import functools
from pathlib import Path
from uuid import UUID

from meridian.runtime.parts import Infra, ServiceParts
from meridian.service import ServiceKit

from meridian_ingest.api import deliveries, inboxes, webhooks
from meridian_ingest.api.deps import IngestState
from meridian_ingest.batcher import WebhookBatcher
from meridian_ingest.consumers import SUBSCRIPTIONS
from meridian_ingest.delivery import DeliveryWorker
from meridian_ingest.domain.model import InboxCredentials
from meridian_ingest.inbox_cache import InboxCache
from meridian_ingest.secretbox import SecretBox
from meridian_ingest.settings import IngestSettings
from meridian_ingest.tables import outbox, processed_events
from meridian_ingest.uow import IngestUow

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def build(infra: Infra, settings: IngestSettings | None = None) -> ServiceParts:
    settings = settings or IngestSettings(platform=infra.platform)
    box = SecretBox.from_platform(infra.platform)
    worker_ref: list[DeliveryWorker] = []

    def deliveries_queued() -> None:
        worker_ref[0].wake()

    uow_class = functools.partial(IngestUow, secretbox=box, deliveries_queued=deliveries_queued)
    kit = ServiceKit(name="ingest", schema="ingest", infra=infra, uow_class=uow_class,  # type: ignore[arg-type]
                     outbox=outbox, processed=processed_events, migrations=MIGRATIONS, pool_size=10)

    async def load_credentials(inbox_id: UUID) -> InboxCredentials | None:
        async with kit.uow() as uow:
            found = await uow.inboxes.find_credentials(inbox_id)
        if found is None:
            return None
        inbox, encrypted = found
        return InboxCredentials(id=inbox.id, tenant_id=inbox.tenant_id, channel=inbox.channel,
                                settings=inbox.settings, secret=box.decrypt(encrypted))

    cache = InboxCache(load_credentials, ttl=settings.secret_cache_ttl, size=settings.secret_cache_size)
    batcher = WebhookBatcher(kit.uow, batch_size=settings.batch_size)
    worker = DeliveryWorker(kit.uow, cache, settings)
    worker_ref.append(worker)

    app = kit.app(title="Ingest", description="Inboxes, channel webhooks and outbound delivery.")
    app.state.ingest = IngestState(settings=settings, inboxes=cache, batcher=batcher, worker=worker)
    app.include_router(inboxes.router, prefix="/api/v1")
    app.include_router(deliveries.router, prefix="/api/v1")
    webhooks.install(app)

    parts = kit.parts(app, SUBSCRIPTIONS, tasks=[worker.run])
    engine_close = parts.close

    async def close() -> None:
        await batcher.close()
        if engine_close is not None:
            await engine_close()

    parts.close = close
    return parts
