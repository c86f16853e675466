#!/usr/bin/env bash
# `npm start`: runs the built platform on Node >= 22 (see scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-node.sh
[ -f dist/server/main.js ] || { echo "not built yet: run \`npm run setup\` first" >&2; exit 1; }
# The README's one-command demo: seed the demo accounts unless told otherwise (the server itself
# seeds nothing in production unless HOICHAN_SEED_DEMO=true and HOICHAN_DEMO_PASSWORD are given).
if [ "${NODE_ENV:-development}" != production ]; then export HOICHAN_SEED_DEMO="${HOICHAN_SEED_DEMO:-true}"; fi
exec node dist/server/main.js "$@"
