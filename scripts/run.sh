#!/usr/bin/env bash
# Sets up .venv and opens the app (extra arguments go to main.py).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements.txt
exec .venv/bin/python main.py "$@"
