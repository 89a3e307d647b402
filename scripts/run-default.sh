#!/usr/bin/env bash
# Set up, then run the default episode: Skill-Tree, built-in arithmetic, built-in student,
# offline teacher with state. Extra arguments go to `dataenvgym run`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
exec dataenvgym run "$@"
