"""`make bench-trace`: where a message's time and the machine's CPU go in distributed mode, paced.

It starts a distributed stack as `make bench` does (bench/run.py), sends its warm-up and its burst,
then paces TRACE_RATE msgs/s for TRACE_SECONDS, TRACE_REPEAT times on the same stack, and prints
for each paced run:
- latency p50 / p99, and a timeline: p50 / max of the messages accepted in each 250 ms;
- CPU and voluntary context switches per message of every process group (PostgreSQL's backends,
  the Tansu broker, each service, Redis, this load generator), read from /proc;
- per stage, from the services' outboxes: how long a row waited for its relay (created → sent),
  and each bus hop (ingest's row sent → translation's row created → ticket's MessageCreated);
- the tables PostgreSQL scanned sequentially, and how many rows it read so (a plan made for an
  empty table shows here first).

A row's ``created_at`` is its transaction's start, so a stage includes the transaction that wrote it.
Environment: TRACE_RATE (500), TRACE_SECONDS (8), TRACE_REPEAT (1), and bench/run.py's.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from meridian.db.engine import driver_url  # noqa: E402

from bench import run  # noqa: E402

RATE = float(os.environ.get("TRACE_RATE", "500"))
SECONDS = float(os.environ.get("TRACE_SECONDS", "8"))
REPEAT = int(os.environ.get("TRACE_REPEAT", "1"))
TICK = os.sysconf("SC_CLK_TCK")


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * q))] if values else float("nan")


# ------------------------------------------------------------------------------- processes (/proc)


def _groups(target: run.Target) -> dict[int, str]:
    """Every process of interest by pid: the target's own, PostgreSQL's, Redis, this one."""
    groups = {pid: re.sub(r"-\d+$", "", name) for name, pid in target.pids.items()}  # gateway-0 -> gateway
    groups[os.getpid()] = "load generator"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in groups:
            continue
        try:
            command = (entry / "cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except OSError:
            continue
        if command.startswith("postgres"):
            groups[int(entry.name)] = "postgresql"
        elif "redis-server" in command:
            groups[int(entry.name)] = "redis"
    return groups


def _usage(groups: dict[int, str]) -> dict[str, tuple[float, int]]:
    """(CPU seconds, voluntary context switches of all threads) per group, now."""
    totals: dict[str, tuple[float, int]] = {}
    for pid, group in groups.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / TICK
            switches = 0
            for task in Path(f"/proc/{pid}/task").iterdir():
                for line in (task / "status").read_text().splitlines():
                    if line.startswith("voluntary_ctxt_switches"):
                        switches += int(line.split()[1])
        except OSError:  # gone meanwhile (a PostgreSQL backend)
            continue
        cpu0, switches0 = totals.get(group, (0.0, 0))
        totals[group] = (cpu0 + cpu, switches0 + switches)
    return totals


# ----------------------------------------------------------------------------- database (outboxes)


async def _scans(url: str) -> dict[str, tuple[int, int, datetime | None]]:
    """Per table: sequential scans, rows read by them, and its last ANALYZE."""
    conn = await asyncpg.connect(driver_url(url))
    try:
        rows = await conn.fetch("SELECT schemaname || '.' || relname AS name, seq_scan, seq_tup_read, "
                                "greatest(last_analyze, last_autoanalyze) AS analyzed FROM pg_stat_user_tables")
    finally:
        await conn.close()
    return {r["name"]: (r["seq_scan"] or 0, r["seq_tup_read"] or 0, r["analyzed"]) for r in rows}


async def _outboxes(url: str, since: datetime) -> dict[str, list[asyncpg.Record]]:
    conn = await asyncpg.connect(driver_url(url))
    try:
        return {schema: await conn.fetch(
            f"SELECT type, headers::text AS headers, created_at, sent_at FROM {schema}.outbox "
            "WHERE created_at >= $1 AND sent_at IS NOT NULL", since)
            for schema in ("ingest", "translation", "ticket")}
    finally:
        await conn.close()


def _stages(rows: dict[str, list[asyncpg.Record]]) -> list[tuple[str, list[float]]]:
    def ms(later: datetime, earlier: datetime) -> float:
        return (later - earlier).total_seconds() * 1000

    headers = {id(r): json.loads(r["headers"]) for rs in rows.values() for r in rs}
    stages = [(f"{schema} {r['type'].rsplit('.', 1)[-1]}: row created -> sent",
               [ms(x["sent_at"], x["created_at"]) for x in rs if x["type"] == r["type"]])
              for schema, rs in rows.items() for r in {x["type"]: x for x in rs}.values()]
    received = {headers[id(r)]["ce_id"]: r for r in rows["ingest"] if r["type"].endswith("MessageReceived")}
    detected = {headers[id(r)]["ce_id"]: r for r in rows["translation"]}
    to_translation, to_ticket, message_last = [], [], []
    for r in detected.values():
        cause = received.get(headers[id(r)]["ce_causationid"])
        if cause is not None:
            to_translation.append(ms(r["created_at"], cause["sent_at"]))
    for r in rows["ticket"]:
        if not r["type"].endswith("MessageCreated"):
            continue
        cause_id = headers[id(r)]["ce_causationid"]
        if cause_id in detected:  # the language came last: ticket's transaction on translation's event
            to_ticket.append(ms(r["created_at"], detected[cause_id]["sent_at"]))
        elif cause_id in received:  # the message came last
            message_last.append(ms(r["created_at"], received[cause_id]["sent_at"]))
    return stages + [("hop ingest sent -> translation's row created", to_translation),
                     ("hop translation sent -> ticket's MessageCreated created", to_ticket),
                     ("hop ingest sent -> ticket's MessageCreated created (message last)", message_last)]


# ------------------------------------------------------------------------------------------- main


def report(result: dict, usage: dict[str, tuple[float, float]], scans: dict[str, tuple[int, int]],
           analyzed: list[tuple[float, str]], stages: list[tuple[str, list[float]]], wall: float) -> None:
    n = max(result["arrived"], 1)
    print(f"paced {RATE:.0f} msgs/s for {SECONDS:.0f} s: {result['arrived']} of {result['sent']} arrived, "
          f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms")
    buckets: dict[int, list[float]] = {}
    for at, latency in result["timeline"]:
        buckets.setdefault(int(at / 0.25), []).append(latency)
    print("  timeline (p50/max ms per 250 ms): " + " ".join(
        f"{statistics.median(v):.0f}/{max(v):.0f}" for _, v in sorted(buckets.items())))
    cpu = sum(c for c, _ in usage.values())
    print(f"  CPU a message: {cpu / n * 1000:.2f} ms in all ({cpu / wall / (os.cpu_count() or 1) * 100:.0f}% of the "
          "machine); by process: " + ", ".join(
              f"{g} {c / n * 1000:.2f} ms / {s / n:.1f} switches"
              for g, (c, s) in sorted(usage.items(), key=lambda kv: -kv[1][0])))
    for name, values in stages:
        if values:
            print(f"  {name:66} n={len(values):5} p50 {_pct(values, .5):6.1f} p90 {_pct(values, .9):6.1f} "
                  f"p99 {_pct(values, .99):6.1f} ms")
    scanned = sorted(((t, s, r) for t, (s, r) in scans.items() if s), key=lambda x: -x[2])[:5]
    print("  sequential scans: " + (", ".join(f"{t} {s} ({r:,} rows)" for t, s, r in scanned) or "none"))
    print("  analyzed during the run: " + (", ".join(f"{t} at {at:.1f} s" for at, t in sorted(analyzed)) or "none"))


def main() -> int:
    run.heap.settle()
    target = run.start_distributed()
    assert target.database_url
    try:
        asyncio.run(run.measure(target, count=300, rate=None))  # warm-up, as make bench
        run.settle()
        burst = asyncio.run(run.measure(target, count=run.N, rate=None))
        print(f"burst: {burst['throughput']:.0f} msgs/s")
        for _ in range(REPEAT):
            run.settle()
            groups = _groups(target)
            since, scans0 = datetime.now(UTC), asyncio.run(_scans(target.database_url))
            usage0, wall0 = _usage(groups), time.monotonic()
            result = asyncio.run(run.measure(target, count=int(RATE * SECONDS), rate=RATE, timeline=True))
            usage1, wall = _usage(groups), time.monotonic() - wall0
            time.sleep(0.6)  # PostgreSQL publishes its table statistics at most every 0.5 s
            scans1 = asyncio.run(_scans(target.database_url))
            usage = {g: (c - usage0.get(g, (0.0, 0))[0], s - usage0.get(g, (0.0, 0))[1])
                     for g, (c, s) in usage1.items()}
            scans = {t: (s - scans0.get(t, (0, 0, None))[0], r - scans0.get(t, (0, 0, None))[1])
                     for t, (s, r, _) in scans1.items()}
            analyzed = [((at - since).total_seconds(), t) for t, (_, _, at) in scans1.items() if at and at >= since]
            report(result, usage, scans, analyzed, _stages(asyncio.run(_outboxes(target.database_url, since))), wall)
    finally:
        run.stop(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
