#!/usr/bin/env bash
# Set up, then lint, type-check and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup-browser.sh  # Chromium for the report's browser test, where apt allows
. .venv/bin/activate
ruff check src tests bench
ruff format --check src tests bench
mypy
python -m pytest -q "$@"
