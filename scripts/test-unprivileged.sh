#!/usr/bin/env bash
# Re-run the code sandbox's isolation tests as an unprivileged user. CI runs as root, and the
# sandbox must hold without root too (it then has no uid of its own per run, and the user's
# home is readable to that user), so scripts/test.sh calls this after the main suite.
# Creates the user if missing and lets it traverse (x only, through an ACL) the directories
# leading to the virtual environment's interpreter and the repository. Skips, saying why,
# where that cannot be arranged (not root, no useradd or setfacl).
set -euo pipefail
cd "$(dirname "$0")/.."
TEST_USER=${DATAENVGYM_TEST_USER:-dataenvgym-ci}
VENV=${VENV:-.venv}
TESTS=(tests/domains/code/test_isolation_attacks.py tests/domains/code/test_sandbox.py)

if [ "$(id -u)" != 0 ]; then
  echo "test-unprivileged: not root, so the main run was already unprivileged; skipped"
  exit 0
fi
if ! command -v setfacl >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  apt-get install -y -qq acl >/dev/null 2>&1 || true
fi
for tool in useradd runuser setfacl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "test-unprivileged: no $tool here; skipped"
    exit 0
  fi
done
id -u "$TEST_USER" >/dev/null 2>&1 || useradd --create-home --shell /bin/sh "$TEST_USER"

# x (search) permission, nothing else, on every directory from / down to each path that the
# user cannot already search. Top down: checked bottom up, a directory behind an unsearchable
# parent looks unsearchable too, and a named-user entry of x alone would then take away the
# read permission its "other" bits gave (pytest must list the repository).
grant_path() {
  local dir=$1 chain=()
  while [ "$dir" != / ]; do
    chain=("$dir" "${chain[@]}")
    dir=$(dirname "$dir")
  done
  for dir in "${chain[@]}"; do
    if ! runuser -u "$TEST_USER" -- test -x "$dir"; then
      setfacl -m "u:$TEST_USER:x" "$dir"
    fi
  done
}
python=$(readlink -f "$VENV/bin/python")
grant_path "$(dirname "$python")"
grant_path "$(readlink -f "$VENV")"
grant_path "$PWD"

work=$(mktemp -d)
chown "$TEST_USER" "$work"
trap 'rm -rf "$work"' EXIT
# The repository and the environment are read-only for this user: caches go to $work.
runuser -u "$TEST_USER" -- env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$(getent passwd "$TEST_USER" | cut -d: -f6)" \
  TMPDIR="$work" XDG_CACHE_HOME="$work/cache" ${PYTHONPATH:+PYTHONPATH="$PYTHONPATH"} \
  "$VENV/bin/python" -m pytest -q -p no:cacheprovider "${TESTS[@]}"
