"""What the gateway's routers read from ``app.state``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request

from meridian_gateway.auth import ApiKeyAuthenticator
from meridian_gateway.domain.errors import InvalidCredentials
from meridian_gateway.domain.keys import bearer_token, tokens_equal
from meridian_gateway.domain.model import Principal
from meridian_gateway.fanout import Fanout
from meridian_gateway.forwarding import Forwarder
from meridian_gateway.idempotency import IdempotencyStore
from meridian_gateway.settings import GatewaySettings


@dataclass
class GatewayState:
    settings: GatewaySettings
    auth: ApiKeyAuthenticator
    forwarder: Forwarder
    idempotency: IdempotencyStore
    fanout: Fanout
    operator_token: str
    openapi_cache: dict[str, Any] = field(default_factory=dict)


async def _state(request: Request) -> GatewayState:
    return request.app.state.gateway


GatewayDep = Annotated[GatewayState, Depends(_state)]


async def authenticate(request: Request) -> Principal:
    state: GatewayState = request.app.state.gateway
    token = bearer_token(request.headers.get("authorization"))
    if token is None:
        raise InvalidCredentials("an API key is required: Authorization: Bearer <key>")
    principal = await state.auth.authenticate(token)
    if principal is None:
        raise InvalidCredentials("the API key is invalid or revoked")
    request.state.principal = principal
    return principal


async def require_operator(request: Request) -> None:
    state: GatewayState = request.app.state.gateway
    token = bearer_token(request.headers.get("authorization"))
    if token is None or not tokens_equal(token, state.operator_token):
        raise InvalidCredentials("the operator token is missing or wrong")


PrincipalDep = Annotated[Principal, Depends(authenticate)]
OperatorDep = Annotated[None, Depends(require_operator)]
