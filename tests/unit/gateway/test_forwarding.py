import uuid

from meridian_gateway.domain.model import Principal
from meridian_gateway.forwarding import api_headers, webhook_headers

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
