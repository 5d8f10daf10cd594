"""Create a new Alembic revision for one service with autogenerate.

    python scripts/migration.py ticket "add tags"        # against MERIDIAN_DATABASE_URL (default: local test DB)

The database is brought to head first, then the service's tables are compared with it.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
from pathlib import Path

from alembic import command
from meridian.db.migrate import alembic_config, upgrade, with_connection

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("service")
    parser.add_argument("message")
    args = parser.parse_args()
    package = "meridian_" + args.service.replace("-", "_")
    schema = args.service.replace("-", "_")
    importlib.import_module(f"{package}.tables")
    migrations = ROOT / "services" / args.service / "migrations"
    (migrations / "versions").mkdir(parents=True, exist_ok=True)
    template = migrations / "script.py.mako"
    if not template.exists():
        template.write_text((ROOT / "libs/meridian/db/script.py.mako").read_text())
    env = migrations / "env.py"
    if not env.exists():
        env.write_text(f"from meridian.db.migrate import run_env\nfrom {package}.tables import metadata\n\n"
                       f"run_env(metadata, schema={schema!r})\n")
    url = os.environ.get("MERIDIAN_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")

    def revise(conn, location, name, message):  # noqa: ANN001
        command.revision(alembic_config(location, name, conn), message=message, autogenerate=True)

    async def run() -> None:
        await upgrade(url, schema, migrations)
        await with_connection(url, schema, revise, migrations, schema, args.message)

    asyncio.run(run())


if __name__ == "__main__":
    main()
