#!/usr/bin/env bash
# Quick start (a): set up, load the bundled example data into the embedded database, launch the dashboard.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
bash scripts/setup-env.sh report
exec .venv/bin/evalkit dashboard --example "$@"
