#!/usr/bin/env bash
# Quick start (b): set up and run the whole test suite, with a real PostgreSQL server and a real browser.
# Installs Debian's chromium and postgresql when run as root and they are missing (CI does this).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
if [ "$(id -u)" = 0 ]; then
  need=()
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  ls -d /usr/lib/postgresql/*/bin >/dev/null 2>&1 || need+=(postgresql)
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing Debian packages: ${need[*]}"
    apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null 2>&1 \
      || echo "warning: could not install ${need[*]}" >&2
  fi
fi
bash scripts/setup-env.sh test
pg_dir=""
cleanup() { [ -n "$pg_dir" ] && bash scripts/postgres.sh stop "$pg_dir"; }
trap cleanup EXIT
if [ -z "${EVALKIT_TEST_PG_URL:-}" ]; then
  eval "$(bash scripts/postgres.sh start)"
  pg_dir="${EVALKIT_PG_DIR:-}"
fi
export EVALKIT_TEST_PG_URL="${EVALKIT_TEST_PG_URL:-}"
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" = 5 ]; then echo "pytest collected no tests: failing on purpose" >&2; exit 1; fi
exit "$rc"
