#!/usr/bin/env bash
# Runs CMD with $SCHEMATHESIS pointing at schemathesis' `st` binary, which the API contract tests
# run against each service's /openapi.json:
#
#   scripts/with-schemathesis.sh CMD...
#
# A set $SCHEMATHESIS is kept (a path to `st`, or `skip` on a machine without Python). Otherwise
# schemathesis is installed once into .local/schemathesis, a virtual environment of its own
# (Debian's Python refuses system-wide pip installs), pinned so that findings reproduce.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
version="${SCHEMATHESIS_VERSION:-4.32.5}"
venv="$repo/.local/schemathesis"

if [ -z "${SCHEMATHESIS:-}" ]; then
  if [ ! -x "$venv/bin/st" ] || ! "$venv/bin/st" --version 2>/dev/null | grep -q "$version"; then
    if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
      echo "with-schemathesis.sh: installing python3-venv with apt-get" >&2
      sudo=""
      [ "$(id -u)" -eq 0 ] || sudo="sudo"
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
      $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        python3 python3-venv >/dev/null
    fi
    echo "with-schemathesis.sh: installing schemathesis $version into .local/schemathesis" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet "schemathesis==$version"
  fi
  export SCHEMATHESIS="$venv/bin/st"
fi
exec "$@"
