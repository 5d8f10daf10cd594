import json
from datetime import UTC, datetime
from uuid import uuid4

import httpx
import pytest
from meridian_ingest.channels import ADAPTERS, adapter_for
from meridian_ingest.channels.api import callback_body
from meridian_ingest.domain.delivery import AttemptKind
from meridian_ingest.domain.errors import (
    ChannelUnknown,
    InboxSettingsInvalid,
    MalformedJson,
    PayloadInvalid,
    SignatureInvalid,
)
from meridian_ingest.domain.model import Delivery, DeliveryStatus, InboxCredentials
from meridian_ingest.domain.signature import sign, verify

API = adapter_for("api")
INBOX = InboxCredentials(id=uuid4(), tenant_id=uuid4(), channel="api",
                         settings={"callback_url": "https://shop.example/cb"}, secret="s3cret")
DELIVERY = Delivery(id=uuid4(), tenant_id=INBOX.tenant_id, message_id="m-1", conversation_id="c-1", inbox_id=INBOX.id,
                    channel="api", recipient_id="cust-1", text="¡Hola!", language="es",
                    status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=datetime.now(UTC))


def test_registry_knows_api_and_rejects_other_channels():
    assert set(ADAPTERS) == {"api"}
    with pytest.raises(ChannelUnknown) as err:
        adapter_for("whatsapp")
    assert err.value.status == 400 and err.value.errors[0]["field"] == "channel"


@pytest.mark.parametrize("url", ["https://shop.example/cb", "http://127.0.0.1:8080/x?y=1"])
def test_api_settings_accept_http_urls(url):
    assert API.validate_settings({"callback_url": url, "ignored": 1}) == {"callback_url": url}


@pytest.mark.parametrize("settings", [{}, {"callback_url": "ftp://x"}, {"callback_url": "shop.example"},
                                      {"callback_url": 5}, {"callback_url": "http://"},
                                      {"callback_url": "http://a b"}, {"callback_url": "http://x:99999"}])
def test_api_settings_reject_missing_or_non_http_urls(settings):
    with pytest.raises(InboxSettingsInvalid) as err:
        API.validate_settings(settings)
    assert err.value.errors[0]["field"] == "settings.callback_url"


def test_api_verify_and_parse():
    body = json.dumps({"id": "e1", "sender": {"id": "c1"}, "text": "hi"}).encode()
    API.verify("s3cret", {"x-meridian-signature": sign("s3cret", body)}, body)
    with pytest.raises(SignatureInvalid):
        API.verify("s3cret", {}, body)
    with pytest.raises(SignatureInvalid):
        API.verify("s3cret", {"x-meridian-signature": sign("nope", body)}, body)
    assert API.parse(body).external_id == "e1"
    with pytest.raises(MalformedJson):
        API.parse(b"{")
    with pytest.raises(PayloadInvalid):
        API.parse(b'{"id": "e1"}')


async def _deliver(handler) -> tuple:
    seen = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
        result = await API.deliver(client, INBOX, DELIVERY)
    return result, seen


async def test_api_deliver_posts_the_signed_body():
    result, [request] = await _deliver(lambda r: httpx.Response(200))
    assert result.kind is AttemptKind.DELIVERED
    assert str(request.url) == "https://shop.example/cb"
    assert request.headers["content-type"] == "application/json"
    assert verify("s3cret", request.content, request.headers["x-meridian-signature"])
    assert request.content == callback_body(DELIVERY)
    assert json.loads(request.content) == {"id": "m-1", "conversation_id": "c-1", "recipient": {"id": "cust-1"},
                                           "text": "¡Hola!", "language": "es"}


async def test_api_deliver_turns_errors_into_results():
    assert (await _deliver(lambda r: httpx.Response(503)))[0].kind is AttemptKind.RETRYABLE
    assert (await _deliver(lambda r: httpx.Response(422)))[0].kind is AttemptKind.PERMANENT

    def timeout(request):
        raise httpx.ReadTimeout("slow", request=request)

    def refused(request):
        raise httpx.ConnectError("refused", request=request)

    assert (await _deliver(timeout))[0].kind is AttemptKind.RETRYABLE
    result = (await _deliver(refused))[0]
    assert result.kind is AttemptKind.RETRYABLE and "unreachable" in result.error
