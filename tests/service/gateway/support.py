"""Helpers of the gateway service tests: fake owning services (echoing FastAPI apps), factories."""

from __future__ import annotations

import asyncio
import base64
import itertools

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

OPERATOR = "op-" + "x" * 40
INTERNAL = "internal-token-for-tests"


class Owner:
    """An echoing owner; counts calls; ``gate`` lets a test hold a request in flight."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.calls = 0
        self.counter = itertools.count(1)
        self.entered = asyncio.Event()
        self.gate: asyncio.Event | None = None
        self.app = self._app()
        self.url = ""  # where it is served (set by the fixture)

    def _app(self) -> FastAPI:
        app = FastAPI(title=self.name)

        class Shared(BaseModel):
            owner: str
            only_in: int = 0

        if self.name == "ticket":
            class ConversationRead(BaseModel):
                id: str

            @app.get("/api/v1/conversations/{conversation_id}", response_model=ConversationRead)
            async def get_conversation(conversation_id: str):  # noqa: ANN202
                return {"id": conversation_id}

            @app.get("/api/v1/shared-ticket", response_model=Shared)
            async def shared():  # noqa: ANN202
                return {"owner": "ticket"}

        if self.name == "routing":
            class Shared(BaseModel):  # noqa: F811 — same name, different shape
                agent_count: int

            @app.get("/api/v1/agents-shared", response_model=Shared)
            async def shared_r():  # noqa: ANN202
                return {"agent_count": 1}

        @app.post("/internal/rebuild")
        async def internal():  # noqa: ANN202
            return {}

        @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
        async def echo(path: str, request: Request) -> Response:
            self.calls += 1
            if self.gate is not None:
                self.entered.set()
                await self.gate.wait()
            body = await request.body()
            status = int(request.query_params.get("status", "201" if request.method == "POST" else "200"))
            return JSONResponse({
                "owner": self.name, "n": next(self.counter), "method": request.method, "path": request.url.path,
                "raw_path": request.scope.get("raw_path", b"").decode("latin-1"),
                "query": request.url.query, "headers": [[k, v] for k, v in request.headers.items()],
                "body_b64": base64.b64encode(body).decode(),
            }, status_code=status, headers={"location": "/somewhere"})

        return app


async def create_tenant(svc, name: str = "Shop", region: str = "eu") -> dict:
    r = await svc.client.post("/api/v1/tenants", json={"name": name, "region": region},
                              headers={"Authorization": f"Bearer {OPERATOR}"})
    assert r.status_code == 201, r.text
    return r.json()


def bearer(key: str, **extra: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **extra}
