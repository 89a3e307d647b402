#!/usr/bin/env bash
# Set up, then lint, type-check, run the whole test suite and build the documentation.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup-browser.sh  # Chromium for the report's browser test, where apt allows
. .venv/bin/activate
ruff check src tests bench
ruff format --check src tests bench
mypy
python -m pytest -q "$@"
python scripts/render_results.py --check  # every number in the docs matches bench/results
NO_MKDOCS_2_WARNING=1 mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
