#!/usr/bin/env bash
# Start a throw-away PostgreSQL server for the tests (Debian's package), print its URL.
# Usage: eval "$(bash scripts/postgres.sh start)"   -> exports EVALKIT_TEST_PG_URL and EVALKIT_PG_DIR
#        bash scripts/postgres.sh stop "$EVALKIT_PG_DIR"
set -euo pipefail
cmd="${1:-start}"
bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
if [ "$cmd" = "stop" ]; then
  dir="${2:?data directory}"
  [ -n "$bindir" ] && runuser -u postgres -- "$bindir/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$dir"
  exit 0
fi
if [ -z "$bindir" ] || ! id postgres >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql) >/dev/null 2>&1 || true
    bindir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)"
  fi
fi
if [ -z "$bindir" ]; then echo "echo 'PostgreSQL is not installed; PostgreSQL tests will not run' >&2"; exit 0; fi
dir="$(mktemp -d /tmp/evalkit-pg.XXXXXX)"
chmod 755 "$dir"; chown postgres "$dir"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
runuser -u postgres -- "$bindir/initdb" -D "$dir/data" -A trust -U postgres >/dev/null
runuser -u postgres -- "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
  -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null
runuser -u postgres -- "$bindir/createdb" -h 127.0.0.1 -p "$port" evalkit_test
echo "export EVALKIT_TEST_PG_URL=postgresql+psycopg://postgres@127.0.0.1:$port/evalkit_test"
echo "export EVALKIT_PG_DIR=$dir"
