import asyncio
import json

import pytest
import websockets
from meridian.contracts.routing import agents_v1_pb2 as agents_v1
from meridian.contracts.ticket import messages_v1_pb2 as messages_v1
from meridian.contracts.ticket import tickets_v1_pb2 as tickets_v1
from meridian.ids import uuid7

from tests.service.gateway.support import create_tenant


async def recv(ws, wait=5.0):
    """The next event frame (control frames skipped)."""
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), wait))
        if frame["type"] not in ("ready", "ping"):
            return frame


async def ready(ws):
    frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert frame["type"] == "ready"


def message_created(conversation_id="c1", text="Hola"):
    m = messages_v1.MessageCreated(message_id=str(uuid7()), conversation_id=conversation_id, inbox_id="i1",
                                   contact_id="p1", direction=messages_v1.DIRECTION_INBOUND, text=text,
                                   language="es", status="received", external_id="e1")
    m.created_at.GetCurrentTime()
    return m


async def test_each_tenant_gets_only_its_own_events(gw, ws_base):
    a, b = await create_tenant(gw, "A"), await create_tenant(gw, "B")
    async with websockets.connect(f"{ws_base}/api/v1/ws?token={a['api_key']}") as wa, \
            websockets.connect(f"{ws_base}/api/v1/ws") as wb:
        await wb.send(json.dumps({"type": "auth", "token": b["api_key"]}))  # first-message auth
        await ready(wa)
        await ready(wb)
        msg = message_created()
        meta = await gw.publish(msg, key="c1", tenant_id=a["id"])
        frame = await recv(wa)
        assert frame["id"] == str(meta.id)
        assert frame["type"] == "message.created"
        assert frame["data"] == {
            "id": msg.message_id, "conversation_id": "c1", "inbox_id": "i1", "contact_id": "p1",
            "direction": "inbound", "text": "Hola", "language": "es", "status": "received",
            "sender_agent_id": None, "external_id": "e1",
            "created_at": msg.created_at.ToDatetime().isoformat() + "+00:00"}
        # B's own event reaches B — and B never saw A's
        assigned = tickets_v1.TicketAssigned(ticket_id="t1", conversation_id="c9", assignee_agent_id="ag")
        meta_b = await gw.publish(assigned, key="c9", tenant_id=b["id"])
        frame_b = await recv(wb)
        assert frame_b["id"] == str(meta_b.id) and frame_b["type"] == "ticket.assigned"
        presence = agents_v1.AgentPresenceChanged(agent_id="ag", status="online")
        await gw.publish(presence, key="ag", tenant_id=a["id"])
        assert (await recv(wa))["type"] == "presence.updated"
        with pytest.raises(TimeoutError):
            await recv(wb, wait=0.3)


@pytest.mark.parametrize("how", ["query", "first-message", "nothing"])
async def test_bad_token_is_closed_with_4401(gw, ws_base, how):
    url = f"{ws_base}/api/v1/ws" + ("?token=mrd_wrong" if how == "query" else "")
    gw.parts.app.state.gateway.settings.ws_auth_timeout = 0.5
    try:
        async with websockets.connect(url) as ws:
            if how == "first-message":
                await ws.send(json.dumps({"type": "auth", "token": "mrd_wrong"}))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 5)
            assert closed.value.rcvd.code == 4401
    finally:
        gw.parts.app.state.gateway.settings.ws_auth_timeout = 5.0


async def test_revoked_key_cannot_connect(gw, ws_base):
    a = await create_tenant(gw)
    key = (await gw.client.post("/api/v1/api-keys", json={"name": "x"},
                                headers={"Authorization": f"Bearer {a['api_key']}"})).json()
    await gw.client.delete(f"/api/v1/api-keys/{key['id']}", headers={"Authorization": f"Bearer {a['api_key']}"})
    async with websockets.connect(f"{ws_base}/api/v1/ws?token={key['api_key']}") as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd.code == 4401


