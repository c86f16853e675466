#!/usr/bin/env bash
# `npm start`: runs the built platform on Node >= 22 (see scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-node.sh
[ -f dist/server/main.js ] || { echo "not built yet: run \`npm run setup\` first" >&2; exit 1; }
# The README's one-command demo: seed the demo accounts unless told otherwise (the server itself
# seeds nothing in production unless HOICHAN_SEED_DEMO=true and HOICHAN_DEMO_PASSWORD are given).
if [ "${NODE_ENV:-development}" != production ]; then export HOICHAN_SEED_DEMO="${HOICHAN_SEED_DEMO:-true}"; fi
# `npm start -- --processes N` (N > 1): N server processes on PORT, PORT+1, … sharing one database
# and one Redis; without REDIS_URL a loopback redis-server of their own, without MONGODB_URI the
# embedded database, both stopped with them (server/platform/local-cluster.ts). One process needs neither.
processes="${HOICHAN_PROCESSES:-1}"
args=()
while [ "$#" -gt 0 ]; do
  if [ "$1" = --processes ]; then processes="${2:?--processes needs a number}"; shift 2; else args+=("$1"); shift; fi
done
if [ "$processes" != 1 ]; then exec node dist/server/platform/local-cluster.js --processes "$processes" ${args[@]+"${args[@]}"}; fi
exec node dist/server/main.js ${args[@]+"${args[@]}"}
