"""The two run commands as a new user runs them: `meridian run` (what `make run` calls) and
`meridian run-distributed` start, listen on MERIDIAN_PORT, seed the demo tenant with the bootstrap
token, and serve its demo agents through the public API."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import websockets

from tests.integration.scenario import WsClient, poll, sign
from tests.support.broker import free_port
from tests.support.stack import create_database, database_url, drop_database

pytestmark = pytest.mark.integration

TOKEN = "mrd_demo_bootstrap_token_for_tests"


@dataclass
class Running:
    """A run command's process and what it has printed so far (read by a thread, so a test can wait
    for the banner while the process keeps running)."""

    proc: subprocess.Popen
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def output(self) -> str:
        return "".join(self.lines)


def _wait_for_demo(run: Running, port: int, timeout: float = 120) -> list[dict]:
    """Wait until the demo tenant's admin token is printed (the last thing a run command does) and its
    demo agents are served."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert run.proc.poll() is None, f"exited with {run.proc.returncode}"
        if TOKEN in run.output():
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v1/agents",
                              headers={"Authorization": f"Bearer {TOKEN}"}, timeout=2)
                if r.status_code == 200 and len(r.json()["items"]) >= 3:
                    return r.json()["items"]
            except httpx.HTTPError:
                pass
        time.sleep(0.2)
    raise TimeoutError(f"demo tenant not served; printed so far: {run.output()!r}")


