"""Forwarding through the embedded runtime's direct ASGI client (no httpx): what the owner sees, what
comes back, and the raw-ASGI webhook pieces (``exchange``, ``receive_limited``, ``target_of``)."""

import asyncio
import json
import re

import httpx
import pytest
from meridian.runtime.asgi import AsgiClient
from meridian_gateway.domain.errors import BodyTooLarge, OwnerUnavailable
from meridian_gateway.forwarding import Forwarder, new_traceparent, receive_limited, target_of
from starlette.responses import StreamingResponse

TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")


async def echo(scope, receive, send):
    """Answers with what it received; ``/fail`` raises, ``/silent`` never answers, ``/stream`` streams."""
    if scope["path"] == "/fail":
        raise RuntimeError("owner crashed")
    if scope["path"] == "/silent":
        return
    if scope["path"] == "/stream":
        async def chunks():
            yield b"a"
            yield b"b"

        await StreamingResponse(chunks(), media_type="text/plain")(scope, receive, send)
        return
    message = await receive()
    body = json.dumps({
        "method": scope["method"], "path": scope["path"], "raw_path": scope["raw_path"].decode(),
        "query": scope["query_string"].decode(), "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
        "body": message["body"].decode("latin-1"), "more_body": message.get("more_body", False),
        "server": list(scope["server"]), "client": list(scope["client"]),
    }).encode()
    status = int(dict(p.split("=") for p in scope["query_string"].decode().split("&") if "=" in p).get("status", 200))
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"Location", b"/somewhere"), (b"link", b"<a>"), (b"link", b"<b>"),
        (b"x-private", b"not passed back")]})
    await send({"type": "http.response.body", "body": body[:10], "more_body": True})
    await send({"type": "http.response.body", "body": body[10:]})


def forwarder() -> Forwarder:
    return Forwarder({"ingest": AsgiClient(echo, base_url="http://ingest")}, "internal")


async def test_the_owner_gets_path_query_headers_and_body_as_sent():
    client = AsgiClient(echo, base_url="http://ingest")
    r = await client.request("POST", "/webhooks/api/abc%2Fdef?v=1&x=a%20b", content=b"\xff raw",
                             headers=[(b"X-Signature", b"sha256=ab"), (b"content-type", b"application/json")])
    seen = r.json()
    assert r.status_code == 200 and seen["method"] == "POST"
    assert seen["path"] == "/webhooks/api/abc/def" and seen["raw_path"] == "/webhooks/api/abc%2Fdef"
    assert seen["query"] == "v=1&x=a%20b"
    assert seen["body"] == "\xff raw" and seen["more_body"] is False
    assert seen["headers"] == [["host", "ingest"], ["x-signature", "sha256=ab"], ["content-type", "application/json"],
                               ["content-length", "5"]]
    assert seen["server"] == ["ingest", None] and seen["client"] == ["127.0.0.1", 123]
    assert r.headers.get("LINK") == "<a>, <b>" and r.headers["location"] == "/somewhere"
    assert (await client.get("/x", params={"a": "1 2"})).json()["query"] == "a=1+2"
    empty = (await client.post("/x")).json()
    assert ["content-length", "0"] in empty["headers"] and empty["body"] == ""
    assert ["content-length", "0"] not in (await client.get("/x")).json()["headers"]


async def test_exchange_passes_back_status_body_and_the_same_headers_as_send():
    fwd = forwarder()
    status, headers, body = await fwd.exchange("ingest", "PUT", "/webhooks/api/1?status=201", [], b"{}")
    response = await fwd.send("ingest", "PUT", "/webhooks/api/1?status=201", [], b"{}")
    assert status == response.status_code == 201
    assert body == response.body and json.loads(body)["method"] == "PUT"
    assert headers == response.raw_headers
    assert dict(headers)[b"link"] == b"<a>, <b>" and b"x-private" not in dict(headers)
    status, headers, _ = await fwd.exchange("ingest", "GET", "/x?status=204", [], b"")
    assert status == 204 and b"content-length" not in dict(headers)


async def test_a_crashing_or_silent_owner_is_503_and_a_missing_one_too():
    fwd = forwarder()
    for path in ("/fail", "/silent"):
        with pytest.raises(OwnerUnavailable):
            await fwd.exchange("ingest", "POST", path, [], b"x")
    with pytest.raises(OwnerUnavailable):
        await fwd.exchange("ticket", "GET", "/x", [], b"")


async def test_a_streamed_answer_is_collected():
    r = await AsgiClient(echo).get("/stream")
    assert r.status_code == 200 and r.content == b"ab" and r.text == "ab"
    assert r.headers["content-type"].startswith("text/plain")


async def test_receive_limited_counts_declared_and_streamed_bytes():
    def channel(*chunks: bytes):
        messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

        async def receive():
            await asyncio.sleep(0)
            return messages.pop(0)
        return receive

    assert await receive_limited(channel(b"ab", b"cd"), b"4", 4) == b"abcd"
    assert await receive_limited(channel(b"abcd"), None, 4) == b"abcd"
    with pytest.raises(BodyTooLarge):
        await receive_limited(channel(b"ab"), b"5", 4)          # declared too large: nothing read
    with pytest.raises(BodyTooLarge):
        await receive_limited(channel(b"abc", b"de"), None, 4)  # counted
    with pytest.raises(BodyTooLarge):
        await receive_limited(channel(b"abc", b"de"), b"2", 4)  # a lying Content-Length


def test_target_keeps_percent_encoding_and_query():
    scope = {"path": "/webhooks/api/a/b", "raw_path": b"/webhooks/api/a%2Fb", "query_string": b"x=%20"}
    assert target_of(scope) == "/webhooks/api/a%2Fb?x=%20"
    assert target_of({"path": "/w/a", "query_string": b""}) == "/w/a"


def test_new_traceparent_is_a_sampled_w3c_context():
    values = {new_traceparent() for _ in range(100)}
    assert len(values) == 100 and all(TRACEPARENT.match(v) for v in values)


async def test_the_same_forwarding_works_over_httpx():
    fwd = Forwarder({"ingest": httpx.AsyncClient(transport=httpx.ASGITransport(app=echo), base_url="http://ingest")},
                    None)
    status, headers, body = await fwd.exchange("ingest", "POST", "/webhooks/api/1?status=202", [], b"{}")
    assert status == 202 and json.loads(body)["body"] == "{}" and dict(headers)[b"location"] == b"/somewhere"