async def test_resume_with_last_event_id(gw, ws_base):
    a, b = await create_tenant(gw, "A"), await create_tenant(gw, "B")
    metas = []
    for i in range(4):
        metas.append(await gw.publish(message_created(text=f"m{i}"), key="c1", tenant_id=a["id"]))
        await gw.publish(message_created(text="other"), key="c1", tenant_id=b["id"])
    await gw.bus.drained()
    url = f"{ws_base}/api/v1/ws?token={a['api_key']}&last_event_id={metas[1].id}"
    async with websockets.connect(url) as ws:
        replayed = [json.loads(await asyncio.wait_for(ws.recv(), 5)) for _ in range(2)]
        assert [f["id"] for f in replayed] == [str(metas[2].id), str(metas[3].id)]
        assert [f["data"]["text"] for f in replayed] == ["m2", "m3"]
        await ready(ws)
        live = await gw.publish(message_created(text="live"), key="c1", tenant_id=a["id"])
        frame = await recv(ws)
        assert frame["id"] == str(live.id) and frame["data"]["text"] == "live"


async def test_a_slow_client_is_dropped_without_blocking_others(gw, ws_base):
    a = await create_tenant(gw)
    fanout = gw.parts.app.state.gateway.fanout
    old = fanout.queue_size
    fanout.queue_size = 3
    try:
        async with websockets.connect(f"{ws_base}/api/v1/ws?token={a['api_key']}") as one, \
                websockets.connect(f"{ws_base}/api/v1/ws?token={a['api_key']}") as two:
            await ready(one)
            await ready(two)
            slow, fast = list(fanout._local.by_tenant[a["id"]])
            # overflow one connection's server-side queue (a real slow reader would take a while)
            for _ in range(10):
                slow.offer(str(uuid7()), "{}")
            assert slow.overflowed.is_set() and not fast.overflowed.is_set()
            frame = {"id": str(uuid7()), "type": "presence.updated", "data": {"agent_id": "x"}}
            await fanout.publish([(a["id"], frame)])
            outcomes = {}
            for ws in (one, two):
                try:
                    while True:
                        got = json.loads(await asyncio.wait_for(ws.recv(), 2))
                        if got.get("id") == frame["id"]:
                            outcomes[ws] = "received"
                            break
                except websockets.ConnectionClosed as exc:
                    outcomes[ws] = exc.rcvd.code
            assert sorted(map(str, outcomes.values())) == ["1013", "received"]
            for _ in range(200):  # the server side of the dropped connection unsubscribes
                if fanout.connections == 1:
                    break
                await asyncio.sleep(0.01)
            assert fanout.connections == 1
    finally:
        fanout.queue_size = old


async def test_a_burst_larger_than_the_connection_queue_reaches_a_reading_client(gw, ws_base):
    """One consumer batch of more frames than a connection may queue (ws_queue_size): a client
    that reads is not cut off as too slow, and gets every frame in order."""
    from meridian.bus.base import Record
    from meridian.events.envelope import new_meta, to_record

    tenant = await create_tenant(gw, "Burst")
    n = gw.parts.app.state.gateway.settings.ws_queue_size * 3
    records = []
    for i in range(n):
        msg = message_created(text=f"burst {i}")
        r = to_record("ticket.messages.v1", msg, new_meta(msg, tenant_id=tenant["id"], source="test", key="c1"))
        records.append(Record(topic=r.topic, key=r.key, value=r.value, headers=r.headers, partition=0, offset=i))
    [push] = [c for c in gw.parts.consumers if c.sub.group == "gateway.push"]
    async with websockets.connect(f"{ws_base}/api/v1/ws?token={tenant['api_key']}", max_queue=None) as ws:
        await ready(ws)
        await push.handle_batch(records)
        texts = [(await recv(ws))["data"]["text"] for _ in range(n)]
    assert texts == [f"burst {i}" for i in range(n)]