def _run(args: list[str], env: dict[str, str]) -> Running:
    proc = subprocess.Popen([sys.executable, "-m", "meridian.runtime.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    run = Running(proc)
    run.reader = threading.Thread(target=run.read, daemon=True)
    run.reader.start()
    return run


def _embedded_env(port: int, data_dir: Path) -> dict[str, str]:
    """`meridian run` as a new user runs it: its own embedded PostgreSQL in ``data_dir``."""
    env = {**os.environ, "MERIDIAN_PORT": str(port), "MERIDIAN_DATA_DIR": str(data_dir),
           "MERIDIAN_BOOTSTRAP_TOKEN": TOKEN, "MERIDIAN_LOG_LEVEL": "WARNING"}
    env.pop("MERIDIAN_DATABASE_URL", None)
    return env


def _embedded_postgres_running(data_dir: Path) -> bool:
    pid_file = data_dir / "postgres" / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split()[0])
        os.kill(pid, 0)
    except (FileNotFoundError, ProcessLookupError, ValueError, IndexError):
        return False
    return True


def _stop(run: Running) -> str:
    run.proc.terminate()
    try:
        run.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        run.proc.kill()
        run.proc.wait()
    run.reader.join(timeout=10)
    return run.output()


def test_meridian_run_embedded_seeds_demo_tenant(tmp_path):
    port = free_port()
    env = _embedded_env(port, tmp_path / "data")
    run = _run(["run"], env)
    try:
        agents = _wait_for_demo(run, port)
        assert {a["status"] for a in agents} == {"online"}
    finally:
        out = _stop(run)
    assert TOKEN in out
    assert run.proc.returncode == 0
    assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()
    assert not _embedded_postgres_running(tmp_path / "data"), "SIGTERM left the embedded PostgreSQL running"


def test_meridian_run_stopped_while_starting_stops_its_postgres(tmp_path):
    """A SIGTERM that arrives while the platform is still starting (PostgreSQL up, migrations
    running) is honoured once the start completes, and the embedded PostgreSQL is stopped too."""
    port = free_port()
    data = tmp_path / "data"
    env = _embedded_env(port, data)
    run = _run(["run"], env)
    try:
        deadline = time.monotonic() + 60
        while not _embedded_postgres_running(data):
            assert run.proc.poll() is None, f"exited with {run.proc.returncode}"
            assert time.monotonic() < deadline, "embedded PostgreSQL did not start"
            time.sleep(0.05)
    finally:
        out = _stop(run)
    assert run.proc.returncode == 0, out
    assert not _embedded_postgres_running(data), "SIGTERM during start left the embedded PostgreSQL running"


def test_meridian_run_after_a_crash_restarts_and_still_stops_its_postgres(tmp_path):
    """A killed `meridian run` leaves its PostgreSQL running. The next run uses that server, and its
    own clean stop stops it: the dead process must not count as another user of the server."""
    port = free_port()
    data = tmp_path / "data"
    env = _embedded_env(port, data)
    crashed = _run(["run"], env)
    try:
        _wait_for_demo(crashed, port)
    finally:
        crashed.proc.kill()
        crashed.proc.wait()
    assert _embedded_postgres_running(data)
    again = _run(["run"], env)
    try:
        _wait_for_demo(again, port)
    finally:
        out = _stop(again)
    assert again.proc.returncode == 0, out
    assert not _embedded_postgres_running(data), "the run after a crash left the embedded PostgreSQL running"


async def test_meridian_run_distributed_starts_broker_and_services(tmp_path):
    """With MERIDIAN_GATEWAY_PROCESSES=2, a second gateway on the next port: a WebSocket client there
    receives the message of a webhook sent to the first."""
    name = await create_database()
    port = _two_free_ports()
    env = {**os.environ, "MERIDIAN_PORT": str(port), "MERIDIAN_DATA_DIR": str(tmp_path / "data"),
           "MERIDIAN_BOOTSTRAP_TOKEN": TOKEN, "MERIDIAN_DATABASE_URL": database_url(name),
           "MERIDIAN_LOG_LEVEL": "WARNING", "MERIDIAN_GATEWAY_PROCESSES": "2"}
    env.pop("MERIDIAN_KAFKA_BOOTSTRAP", None)
    run = _run(["run-distributed"], env)
    try:
        _wait_for_demo(run, port)
        second = f"Meridian listens on http://127.0.0.1:{port + 1}"
        await poll(lambda: _printed(run, second), timeout=60, interval=0.2)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        ws = WsClient(await websockets.connect(f"ws://127.0.0.1:{port + 1}/api/v1/ws?token={TOKEN}"))
        try:
            await ws.wait_for("ready", timeout=30)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as api:
                r = await api.post("/api/v1/inboxes", headers=auth, json={
                    "name": "two gateways", "channel": "api", "settings": {"callback_url": "http://127.0.0.1:9/"}})
                assert r.status_code == 201, r.text
                inbox = r.json()
                body = json.dumps({"id": "m-1", "sender": {"id": "cust-1"}, "text": "Is my parcel on its way?"}
                                  ).encode()
                r = await api.post(f"/webhooks/api/{inbox['id']}", content=body,
                                   headers={"X-Meridian-Signature": sign(inbox["secret"], body)})
                assert r.status_code == 202, r.text
            await ws.wait_for("message.created", lambda d: d["text"] == "Is my parcel on its way?", timeout=60)
        finally:
            await ws.close()
    finally:
        out = _stop(run)
        print(out)  # pytest shows it for a failed test only
        await drop_database(name)
    assert "Tansu broker" in out
    assert TOKEN in out
    assert run.proc.returncode == 0
    assert "exited with" not in out, out


def _two_free_ports() -> int:
    """A port that is free with the one after it, below the kernel's ephemeral range (32768 and up
    here), where the platform's own outgoing connections would take the second one first."""
    import random
    import socket

    while True:
        port = random.randrange(20_000, 32_000)
        try:
            with socket.socket() as a, socket.socket() as b:
                a.bind(("127.0.0.1", port))
                b.bind(("127.0.0.1", port + 1))
        except OSError:
            continue
        return port


def _children(run: Running) -> dict[int, str]:
    """The run command's child processes: pid -> command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == run.proc.pid:
            found[int(entry.name)] = command
    return found


def _child(run: Running, needle: str) -> int:
    """The pid of the run command's child process whose command line contains ``needle``."""
    for pid, command in _children(run).items():
        if needle in command:
            return pid
    raise LookupError(f"no child process running {needle!r}")


async def _none_alive(pids: dict[int, str]) -> bool:
    return not any(_running(pid) for pid in pids)


def _running(pid: int) -> bool:
    """Alive and not a zombie waiting for its parent to reap it."""
    try:
        return (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


async def test_run_distributed_starts_again_what_dies_and_loses_no_accepted_message(tmp_path):
    """A service that dies is started again; so is the memory-only broker, and what it held but had not
    delivered (here: every message ticket had not read, as ticket was frozen) is sent again."""
    name = await create_database()
    port = free_port()
    env = {**os.environ, "MERIDIAN_PORT": str(port), "MERIDIAN_DATA_DIR": str(tmp_path / "data"),
           "MERIDIAN_BOOTSTRAP_TOKEN": TOKEN, "MERIDIAN_DATABASE_URL": database_url(name),
           "MERIDIAN_LOG_LEVEL": "WARNING"}
    env.pop("MERIDIAN_KAFKA_BOOTSTRAP", None)
    run = _run(["run-distributed"], env)
    try:
        _wait_for_demo(run, port)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as api:
            r = await api.post("/api/v1/inboxes", headers=auth, json={
                "name": "restarts", "channel": "api", "settings": {"callback_url": "http://127.0.0.1:9/unused"}})
            assert r.status_code == 201, r.text
            inbox = r.json()
            accepted: set[str] = set()

            async def send(i: int) -> None:
                text = f"Where is order {i}?"
                body = json.dumps({"id": f"order-{i}", "sender": {"id": "cust-1"}, "text": text}).encode()
                r = await api.post(f"/webhooks/api/{inbox['id']}", content=body,
                                   headers={"X-Meridian-Signature": sign(inbox["secret"], body)})
                assert r.status_code == 202, r.text
                accepted.add(text)

            async def all_stored() -> bool:
                try:
                    r = await api.get("/api/v1/conversations", headers=auth, params={"inbox_id": inbox["id"]})
                    texts: set[str] = set()
                    for conversation in r.json()["items"]:
                        m = await api.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=auth,
                                          params={"limit": 200})
                        texts.update(item["text"] for item in m.json()["items"])
                except (httpx.HTTPError, KeyError, ValueError):
                    return False   # the platform is starting again
                return accepted <= texts

            for i in range(5):
                await send(i)
            os.kill(_child(run, "serve ticket"), signal.SIGKILL)
            for i in range(5, 10):
                await send(i)
            await poll(all_stored, timeout=90, interval=0.5)

            ticket = _child(run, "serve ticket")
            os.kill(ticket, signal.SIGSTOP)      # the broker now holds messages that ticket has not read
            try:
                for i in range(10, 15):
                    await send(i)
                await asyncio.sleep(1.0)         # ingest's relay has handed them to the broker
                os.kill(_child(run, "broker"), signal.SIGKILL)
            finally:
                os.kill(ticket, signal.SIGCONT)
            await poll(lambda: _serves(api), timeout=120, interval=0.5)
            for i in range(15, 20):
                await send(i)
            await poll(all_stored, timeout=120, interval=0.5)

        children = _children(run)  # the broker and the seven services
        assert len(children) == 8, children
        run.proc.kill()                  # even so, nothing it started outlives it
        await poll(lambda: _none_alive(children), timeout=30, interval=0.2)
    finally:
        out = _stop(run)
        await drop_database(name)
    assert "ticket exited with -9; starting it again" in out, out
    assert "the broker exited with -9" in out, out


async def _printed(run: Running, line: str) -> bool:
    return line in run.output()


async def _serves(api: httpx.AsyncClient) -> bool:
    try:
        return (await api.get("/readyz")).status_code == 200
    except httpx.HTTPError:
        return False
