#!/usr/bin/env bash
# Install Debian's Chromium for the report's browser test when it is missing and this
# machine can: apt-get present and running as root. Never fatal: without Chromium the
# browser test skips and says why.
set -uo pipefail
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
  echo "setup-browser: no chromium and no root apt-get here; the browser test will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq chromium >/dev/null; }; then
  echo "setup-browser: installing chromium failed; the browser test will skip" >&2
fi
exit 0
