#!/usr/bin/env bash
# Sets up .venv (with test tools) and runs ruff and the test suite headless.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh requirements-dev.txt
.venv/bin/ruff check .
QT_QPA_PLATFORM=offscreen .venv/bin/python -m pytest -q "$@"
