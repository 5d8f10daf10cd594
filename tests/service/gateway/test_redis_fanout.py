"""RedisFanout against the local Redis: two instances stand for two gateway processes."""

import asyncio
import json
import uuid

import pytest
import redis.asyncio as redis
from meridian.ids import uuid7
from meridian_gateway.fanout import RedisFanout, channel, stream

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
    await one.publish([(a, f)])
    event_id, text = await asyncio.wait_for(sub_a_two.queue.get(), 5)
    assert event_id == f["id"] and json.loads(text) == f
    # the publishing process's own clients get it through Redis too — exactly once
    assert (await asyncio.wait_for(sub_a_one.queue.get(), 5))[0] == f["id"]
    g = frame("for b")
    await two.publish([(b, g)])
    assert (await asyncio.wait_for(sub_b_two.queue.get(), 5))[0] == g["id"]
    await asyncio.sleep(0)  # nothing else may arrive for tenant A
    assert sub_a_two.queue.empty() and sub_a_one.queue.empty()
    two.unsubscribe(sub_a_two)
    await one.publish([(a, frame())])
    await asyncio.wait_for(sub_a_one.queue.get(), 5)
    assert sub_a_two.queue.empty()


async def test_resume_reads_the_capped_stream(pair):
    one, two, (a, b) = pair
    frames = [frame(str(i)) for i in range(4)]
    for f in frames:
        await one.publish([(a, f)])
    await one.publish([(b, frame("b"))])
    replay = await two.replay(a, frames[1]["id"])
    assert [eid for eid, _ in replay] == [f["id"] for f in frames[2:]]
    assert [json.loads(t)["data"]["text"] for _, t in replay] == ["2", "3"]
    assert await two.replay(a, None) == []
    assert await two.replay(a, frames[-1]["id"]) == []
    probe = redis.Redis.from_url(REDIS_URL)
    for _ in range(200):  # MAXLEN ~ keeps the stream capped (approximately)
        await one.publish([(a, frame())])
    assert await probe.xlen(stream(a)) < 200
    assert channel(a) == f"meridian:ws:{a}"
    await probe.aclose()
    assert await one.ping()


async def test_a_batch_reaches_each_tenant_in_order_with_one_message_per_tenant(pair):
    one, two, (a, b) = pair
    sub_a, sub_b = two.subscribe(a), two.subscribe(b)
    frames = [(a, frame("first\nline two")), (b, frame("b1")), (a, frame("second")), (b, frame("b2"))]
    probe = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    watcher = probe.pubsub(ignore_subscribe_messages=True)
    await watcher.psubscribe("meridian:ws:*")
    await one.publish(frames)
    got_a = [await asyncio.wait_for(sub_a.queue.get(), 5) for _ in range(2)]
    got_b = [await asyncio.wait_for(sub_b.queue.get(), 5) for _ in range(2)]
    assert [json.loads(t) for _, t in got_a] == [frames[0][1], frames[2][1]]   # a text's newline survives
    assert [eid for eid, _ in got_b] == [frames[1][1]["id"], frames[3][1]["id"]]
    messages = []
    deadline = asyncio.get_running_loop().time() + 1
    while asyncio.get_running_loop().time() < deadline:   # None also stands for the ignored subscribe reply
        msg = await watcher.get_message(timeout=0.1)
        if msg is not None:
            messages.append(msg["channel"])
    assert sorted(messages) == sorted([channel(a), channel(b)])                # one pub/sub message per tenant
    assert [eid for eid, _ in await two.replay(a, frames[0][1]["id"])] == [frames[2][1]["id"]]
    await watcher.aclose()
    await probe.aclose()
