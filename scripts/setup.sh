#!/usr/bin/env bash
# One command for a fresh machine that reaches only the package registries:
#   Debian packages → Node.js 24 → FerretDB → mediasoup worker → npm ci → build server and client.
# Idempotent: everything heavy is cached outside the clone (HOICHAN_CACHE, default ~/.cache/hoichan)
# keyed by version, so a second run with nothing changed takes seconds.
#
#   scripts/setup.sh            what `npm start` needs
#   scripts/setup.sh --test     plus what the test suite needs (Chromium, a numpy+Pillow venv)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
WITH_TEST=0
for arg in "$@"; do case "$arg" in --test) WITH_TEST=1 ;; *) echo "unknown option $arg" >&2; exit 2 ;; esac; done
export HOICHAN_CACHE="${HOICHAN_CACHE:-$HOME/.cache/hoichan}"
mkdir -p "$HOICHAN_CACHE"
log() { printf '[setup] %s\n' "$*" >&2; }
t0=$(date +%s)

# 1. Debian packages (PostgreSQL for the embedded database; build tools and libraries for the mediasoup worker; Chromium, coturn, nftables for tests)
APT_RUNTIME=(postgresql redis-server meson ninja-build pkg-config g++ libssl-dev libuv1-dev libsrtp2-dev libusrsctp-dev libabsl-dev libflatbuffers-dev flatbuffers-compiler python3-venv)
APT_TEST=(chromium fonts-noto-core coturn ffmpeg iproute2 nftables orthanc orthanc-dicomweb)
want=("${APT_RUNTIME[@]}")
[ "$WITH_TEST" = 1 ] && want+=("${APT_TEST[@]}")
missing=()
for p in "${want[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else log "please install: ${missing[*]}"; exit 1; fi
  log "installing Debian packages: ${missing[*]}"
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# 2. Node.js >= 22 (installs Node 24 from the npm registry into the cache when the machine's is older)
# shellcheck source=scripts/ensure-node.sh
source scripts/ensure-node.sh
log "node $(node --version)"

# 3. FerretDB, the embedded MongoDB wire-protocol database
FERRETDB_BIN="$(bash scripts/ensure-ferretdb.sh)"
log "ferretdb $FERRETDB_BIN"

# 4. mediasoup worker, built offline from the npm package's own sources (unless a prebuilt is wanted)
if [ "${HOICHAN_MEDIASOUP_PREBUILT:-0}" != 1 ]; then
  MEDIASOUP_WORKER_BIN="$(bash scripts/build-mediasoup-worker.sh | tail -n 1)"
  export MEDIASOUP_WORKER_BIN
  log "mediasoup worker $MEDIASOUP_WORKER_BIN"
fi

# 5. npm ci, skipped when package-lock.json and node's version did not change
stamp="node_modules/.hoichan-install-stamp"
want_stamp="$(sha256sum package-lock.json .npmrc | sha256sum | cut -c1-16)-$(node --version)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want_stamp" ]; then
  log "npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want_stamp" > "$stamp"
fi

# 6. build server (tsc → dist/) and client (vite → client/dist/), skipped when sources did not change
src_hash() { find "$@" -type f \( -name '*.ts' -o -name '*.tsx' -o -name '*.css' -o -name '*.html' -o -name '*.json' \) -not -path '*/node_modules/*' -not -path '*/dist/*' 2>/dev/null | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16; }
server_hash="$(src_hash server models ml/inference ml/decode ml/cli.ts ml/weights contracts bench scripts tsconfig.json tsconfig.build.json)"
if [ ! -f dist/.stamp ] || [ "$(cat dist/.stamp)" != "$server_hash" ]; then
  log "building server"
  # One command per line: under `set -e` a failure inside `a && b` does not stop the script.
  rm -rf dist
  npx tsc -p tsconfig.build.json || { echo "setup: the server build does not type-check (tsc -p tsconfig.build.json, errors above)" >&2; exit 1; }
  echo "$server_hash" > dist/.stamp
fi
if [ -f client/vite.config.ts ]; then
  client_hash="$(src_hash client contracts)"
  if [ ! -f client/dist/.stamp ] || [ "$(cat client/dist/.stamp)" != "$client_hash" ]; then
    log "building client"
    npx vite build --config client/vite.config.ts --logLevel warn || { echo "setup: the web client does not build (errors above)" >&2; exit 1; }
    echo "$client_hash" > client/dist/.stamp
  fi
fi

# 7. test-only: a small Python venv (numpy + Pillow; fhir.resources) for the preprocessing parity test and the outside FHIR validator
if [ "$WITH_TEST" = 1 ] && [ -f ml/training/requirements-ci.txt ]; then
  venv="$HOICHAN_CACHE/py-ci-$(sha256sum ml/training/requirements-ci.txt | cut -c1-12)"
  if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import numpy, PIL, fhir.resources' 2>/dev/null; then
    log "python venv for the parity and FHIR validator tests"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q -r ml/training/requirements-ci.txt
  fi
fi
log "ready in $(( $(date +%s) - t0 )) s"
