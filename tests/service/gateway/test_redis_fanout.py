"""RedisFanout against the local Redis: two instances stand for two gateway processes."""

import asyncio
import json
import uuid

import pytest
import redis.asyncio as redis
from meridian_gateway.fanout import RedisFanout, channel, stream
from uuid6 import uuid7

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def pair():
    try:
        probe = redis.Redis.from_url(REDIS_URL)
        await probe.ping()
    except Exception:
        pytest.skip("no Redis at 127.0.0.1:6379")
    one, two = RedisFanout(REDIS_URL, replay_size=5), RedisFanout(REDIS_URL, replay_size=5)
    tasks = [asyncio.create_task(one.run()), asyncio.create_task(two.run())]
    await asyncio.wait_for(asyncio.gather(one.listening.wait(), two.listening.wait()), 5)
    tenants = [str(uuid.uuid4()), str(uuid.uuid4())]
    yield one, two, tenants
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await probe.delete(*[stream(t) for t in tenants])
    await probe.aclose()
    await one.close()
    await two.close()


def frame(text="x"):
    return {"id": str(uuid7()), "type": "message.created", "data": {"text": text}}


async def test_an_event_published_through_one_reaches_a_subscriber_of_the_other(pair):
    one, two, (a, b) = pair
    sub_a_two, sub_b_two, sub_a_one = two.subscribe(a), two.subscribe(b), one.subscribe(a)
    f = frame("hello")
    await one.publish(a, f)
    event_id, text = await asyncio.wait_for(sub_a_two.queue.get(), 5)
    assert event_id == f["id"] and json.loads(text) == f
    # the publishing process's own clients get it through Redis too — exactly once
    assert (await asyncio.wait_for(sub_a_one.queue.get(), 5))[0] == f["id"]
    g = frame("for b")
    await two.publish(b, g)
    assert (await asyncio.wait_for(sub_b_two.queue.get(), 5))[0] == g["id"]
    await asyncio.sleep(0)  # nothing else may arrive for tenant A
    assert sub_a_two.queue.empty() and sub_a_one.queue.empty()
    two.unsubscribe(sub_a_two)
    await one.publish(a, frame())
    await asyncio.wait_for(sub_a_one.queue.get(), 5)
    assert sub_a_two.queue.empty()


async def test_resume_reads_the_capped_stream(pair):
    one, two, (a, b) = pair
    frames = [frame(str(i)) for i in range(4)]
    for f in frames:
        await one.publish(a, f)
    await one.publish(b, frame("b"))
    replay = await two.replay(a, frames[1]["id"])
    assert [eid for eid, _ in replay] == [f["id"] for f in frames[2:]]
    assert [json.loads(t)["data"]["text"] for _, t in replay] == ["2", "3"]
    assert await two.replay(a, None) == []
    assert await two.replay(a, frames[-1]["id"]) == []
    probe = redis.Redis.from_url(REDIS_URL)
    for _ in range(200):  # MAXLEN ~ keeps the stream capped (approximately)
        await one.publish(a, frame())
    assert await probe.xlen(stream(a)) < 200
    assert channel(a) == f"meridian:ws:{a}"
    await probe.aclose()
    assert await one.ping()
