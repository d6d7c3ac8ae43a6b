#!/usr/bin/env bash
# Microsoft's az CLI, unmodified, from PyPI, in a virtual environment of its own under the cache
# (${SL_CACHE_DIR:-~/.cache/servicelinker}/az-venv): the e2e tests drive the local stack with it, and
# `servicelinker devstack az` configures a profile for it. Never installed into the project's .venv (its pins
# would fight ours) nor system-wide. Idempotent: skipped when the pinned version is already there.
set -euo pipefail
AZ_VERSION="2.91.0"
cache="${SL_CACHE_DIR:-$HOME/.cache/servicelinker}"
venv="$cache/az-venv"
if [ -x "$venv/bin/az" ] && "$venv/bin/python" -c "import importlib.metadata as m,sys; sys.exit(m.version('azure-cli') != '$AZ_VERSION')" 2>/dev/null; then
  echo "[install-az] azure-cli $AZ_VERSION present in $venv" >&2
  exit 0
fi
mkdir -p "$cache"
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "azure-cli==$AZ_VERSION"
echo "[install-az] azure-cli $AZ_VERSION installed in $venv" >&2
