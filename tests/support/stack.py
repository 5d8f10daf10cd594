"""Distributed stacks for integration tests: each service a separate `meridian serve` process over a
Tansu broker, a fresh PostgreSQL database on the local server, and the local Redis."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
from meridian.settings import SERVICE_NAMES

from tests.support.broker import free_port

ADMIN_DSN = os.environ.get("MERIDIAN_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("MERIDIAN_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def create_database() -> str:
    name = f"meridian_it_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def database_url(name: str) -> str:
    base = ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    return f"{base}/{name}"


class Stack:
    """Six services plus ``gateways`` gateway processes; ``gateway_urls`` are their public URLs."""

    def __init__(self, *, bootstrap: str, db_url: str, operator_token: str, gateways: int = 1,
                 extra_env: dict[str, str] | None = None) -> None:
        self.operator_token = operator_token
        self.ports = {name: free_port() for name in SERVICE_NAMES if name != "gateway"}
        self.gateway_ports = [free_port() for _ in range(gateways)]
        self.data_dir = Path(tempfile.mkdtemp(prefix="meridian-it-"))
        self.env = {
            **os.environ,
            "MERIDIAN_MODE": "distributed",
            "MERIDIAN_KAFKA_BOOTSTRAP": bootstrap,
            "MERIDIAN_KAFKA_IDEMPOTENCE": "false",
            "MERIDIAN_KAFKA_SESSION_TIMEOUT_MS": "2000",
            "MERIDIAN_DATABASE_URL": db_url,
            "MERIDIAN_REDIS_URL": REDIS_URL,
            "MERIDIAN_OPERATOR_TOKEN": operator_token,
            "MERIDIAN_INTERNAL_TOKEN": secrets.token_urlsafe(16),
            "MERIDIAN_DATA_DIR": str(self.data_dir),
            "MERIDIAN_SEED_DEMO": "false",
            "MERIDIAN_LOG_LEVEL": "WARNING",
            "MERIDIAN_SERVICE_URLS": json.dumps({n: f"http://127.0.0.1:{p}" for n, p in self.ports.items()}),
            **(extra_env or {}),
        }
        self.procs: dict[str, subprocess.Popen] = {}

    @property
    def gateway_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.gateway_ports]

    def _spawn(self, label: str, service: str, port: int) -> None:
        log = open(self.data_dir / f"{label}.log", "wb")  # noqa: SIM115 - closed with the process
        self.procs[label] = subprocess.Popen(
            [sys.executable, "-m", "meridian.runtime.cli", "serve", service],
            env=dict(self.env, MERIDIAN_PORT=str(port)), stdout=log, stderr=subprocess.STDOUT)

    def logs(self, lines: int = 40) -> str:
        """The last lines each process wrote (printed when a test fails)."""
        out = []
        for label in self.procs:
            text = (self.data_dir / f"{label}.log").read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {label}\n" + "\n".join(text))
        return "\n".join(out)

    def start(self, timeout: float = 90) -> None:
        for name, port in self.ports.items():
            self._spawn(name, name, port)
        for i, port in enumerate(self.gateway_ports):
            self._spawn(f"gateway-{i}", "gateway", port)
        urls = [f"http://127.0.0.1:{p}" for p in self.ports.values()] + self.gateway_urls
        deadline = time.monotonic() + timeout
        for url in urls:
            while True:
                self._check_alive()
                try:
                    if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{url} not ready within {timeout}s")
                time.sleep(0.1)

    def _check_alive(self) -> None:
        for label, proc in self.procs.items():
            if proc.poll() is not None:
                raise RuntimeError(f"{label} exited with {proc.returncode}")

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()


@contextmanager
def running_stack(**kwargs) -> Iterator[Stack]:  # noqa: ANN003
    stack = Stack(**kwargs)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
