#!/usr/bin/env bash
# Makes sure Debian's PostgreSQL server binaries are installed (/usr/lib/postgresql/<major>/bin),
# for the embedded database (FerretDB on PostgreSQL; server/db/embedded-postgres.ts starts its own
# cluster in the data folder, on loopback). Idempotent; a second run with it installed takes no time.
# The package's own system cluster (port 5432) is not used by hoichan.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null; then exit 0; fi
if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else echo "[ensure-postgres] please install the Debian package: postgresql" >&2; exit 1; fi
echo "[ensure-postgres] installing postgresql (Debian)"
$SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends postgresql >/dev/null
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || { echo "[ensure-postgres] postgresql installed but no server binary found" >&2; exit 1; }
