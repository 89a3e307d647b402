#!/usr/bin/env bash
# Set up, then lint, type-check, run the whole test suite and build the documentation.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup-browser.sh  # Chromium for the report's browser test, where apt allows
# bubblewrap: the code sandbox's strongest isolation level. Only where we are root with apt;
# elsewhere the sandbox falls back (and `dataenvgym doctor` says to what).
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && ! command -v bwrap >/dev/null 2>&1; then
  apt-get install -y -qq bubblewrap >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq bubblewrap >/dev/null 2>&1; } \
    || echo "bubblewrap could not be installed; the code sandbox will use its fallback"
fi
. .venv/bin/activate
ruff check src tests bench
ruff format --check src tests bench
mypy
python -m pytest -q "$@"
# The sandbox's isolation tests again, as an unprivileged user (skipped, saying why, where
# that cannot be arranged).
bash scripts/test-unprivileged.sh
python scripts/render_results.py --check  # every number in the docs matches bench/results
NO_MKDOCS_2_WARNING=1 mkdocs build --strict --quiet --site-dir "$(mktemp -d)"
