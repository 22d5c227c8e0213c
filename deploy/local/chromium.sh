#!/usr/bin/env bash
# Install Debian's Chromium for the console's browser tests (Playwright drives it headless).
# Playwright's own browser download needs hosts this project does not reach; Debian's package
# comes through the ordinary package mirror. Idempotent: does nothing when chromium is there.
# Prints the browser's path on stdout.
set -euo pipefail

BROWSER=${TIMEBRIDGE_CHROMIUM:-/usr/bin/chromium}

if [ ! -x "$BROWSER" ]; then
  echo "chromium.sh: $BROWSER not found, installing Debian's chromium" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
    chromium fonts-dejavu-core >&2
fi
[ -x "$BROWSER" ] || { echo "chromium.sh: $BROWSER is still missing" >&2; exit 1; }
echo "$BROWSER"
