"""Two gateway processes (two builds) on one bus and the local Redis: the ``gateway.push`` group is shared,
so each event is consumed once, yet the connections of both processes receive every event of their tenant."""

import asyncio
import uuid

import pytest
import redis.asyncio as redis
from meridian.bus.memory import MemoryBus
from meridian.contracts.ticket import messages_v1_pb2 as messages_v1
from meridian.events.envelope import new_meta, to_record
from meridian.ids import uuid7
from meridian.runtime.parts import Infra
from meridian.settings import PlatformSettings
from meridian_gateway.app import build
from meridian_gateway.fanout import RedisFanout, stream

from tests.support.service import TEST_DATABASE_URL

REDIS_URL = "redis://127.0.0.1:6379/0"


async def test_both_processes_deliver_every_event_of_the_tenant_once():
    try:
        probe = redis.Redis.from_url(REDIS_URL)
        await probe.ping()
    except Exception:
        pytest.skip("no Redis at 127.0.0.1:6379")
    bus = MemoryBus()
    platform = PlatformSettings(database_url=TEST_DATABASE_URL, redis_url=REDIS_URL, seed_demo=False)
    infra = Infra(platform=platform, bus=bus)
    gateways = [build(infra), build(infra)]
    fanouts = [g.app.state.gateway.fanout for g in gateways]
    assert all(isinstance(f, RedisFanout) for f in fanouts)
    for g in gateways:
        for c in g.consumers:
            bus.subscribe(c.subscription())
    await bus.start()
    tasks = [asyncio.create_task(f.run()) for f in fanouts]
    tenant, other = str(uuid.uuid4()), str(uuid.uuid4())
    try:
        await asyncio.wait_for(asyncio.gather(*(f.listening.wait() for f in fanouts)), 5)
        subs = [f.subscribe(tenant) for f in fanouts]
        strangers = [f.subscribe(other) for f in fanouts]
        ids = []
        for i in range(12):  # several keys: both group members consume some
            m = messages_v1.MessageCreated(message_id=str(uuid7()), conversation_id=f"c{i}", text=str(i))
            meta = new_meta(m, tenant_id=tenant, source="test", key=f"c{i}")
            ids.append(str(meta.id))
            await bus.publish([to_record("ticket.messages.v1", m, meta)])
        await bus.drained()
        for sub in subs:
            got = [(await asyncio.wait_for(sub.queue.get(), 5))[0] for _ in ids]
            assert sorted(got) == sorted(ids)
        await asyncio.sleep(0.2)  # nothing more (no double fan-out), nothing for the other tenant
        assert all(s.queue.empty() for s in subs + strangers)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bus.stop()
        for g in gateways:
            await g.close()
        await probe.delete(stream(tenant))
        await probe.aclose()


async def test_a_gateway_with_redis_is_ready_only_while_redis_answers():
    """Its WebSocket fan-out needs Redis: /readyz checks it beside the database (an earlier version
    added the check to a second health router that the first one shadowed)."""
    import httpx

    for redis_url, status, state in ((REDIS_URL, 200, "ok"), ("redis://127.0.0.1:1/0", 503, "unavailable")):
        platform = PlatformSettings(database_url=TEST_DATABASE_URL, redis_url=redis_url, seed_demo=False)
        gateway = build(Infra(platform=platform, bus=MemoryBus()))
        try:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway.app), base_url="http://gw") as c:
                r = await c.get("/readyz")
        finally:
            await gateway.close()
        assert r.status_code == status and r.json()["checks"]["redis"] == state, r.text
