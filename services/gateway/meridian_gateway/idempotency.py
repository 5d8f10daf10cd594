"""``Idempotency-Key`` on creating POSTs: claim (tenant, key), run, store the final answer, replay it.

Same key + same request → the stored response with ``Idempotent-Replayed: true``; same key with
another method/path/body → 422; a duplicate while the first is still running → 409. Only 2xx and
4xx answers are stored; a 5xx or a crash releases the key so the client can retry.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from uuid import UUID

from fastapi import Request, Response
from meridian.errors import DomainError
from meridian.http.problems import problem

from meridian_gateway.domain.errors import IdempotencyInFlight, IdempotencyKeyInvalid, IdempotencyKeyReused
from meridian_gateway.domain.idempotency import body_fingerprint, storable, valid_key

log = logging.getLogger("meridian.gateway.idempotency")

HEADER = "idempotency-key"
REPLAYED = "Idempotent-Replayed"
OPERATOR_SCOPE = UUID(int=0)


class IdempotencyStore:
    def __init__(self, kit, *, ttl: float, in_flight_timeout: float) -> None:  # noqa: ANN001
        self._kit = kit
        self._ttl = timedelta(seconds=ttl)
        self._in_flight = timedelta(seconds=in_flight_timeout)

    async def run(self, request: Request, scope: UUID, body: bytes, call: Callable[[], Awaitable[Response]]
                  ) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return await call()
        if not valid_key(key):
            raise IdempotencyKeyInvalid("Idempotency-Key must be 1..255 printable characters")
        method = request.method
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        digest = body_fingerprint(body)
        replay = await self._claim(scope, key, method, path, digest)
        if replay is not None:
            return replay
        try:
            try:
                response = await call()
            except DomainError as exc:
                if exc.status >= 500:
                    raise
                response = problem(exc.status, exc.title, exc.detail, type_=exc.type, errors=exc.errors)
        except BaseException:
            await self._release(scope, key)
            raise
        if storable(response.status_code) and isinstance(response.body, bytes | bytearray | memoryview):
            await self._complete(scope, key, response)
        else:
            await self._release(scope, key)
        return response

    async def _claim(self, scope: UUID, key: str, method: str, path: str, digest: str) -> Response | None:
        async with self._kit.uow() as uow:
            now = uow.clock.now()
            expires = now + self._ttl
            repo = uow.idempotency
            if await repo.claim(scope, key, method=method, path=path, body_sha256=digest, now=now,
                                expires_at=expires):
                await uow.commit()
                return None
            record = await repo.get(scope, key)
            if record is None:  # pruned in between: claim again
                ok = await repo.claim(scope, key, method=method, path=path, body_sha256=digest, now=now,
                                      expires_at=expires)
                await uow.commit()
                if not ok:
                    raise IdempotencyInFlight("a request with this Idempotency-Key is in progress")
                return None
            if record.expired(now) or record.abandoned(now, self._in_flight):
                taken = await repo.take_over(scope, key, seen_created_at=record.created_at, method=method,
                                             path=path, body_sha256=digest, now=now, expires_at=expires)
                await uow.commit()
                if not taken:
                    raise IdempotencyInFlight("a request with this Idempotency-Key is in progress")
                return None
        if not record.matches(method, path, digest):
            raise IdempotencyKeyReused("this Idempotency-Key was used with a different method, path or body")
        if not record.completed:
            raise IdempotencyInFlight("a request with this Idempotency-Key is in progress")
        assert record.status is not None
        headers = {REPLAYED: "true"}
        return Response(content=record.body or b"", status_code=record.status, headers=headers,
                        media_type=record.content_type)

    async def _complete(self, scope: UUID, key: str, response: Response) -> None:
        async with self._kit.uow() as uow:
            await uow.idempotency.complete(scope, key, status=response.status_code, body=bytes(response.body),
                                           content_type=response.headers.get("content-type"))
            await uow.commit()

    async def _release(self, scope: UUID, key: str) -> None:
        try:
            async with self._kit.uow() as uow:
                await uow.idempotency.release(scope, key)
                await uow.commit()
        except Exception:
            log.exception("could not release an idempotency key", extra={"tenant_id": str(scope)})

    async def prune(self) -> int:
        async with self._kit.uow() as uow:
            n = await uow.idempotency.prune(uow.clock.now())
            await uow.commit()
            return n
