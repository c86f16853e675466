#!/usr/bin/env bash
# `npm start`: runs the built platform on Node >= 22 (see scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/ensure-node.sh
[ -f dist/server/main.js ] || { echo "not built yet: run \`npm run setup\` first" >&2; exit 1; }
exec node dist/server/main.js "$@"
