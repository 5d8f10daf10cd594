import uuid

from meridian_gateway.domain.model import Principal
from meridian_gateway.forwarding import InProcessWebhooks, api_headers, webhook_headers

P = Principal(tenant_id=uuid.uuid4(), key_id=uuid.uuid4())


def test_api_headers_drop_authorization_and_caller_meridian_headers():
    raw = [(b"authorization", b"Bearer mrd_x"), (b"x-meridian-tenant", b"evil"), (b"X-Meridian-Actor", b"evil"),
           (b"x-meridian-internal-token", b"guess"), (b"content-type", b"application/json"),
           (b"accept", b"application/json"), (b"cookie", b"a=b"), (b"traceparent", b"00-abc-def-01")]
    out = dict(api_headers(raw, P, "internal", "00-zzz-yyy-01"))
    assert b"authorization" not in out and b"cookie" not in out
    assert out[b"x-meridian-tenant"] == str(P.tenant_id).encode()
    assert out[b"x-meridian-actor"] == str(P.key_id).encode()
    assert out[b"x-meridian-internal-token"] == b"internal"
    assert out[b"content-type"] == b"application/json"
    assert out[b"traceparent"] == b"00-abc-def-01"  # the caller's trace continues
    assert [n for n, _ in api_headers(raw, P, None, "")].count(b"x-meridian-tenant") == 1


def test_api_headers_without_internal_token_add_the_trace():
    out = dict(api_headers([], P, None, "00-t-s-01"))
    assert b"x-meridian-internal-token" not in out
    assert out[b"traceparent"] == b"00-t-s-01"


def test_webhook_headers_keep_everything_but_hop_by_hop():
    raw = [(b"host", b"x"), (b"connection", b"keep-alive"), (b"content-length", b"3"),
           (b"transfer-encoding", b"chunked"), (b"x-signature", b"sha256=ab"), (b"authorization", b"Basic x"),
           (b"content-type", b"application/json"), (b"x-meridian-tenant", b"evil"),
           (b"X-Meridian-Actor", b"evil"), (b"x-meridian-internal-token", b"guess"),
           (b"x-meridian-signature", b"sha256=cd")]
    out = webhook_headers(raw, "internal", "")
    assert out == [(b"x-signature", b"sha256=ab"), (b"authorization", b"Basic x"),
                   (b"content-type", b"application/json"), (b"x-meridian-signature", b"sha256=cd"),
                   (b"x-meridian-internal-token", b"internal")]


class _RecordingApp:
    def __init__(self, status: int) -> None:
        self.status = status
        self.scopes: list[dict] = []
        self.bodies: list[bytes] = []

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        self.scopes.append(scope)
        message = await receive()
        self.bodies.append(message.get("body", b""))
        await send({"type": "http.response.start", "status": self.status, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def _request(app, path: str, headers: list[tuple[bytes, bytes]], body: bytes) -> int:  # noqa: ANN001
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app({"type": "http", "path": path, "headers": headers, "method": "POST"}, receive, send)
    return sent[0]["status"]


async def test_in_process_webhooks_go_straight_to_ingest_without_trust_headers():
    gateway, ingest = _RecordingApp(404), _RecordingApp(202)
    app = InProcessWebhooks(gateway, {"ingest": ingest}, "internal-secret", max_body=100)
    status = await _request(app, "/webhooks/api/inbox-1", [
        (b"content-length", b"10"), (b"content-type", b"application/json"), (b"X-Meridian-Tenant", b"forged"),
        (b"x-meridian-internal-token", b"forged"), (b"x-meridian-signature", b"sha256=ab")], b'{"id":"1"}')
    assert status == 202 and not gateway.scopes
    headers = ingest.scopes[0]["headers"]
    assert (b"x-meridian-signature", b"sha256=ab") in headers and (b"content-type", b"application/json") in headers
    assert (b"x-meridian-internal-token", b"internal-secret") in headers
    assert not any(v == b"forged" for _, v in headers)
    assert ingest.bodies == [b'{"id":"1"}']


async def test_the_gateway_route_takes_what_the_shortcut_does_not():
    gateway, ingest = _RecordingApp(200), _RecordingApp(202)
    sized = [(b"content-length", b"2")]
    # no in-process ingest (distributed mode), another path, no Content-Length, a body over the limit
    assert await _request(InProcessWebhooks(gateway, {}, None, 100), "/webhooks/api/inbox-1", sized, b"{}") == 200
    shortcut = InProcessWebhooks(gateway, {"ingest": ingest}, None, 100)
    assert await _request(shortcut, "/api/v1/inboxes", sized, b"{}") == 200
    assert await _request(shortcut, "/webhooks/api/inbox-1", [], b"{}") == 200
    assert await _request(shortcut, "/webhooks/api/inbox-1", [(b"content-length", b"101")], b"{}") == 200
    assert not ingest.scopes and len(gateway.scopes) == 4
