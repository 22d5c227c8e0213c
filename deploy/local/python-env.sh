#!/usr/bin/env bash
# Create or refresh the project's virtualenv (.venv) from requirements/lock.txt.
# Idempotent and quick when nothing changed: a stamp records the hash of the lock file and of
# every package manifest, and the work is skipped when it matches.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV="$ROOT/.venv"
UV_VERSION="0.13.9"
PACKAGES=(libs/common libs/providers services/ingest services/mapping services/conflict-resolver
  services/invoice-export services/reporting services/contracts services/console
  services/credentials sandboxes)

find_python() {
  local candidate
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      command -v "$candidate"
      return 0
    fi
  done
  return 1
}

install_python() {
  echo "python-env: Python 3.11 not found, installing Debian's python3 (3.11 on Debian 12)" >&2
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq python3 python3-venv >/dev/null
}

stamp_value() {
  (
    cd "$ROOT"
    cat requirements/lock.txt
    for p in "${PACKAGES[@]}"; do cat "$p/pyproject.toml"; done
  ) | sha256sum | cut -d' ' -f1
}

main() {
  local python stamp_file="$VENV/.timebridge-stamp"
  python=$(find_python) || { install_python && python=$(find_python); } || {
    echo "python-env: Python 3.11 is required" >&2
    exit 1
  }
  if [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$(stamp_value)" ] &&
    [ -x "$VENV/bin/python" ]; then
    return 0
  fi
  echo "python-env: preparing $VENV with $($python --version)"
  [ -x "$VENV/bin/python" ] || "$python" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check "uv==$UV_VERSION"
  "$VENV/bin/uv" pip sync -q --python "$VENV/bin/python" "$ROOT/requirements/lock.txt"
  local editable=()
  for p in "${PACKAGES[@]}"; do editable+=(-e "$ROOT/$p"); done
  "$VENV/bin/uv" pip install -q --python "$VENV/bin/python" --no-deps "${editable[@]}"
  stamp_value >"$stamp_file"
  echo "python-env: ready"
}

main "$@"
