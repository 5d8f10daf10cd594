"""The foundation flow in distributed mode: every service its own process over the Tansu broker,
PostgreSQL and Redis — with two gateway processes, and a broker outage during traffic."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid

import httpx
import pytest
import websockets

from tests.fakes.callback_server import CallbackServer
from tests.integration.scenario import WsClient, create_tenant, poll, run_flow, sign
from tests.support.broker import TansuBroker
from tests.support.stack import create_database, database_url, drop_database, running_stack

pytestmark = pytest.mark.integration

OPERATOR = "operator-it-token"
# ticket announces a message without its language after this wait (test_a_frozen_translation_...)
LANGUAGE_DEADLINE = {"MERIDIAN_TICKET_LANGUAGE_WAIT": "10", "MERIDIAN_TICKET_LANGUAGE_POLL_INTERVAL": "0.5"}


@pytest.fixture(scope="module")
async def stack():
    broker = TansuBroker()
    broker.start()
    name = await create_database()
    try:
        with running_stack(bootstrap=broker.bootstrap, db_url=database_url(name), operator_token=OPERATOR,
                           gateways=2, extra_env=LANGUAGE_DEADLINE) as running:
            running.broker = broker
            yield running
    finally:
        broker.stop()
        await drop_database(name)


async def tenant_with_inbox(api: httpx.AsyncClient, name: str) -> tuple[str, dict[str, str], dict]:
    """A new tenant's admin key, its auth header and an `api` inbox whose replies go nowhere."""
    key = await create_tenant(api, OPERATOR, name)
    auth = {"Authorization": f"Bearer {key}"}
    r = await api.post("/api/v1/inboxes", headers=auth, json={
        "name": "api", "channel": "api", "settings": {"callback_url": "http://127.0.0.1:9/unused"}})
    assert r.status_code == 201, r.text
    return key, auth, r.json()


@pytest.fixture(autouse=True)
def _process_logs(stack):
    yield
    print(stack.logs())  # pytest shows it for a failed test only


async def test_flow_end_to_end_distributed(stack):
    async with CallbackServer() as callback:
        await run_flow(stack.gateway_urls[0], OPERATOR, callback)


async def test_both_gateways_push_every_event_of_the_tenant(stack):
    first, second = stack.gateway_urls
    async with httpx.AsyncClient(base_url=first, timeout=30) as api:
        key, _, inbox = await tenant_with_inbox(api, "Two gateways")
        sockets = [WsClient(await websockets.connect(f"{u.replace('http', 'ws')}/api/v1/ws?token={key}"))
                   for u in (first, second)]
        try:
            texts = [f"Hello number {i}, where is my parcel {uuid.uuid4().hex[:6]}?" for i in range(5)]
            for i, text in enumerate(texts):
                body = json.dumps({"id": f"m{i}-{uuid.uuid4()}", "sender": {"id": f"c{i}"}, "text": text}).encode()
                r = await api.post(f"/webhooks/api/{inbox['id']}", content=body,
                                   headers={"X-Meridian-Signature": sign(inbox["secret"], body)})
                assert r.status_code == 202
            for ws in sockets:
                for text in texts:
                    await ws.wait_for("message.created", lambda d, t=text: d["text"] == t)
        finally:
            for ws in sockets:
                await ws.close()


async def test_broker_outage_loses_no_accepted_message(stack):
    """Webhooks accepted while the broker is unreachable wait in the outbox and are processed once it
    is back. The broker process is frozen (SIGSTOP) rather than restarted: Tansu keeps nothing
    across a restart, which a production Kafka does not do."""
    url = stack.gateway_urls[0]
    async with httpx.AsyncClient(base_url=url, timeout=30) as api:
        _, auth, inbox = await tenant_with_inbox(api, "Outage")

        async def send(i: int) -> None:
            body = json.dumps({"id": f"outage-{i}", "sender": {"id": f"cust-{i}"}, "text": f"Order {i} status?"}
                              ).encode()
            r = await api.post(f"/webhooks/api/{inbox['id']}", content=body,
                               headers={"X-Meridian-Signature": sign(inbox["secret"], body)})
            assert r.status_code == 202, r.text

        async def conversations() -> int:
            total, cursor = 0, None
            while True:
                r = await api.get("/api/v1/conversations", headers=auth,
                                  params={"limit": 200, **({"cursor": cursor} if cursor else {})})
                if r.status_code != 200:
                    return -1
                page = r.json()
                total += len(page["items"])
                cursor = page["next_cursor"]
                if not cursor:
                    return total

        await asyncio.gather(*(send(i) for i in range(20)))
        await poll(lambda: _equals(conversations, 20), timeout=60)
        broker = stack.broker._process  # frozen, not killed: a durable broker keeps its topics
        broker.send_signal(signal.SIGSTOP)
        try:
            await asyncio.gather(*(send(i) for i in range(20, 60)))
            await asyncio.sleep(3.0)  # the outage outlasts the producers' publish timeout
        finally:
            broker.send_signal(signal.SIGCONT)
        await poll(lambda: _equals(conversations, 60), timeout=120)


async def _equals(fn, expected: int) -> bool:  # noqa: ANN001
    return await fn() == expected


async def test_a_frozen_translation_service_delays_a_message_but_does_not_hide_it(stack):
    """With translation stopped (SIGSTOP), an accepted message reaches the agent anyway once it has
    waited MERIDIAN_TICKET_LANGUAGE_WAIT, with the undetermined language; once translation is back
    (SIGCONT), its late detection corrects the message (message.updated)."""
    url = stack.gateway_urls[0]
    async with httpx.AsyncClient(base_url=url, timeout=30) as api:
        key, auth, inbox = await tenant_with_inbox(api, "No translation")
        ws = WsClient(await websockets.connect(f"{url.replace('http', 'ws')}/api/v1/ws?token={key}"))
        translation = stack.procs["translation"]
        translation.send_signal(signal.SIGSTOP)
        frozen = True
        try:
            text = f"Hola, ¿dónde está mi pedido {uuid.uuid4().hex[:6]}?"
            body = json.dumps({"id": f"frozen-{uuid.uuid4()}", "sender": {"id": "c-frozen"}, "text": text}).encode()
            r = await api.post(f"/webhooks/api/{inbox['id']}", content=body,
                               headers={"X-Meridian-Signature": sign(inbox["secret"], body)})
            assert r.status_code == 202, r.text
            created = (await ws.wait_for("message.created", lambda d: d["text"] == text, timeout=40))["data"]
            assert created["language"] == "und"
            path = f"/api/v1/conversations/{created['conversation_id']}/messages"
            messages = (await api.get(path, headers=auth)).json()["items"]
            assert [(m["text"], m["language"]) for m in messages] == [(text, "und")]

            translation.send_signal(signal.SIGCONT)
            frozen = False
            updated = (await ws.wait_for("message.updated", lambda d: d["id"] == created["id"], timeout=40))["data"]
            assert (updated["conversation_id"], updated["language"]) == (created["conversation_id"], "es")
            messages = (await api.get(path, headers=auth)).json()["items"]
            assert [(m["text"], m["language"]) for m in messages] == [(text, "es")]
        finally:
            if frozen:
                translation.send_signal(signal.SIGCONT)
            await ws.close()
