"""``meridian run`` (embedded), ``meridian run-distributed`` and ``meridian serve <service>``."""

from __future__ import annotations

import argparse
import asyncio
import sys

from meridian import telemetry
from meridian.settings import SERVICE_NAMES, PlatformSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="meridian", description="Run the Meridian platform.")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="every service in one process (embedded PostgreSQL, in-memory bus)")
    sub.add_parser("run-distributed", help="each service its own process over Kafka, PostgreSQL and Redis")
    serve = sub.add_parser("serve", help="run one service (distributed / production)")
    serve.add_argument("service", choices=SERVICE_NAMES)
    args = parser.parse_args(argv)
    platform = PlatformSettings()
    if args.command == "run-distributed":
        from meridian.runtime.distributed import supervise

        telemetry.setup("meridian-supervisor", level=platform.log_level, fmt=platform.log_format)
        return supervise(platform)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    if args.command == "run":
        from meridian.runtime.embedded import run

        telemetry.setup("meridian", level=platform.log_level, fmt=platform.log_format)
        asyncio.run(run(platform))
    else:
        from meridian.runtime.distributed import serve as serve_one

        telemetry.setup(f"meridian-{args.service}", level=platform.log_level, fmt=platform.log_format)
        asyncio.run(serve_one(platform, args.service))
    return 0


if __name__ == "__main__":
    sys.exit(main())
