"""/healthz (the process is alive) and /readyz (its dependencies answer)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

Check = Callable[[], Awaitable[bool]]


def health_router(checks: dict[str, Check], informational: dict[str, Check] | None = None) -> APIRouter:
    """``checks`` decide readiness; ``informational`` ones are reported but never make the service
    unready (the bus: an outage only delays events, which wait in the outbox)."""
    router = APIRouter(include_in_schema=False)
    informational = informational or {}

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in {**checks, **informational}.items():
            try:
                ok = await asyncio.wait_for(check(), timeout=3)
            except Exception:
                ok = False
            results[name] = "ok" if ok else "unavailable"
        ready = all(results[name] == "ok" for name in checks)
        return JSONResponse({"status": "ok" if ready else "unavailable", "checks": results},
                            status_code=200 if ready else 503)

    return router
