"""The webhook ACCEPT path alone: ``POST /webhooks/api/{inbox_id}`` through the gateway to ingest,
answered 202 once the dedupe row and the outbox row are committed. Starts ``meridian run`` (embedded)
as a subprocess like ``bench/run.py``, provisions a tenant and an inbox, then fires signed webhooks with
the lean keep-alive client at a fixed concurrency and prints accepted/s and p50/p99 of the 202 latency.

In embedded mode the downstream services (ticket, routing, translation, compliance, the gateway's push)
consume every accepted message on the same core as the accept path, so the figure is the accept rate
while the platform also processes what it accepts. ``BENCH_DOWNSTREAM=0`` starts the same platform with
no event consumers (the outbox relays still publish): the accept path's own capacity.

Environment: BENCH_MESSAGES (default 5000), BENCH_CONCURRENCY (64), BENCH_ROUNDS (3, best and median are
printed), BENCH_WARMUP (500), BENCH_DOWNSTREAM (1), BENCH_URL (drive an already running platform
instead: also set BENCH_INBOX and BENCH_SECRET, or BENCH_OPERATOR to provision one), BENCH_HOLD
(seconds to wait before measuring, e.g. to attach ``py-spy record -p <pid>``).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loadclient import Connection  # noqa: E402
from bench.run import OPERATOR, SENDERS, Target, provision, rss_mb, sign, start_embedded, stop, wait_http  # noqa: E402
from tests.support.broker import free_port  # noqa: E402

N = int(os.environ.get("BENCH_MESSAGES", "5000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "64"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WARMUP = int(os.environ.get("BENCH_WARMUP", "500"))
HOLD = float(os.environ.get("BENCH_HOLD", "0"))
DOWNSTREAM = os.environ.get("BENCH_DOWNSTREAM", "1") not in ("0", "false", "no")


def serve_without_consumers() -> None:
    """``meridian run``, except that no service subscribes to the bus (this process's ``serve`` mode)."""
    from meridian import telemetry
    from meridian.runtime import embedded
    from meridian.runtime.platform import LocalServices
    from meridian.settings import PlatformSettings

    class WithoutConsumers(LocalServices):
        def __init__(self, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
            super().__init__(*args, **kwargs)
            for parts in self.parts.values():
                parts.consumers = []

    embedded.LocalServices = WithoutConsumers  # type: ignore[misc]
    platform = PlatformSettings()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    telemetry.setup("meridian", level=platform.log_level, fmt=platform.log_format)
    asyncio.run(embedded.run(platform))


def start_without_consumers() -> Target:
    """``bench.run.start_embedded`` for ``serve_without_consumers``."""
    port = free_port()
    data = Path(tempfile.mkdtemp(prefix="meridian-bench-"))
    env = {**os.environ, "MERIDIAN_PORT": str(port), "MERIDIAN_DATA_DIR": str(data), "MERIDIAN_SEED_DEMO": "false",
           "MERIDIAN_OPERATOR_TOKEN": OPERATOR, "MERIDIAN_LOG_LEVEL": "WARNING"}
    env.pop("MERIDIAN_DATABASE_URL", None)
    proc = subprocess.Popen([sys.executable, str(Path(__file__).resolve()), "serve"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_http(f"{base}/readyz", [proc])
    time.sleep(3)
    idle = rss_mb(proc.pid)
    token, inbox, secret = asyncio.run(provision(base))
    target = Target("embedded-no-consumers", base, token, inbox, secret, [proc], [lambda: shutil.rmtree(data, True)])
    target.rss_mb = idle
    return target


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(target: Target, count: int, concurrency: int) -> dict:
    """``fire`` plus the CPU time the platform process spent per accepted webhook (a figure that other
    load on the machine disturbs less than the rate); in embedded mode that includes the downstream
    work done meanwhile."""
    pid = target.procs[0].pid if target.procs else None
    before = cpu_seconds(pid) if pid else 0.0
    result = asyncio.run(fire(target, count, concurrency))
    result["cpu_ms"] = (cpu_seconds(pid) - before) * 1000 / max(result["accepted"], 1) if pid else float("nan")
    return result


async def fire(target: Target, count: int, concurrency: int) -> dict:
    """Send ``count`` distinct signed webhooks with ``concurrency`` keep-alive senders; time each 202."""
    run_id = uuid.uuid4().hex[:8]
    path = f"/webhooks/api/{target.inbox_id}"
    # bodies and signatures prepared up front: the load generator shares the machine's two cores
    bodies = []
    for i in range(count):
        body = json.dumps({"id": f"{run_id}-{i}", "sender": {"id": f"customer-{i % SENDERS}"},
                           "text": f"bench {run_id} {i} where is my order please"}).encode()
        bodies.append((body, {"Content-Type": "application/json", "X-Meridian-Signature": sign(target.secret, body)}))
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    next_index = 0

    async def sender() -> None:
        nonlocal next_index
        conn = Connection(target.base_url)
        try:
            while next_index < count:
                body, headers = bodies[next_index]
                next_index += 1
                t0 = time.perf_counter()
                status = await conn.post(path, body, headers)
                if status == 202:
                    latencies.append(time.perf_counter() - t0)
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            await conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    return {
        "sent": count,
        "accepted": len(latencies),
        "statuses": statuses,
        "seconds": elapsed,
        "accept_rate": len(latencies) / elapsed,
        "p50_ms": statistics.median(ms) if ms else float("nan"),
        "p99_ms": ms[max(0, int(len(ms) * 0.99) - 1)] if ms else float("nan"),
        "max_ms": ms[-1] if ms else float("nan"),
    }


def _line(r: dict) -> str:
    other = {s: n for s, n in r["statuses"].items() if s != 202}
    return (f"{r['accepted']:>6} accepted in {r['seconds']:6.2f} s  {r['accept_rate']:8.0f}/s  "
            f"p50 {r['p50_ms']:6.1f} ms  p99 {r['p99_ms']:6.1f} ms  max {r['max_ms']:6.1f} ms  "
            f"server CPU {r['cpu_ms']:.2f} ms/webhook"
            + (f"  other statuses {other}" if other else ""))


def _target() -> Target:
    url = os.environ.get("BENCH_URL")
    if not url:
        return start_embedded() if DOWNSTREAM else start_without_consumers()
    if os.environ.get("BENCH_INBOX"):
        return Target("external", url, "", os.environ["BENCH_INBOX"], os.environ["BENCH_SECRET"])
    import bench.run

    bench.run.OPERATOR = os.environ.get("BENCH_OPERATOR", bench.run.OPERATOR)
    token, inbox, secret = asyncio.run(provision(url))
    return Target("external", url, token, inbox, secret)


def main() -> int:
    target = _target()
    try:
        if target.procs:
            print(f"meridian run: pid {target.procs[0].pid}, {target.base_url}, idle RSS {target.rss_mb:.0f} MB",
                  flush=True)
        if HOLD:
            print(f"holding {HOLD:.0f} s", flush=True)
            time.sleep(HOLD)
        if WARMUP:
            print(f"warm-up   {_line(measure(target, WARMUP, CONCURRENCY))}", flush=True)
        results = []
        for n in range(ROUNDS):
            time.sleep(1.0)  # let the downstream consumers catch up a little between rounds
            r = measure(target, N, CONCURRENCY)
            results.append(r)
            print(f"round {n + 1}   {_line(r)}", flush=True)
    finally:
        if target.procs:
            stop(target)
    best = max(results, key=lambda r: r["accept_rate"])
    print()
    print(f"webhook accept path, {target.name} — {N} webhooks x {ROUNDS} rounds, {CONCURRENCY} concurrent "
          f"senders, {os.cpu_count()} cores")
    print(f"best   {_line(best)}")
    print(f"median accepted/s {statistics.median(r['accept_rate'] for r in results):.0f}, median server CPU "
          f"{statistics.median(r['cpu_ms'] for r in results):.2f} ms/webhook")
    return 0 if all(r["accepted"] == r["sent"] for r in results) else 1


if __name__ == "__main__":
    if sys.argv[1:] == ["serve"]:
        serve_without_consumers()
        sys.exit(0)
    sys.exit(main())
