"""The two run commands as a new user runs them: `meridian run` (what `make run` calls) and
`meridian run-distributed` start, listen on MERIDIAN_PORT, seed the demo tenant with the bootstrap
token, and serve its demo agents through the public API."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest

from tests.support.broker import free_port
from tests.support.stack import create_database, database_url, drop_database

pytestmark = pytest.mark.integration

TOKEN = "mrd_demo_bootstrap_token_for_tests"


def _wait_for_demo(port: int, proc: subprocess.Popen, timeout: float = 120) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited with {proc.returncode}"
        try:
            r = httpx.get(f"http://127.0.0.1:{port}/api/v1/agents", headers={"Authorization": f"Bearer {TOKEN}"},
                          timeout=2)
            if r.status_code == 200 and len(r.json()["items"]) >= 3:
                return r.json()["items"]
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError("demo tenant not served")


def _run(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "meridian.runtime.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def _stop(proc: subprocess.Popen) -> str:
    proc.terminate()
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    return out


def test_meridian_run_embedded_seeds_demo_tenant(tmp_path):
    port = free_port()
    env = {**os.environ, "MERIDIAN_PORT": str(port), "MERIDIAN_DATA_DIR": str(tmp_path / "data"),
           "MERIDIAN_BOOTSTRAP_TOKEN": TOKEN, "MERIDIAN_LOG_LEVEL": "WARNING"}
    env.pop("MERIDIAN_DATABASE_URL", None)
    proc = _run(["run"], env)
    try:
        agents = _wait_for_demo(port, proc)
        assert {a["status"] for a in agents} == {"online"}
    finally:
        out = _stop(proc)
    assert TOKEN in out
    assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()


async def test_meridian_run_distributed_starts_broker_and_services(tmp_path):
    name = await create_database()
    port = free_port()
    env = {**os.environ, "MERIDIAN_PORT": str(port), "MERIDIAN_DATA_DIR": str(tmp_path / "data"),
           "MERIDIAN_BOOTSTRAP_TOKEN": TOKEN, "MERIDIAN_DATABASE_URL": database_url(name),
           "MERIDIAN_LOG_LEVEL": "WARNING"}
    env.pop("MERIDIAN_KAFKA_BOOTSTRAP", None)
    proc = _run(["run-distributed"], env)
    try:
        _wait_for_demo(port, proc)
    finally:
        out = _stop(proc)
        await drop_database(name)
    assert "Tansu broker" in out
    assert TOKEN in out
