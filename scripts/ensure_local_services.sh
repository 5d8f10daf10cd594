#!/usr/bin/env bash
# Start the local PostgreSQL and Redis this machine kind provides, when they are not running.
# (Embedded mode needs neither; service and integration tests do.)
set -euo pipefail
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  if command -v pg_ctlcluster >/dev/null; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  fi
fi
if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  if command -v redis-server >/dev/null; then
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no
  fi
fi
for _ in $(seq 1 50); do
  pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && exit 0
  sleep 0.2
done
echo "PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379 are needed by the service and integration tests" >&2
exit 1
