import json
import uuid

from meridian.ids import uuid7
from meridian_gateway.fanout import MemoryFanout, after


def frame(eid=None, **data):
    return {"id": eid or str(uuid7()), "type": "message.created", "data": data}


async def test_a_tenant_only_gets_its_own_frames():
    f = MemoryFanout()
    a, b = f.subscribe("A"), f.subscribe("B")
    await f.publish([("A", frame(text="x"))])
    assert a.queue.qsize() == 1 and b.queue.qsize() == 0
    eid, text = a.queue.get_nowait()
    assert json.loads(text)["id"] == eid
    f.unsubscribe(a)
    await f.publish([("A", frame())])
    assert a.queue.qsize() == 0
    assert f.connections == 1


async def test_a_full_queue_marks_the_subscriber_overflowed_without_blocking():
    f = MemoryFanout(queue_size=2)
    slow, other = f.subscribe("A"), f.subscribe("A")
    for _ in range(3):
        await f.publish([("A", frame())])
        other.queue.get_nowait()
    assert slow.overflowed.is_set()
    assert not other.overflowed.is_set()


async def test_replay_returns_frames_after_the_last_seen_id():
    f = MemoryFanout(replay_size=3)
    ids = [str(uuid7()) for _ in range(5)]
    for i in ids:
        await f.publish([("A", frame(i))])
    assert [e for e, _ in await f.replay("A", ids[2])] == ids[3:]
    # ids[0] fell out of the ring: the retained newer ones are replayed
    assert [e for e, _ in await f.replay("A", ids[0])] == ids[2:]
    assert await f.replay("A", ids[-1]) == []
    assert await f.replay("A", None) == []
    assert await f.replay("B", ids[0]) == []


def test_after_with_unknown_or_garbage_ids():
    entries = [(str(uuid7()), "a"), (str(uuid7()), "b")]
    assert after(entries, "not-a-uuid") == []
    assert after(entries, str(uuid.UUID(int=0))) == entries
