#!/usr/bin/env bash
# `npm test`: sets up (idempotent, including test-only dependencies), type-checks, lints (eslint, prettier)
# and runs every jest project.
# Extra arguments go to jest, e.g. `npm test -- --selectProjects unit`.
# A full run (no arguments) then runs the EMR, EMR-access, audit and fuzz integration tests a second time with the
# embedded FerretDB on PostgreSQL (HOICHAN_TEST_DB_HANDLER=postgresql), so both storage paths are
# tested, not assumed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
bash scripts/ensure-postgres.sh
source scripts/ensure-node.sh
export HOICHAN_CACHE="${HOICHAN_CACHE:-$HOME/.cache/hoichan}"
if [ -z "${HOICHAN_PY:-}" ] && [ -f ml/training/requirements-ci.txt ]; then
  export HOICHAN_PY="$HOICHAN_CACHE/py-ci-$(sha256sum ml/training/requirements-ci.txt | cut -c1-12)/bin/python"
fi
npx tsc -p tsconfig.json --noEmit
npx tsc -p client/tsconfig.json --noEmit
echo '[test] eslint (strict type-checked, import boundaries) and prettier' >&2
npx eslint . --max-warnings 0
npx prettier --check --log-level warn . || { echo 'prettier: the files above are not formatted (npm run format)' >&2; exit 1; }
if [ "$#" -gt 0 ]; then exec npx jest --ci "$@"; fi
npx jest --ci
HOICHAN_TEST_DB_HANDLER=postgresql npx jest --ci test/integration/emr/ test/integration/emr-access/ test/integration/audit/ test/integration/platform/fuzz.test.ts test/integration/platform/database-concerns.test.ts
