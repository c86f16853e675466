#!/usr/bin/env bash
# `npm test`: sets up (idempotent, including test-only dependencies) and runs every jest project.
# Extra arguments go to jest, e.g. `npm test -- --selectProjects unit`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
source scripts/ensure-node.sh
export HOICHAN_CACHE="${HOICHAN_CACHE:-$HOME/.cache/hoichan}"
if [ -z "${HOICHAN_PY:-}" ] && [ -f ml/training/requirements-ci.txt ]; then
  export HOICHAN_PY="$HOICHAN_CACHE/py-ci-$(sha256sum ml/training/requirements-ci.txt | cut -c1-12)/bin/python"
fi
npx tsc -p tsconfig.json --noEmit
exec npx jest --ci "$@"
