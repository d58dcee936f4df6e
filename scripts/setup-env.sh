#!/usr/bin/env bash
# Create (or reuse) the project's virtual environment in .venv and install evalkit into it.
# Usage: source scripts/setup-env.sh [EXTRAS]   e.g. EXTRAS=test
# Safe to run twice: an existing .venv is reused and pip only installs what is missing.
set -euo pipefail
_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
_py="${PYTHON:-}"
if [ -z "$_py" ]; then
  for c in python3.11 python3.12 python3.13 python3; do
    if command -v "$c" >/dev/null 2>&1; then _py="$c"; break; fi
  done
fi
"$_py" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || {
  echo "evalkit needs Python >= 3.11 (found: $("$_py" --version 2>&1))" >&2; exit 2; }
if [ ! -x "$_root/.venv/bin/python" ]; then
  "$_py" -m venv "$_root/.venv"
fi
_extras="${1:-}"
_target="$_root"
[ -n "$_extras" ] && _target="$_root[$_extras]"
_log="$_root/.venv/install.log"
{
  "$_root/.venv/bin/python" -m pip install --upgrade pip >"$_log" 2>&1 &&
  "$_root/.venv/bin/python" -m pip install -e "$_target" >>"$_log" 2>&1
} || { echo "Installing evalkit failed; see $_log" >&2; tail -n 20 "$_log" >&2; exit 1; }
