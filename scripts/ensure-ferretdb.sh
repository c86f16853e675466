#!/usr/bin/env bash
# Builds FerretDB (the embedded MongoDB wire-protocol server, SQLite backend) from the Go module
# proxy into a cache outside the clone, keyed by version; prints the binary's path on stdout.
#
# Why not a plain `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2`: here the module
# proxy refuses the version *list* (go install asks it for deprecation notices: 403), and FerretDB's
# build/version package panics at start unless build/version/version.txt exists, which the module
# zip does not carry (their release builds generate it). So: download the exact module version,
# copy it to a writable folder, write version.txt, and build its own cmd/ferretdb with its own go.mod.
set -euo pipefail
FERRETDB_VERSION="${FERRETDB_VERSION:-v1.24.2}"
HOICHAN_CACHE="${HOICHAN_CACHE:-$HOME/.cache/hoichan}"
dest="$HOICHAN_CACHE/ferretdb-$FERRETDB_VERSION"
bin="$dest/bin/ferretdb"
if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then echo "$bin"; exit 0; fi
command -v go >/dev/null || { echo "[ferretdb] Go is required to build FerretDB (apt-get install golang or use the machine's Go)" >&2; exit 1; }
mkdir -p "$HOICHAN_CACHE"
exec 9>"$HOICHAN_CACHE/.ferretdb.lock"; flock 9
if [ -x "$bin" ] && "$bin" --version >/dev/null 2>&1; then echo "$bin"; exit 0; fi
echo "[ferretdb] building FerretDB $FERRETDB_VERSION (a few minutes, once per machine)" >&2
src_json="$(cd /tmp && GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION")"
src_dir="$(printf '%s' "$src_json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -d "$src_dir" ] || { echo "[ferretdb] module download failed: $src_json" >&2; exit 1; }
work="$(mktemp -d)"; trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
cp -r "$src_dir" "$work/src" && chmod -R u+w "$work/src"
printf '%s\n' "$FERRETDB_VERSION" > "$work/src/build/version/version.txt"
printf 'unknown\n' > "$work/src/build/version/commit.txt"
printf 'hoichan-setup\n' > "$work/src/build/version/package.txt"
(cd "$work/src" && GOFLAGS=-buildvcs=false CGO_ENABLED=0 go build -trimpath -o "$work/ferretdb" ./cmd/ferretdb) >&2
"$work/ferretdb" --version >&2
mkdir -p "$dest/bin" && mv "$work/ferretdb" "$bin.tmp" && mv "$bin.tmp" "$bin"
echo "$bin"
