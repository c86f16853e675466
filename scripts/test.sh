#!/usr/bin/env bash
# `npm test`: sets up (idempotent, including test-only dependencies), type-checks, lints (eslint, prettier)
# and runs every jest project.
# Extra arguments go to jest, e.g. `npm test -- --selectProjects unit`.
# The tests' FerretDB stores on PostgreSQL, as the embedded default and production do (scripts/ensure-postgres.sh
# installs it). A full run (no arguments) then runs the EMR, EMR-access, audit, fuzz and database-concern
# integration tests a second time with FerretDB on SQLite (HOICHAN_TEST_DB_HANDLER=sqlite, the fallback where
# PostgreSQL is not installed), so both storage paths are tested, not assumed.
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
HOICHAN_TEST_DB_HANDLER=sqlite npx jest --ci test/integration/emr/ test/integration/emr-access/ test/integration/audit/ test/integration/platform/fuzz.test.ts test/integration/platform/database-concerns.test.ts
