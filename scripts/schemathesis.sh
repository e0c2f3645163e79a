#!/usr/bin/env bash
# Runs schemathesis (the OpenAPI fuzzer the contract test uses), first installing the pinned version into a venv
# under the cache dir, where later runs (and other clones on the machine) find it. Usage: scripts/schemathesis.sh ARGS
set -euo pipefail
VERSION=4.32.5
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${POSTBOARD_CACHE_DIR:-${POSTBOARD_STACK_DIR:-$ROOT/.stack}/cache}
VENV=$CACHE_DIR/schemathesis-$VERSION

if [ ! -f "$VENV/.installed" ]; then
  mkdir -p "$CACHE_DIR"
  # One installer at a time: test files run in parallel, and so may two clones sharing the cache.
  exec 9>"$CACHE_DIR/schemathesis.lock"
  flock 9
  if [ ! -f "$VENV/.installed" ]; then
    if ! python3 -c 'import ensurepip' 2>/dev/null; then
      # As the stack installs Redis and PostgreSQL (the same helper): Debian splits venv support out of python3.
      echo "schemathesis: python3 has no venv support; apt-get install python3-venv" >&2
      # shellcheck source=../stack/lib.sh
      source "$ROOT/stack/lib.sh"
      apt_install python3-venv
    fi
    echo "schemathesis: installing $VERSION into $VENV" >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2
    touch "$VENV/.installed"
  fi
  exec 9>&-
fi
exec "$VENV/bin/schemathesis" "$@"
