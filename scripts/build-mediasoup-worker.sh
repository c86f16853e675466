#!/usr/bin/env bash
# Builds the mediasoup worker offline against Debian's libraries and caches it.
#
#   bash scripts/build-mediasoup-worker.sh
#
# stdout: only the absolute path of the (stripped) worker binary, as the last line.
# stderr: progress logs. Exit status 0 on success, non-zero with an error message otherwise.
#
# Typical use, before `npm ci`, so that mediasoup's postinstall skips its download/build:
#   export MEDIASOUP_WORKER_BIN="$(bash scripts/build-mediasoup-worker.sh)"
#
# Method: see /work/shared/docs/mediasoup-offline.md. In short: copy the worker sources of the
# pinned mediasoup version to a temporary folder outside the repository, replace every meson
# subproject (wrap) by the shims in scripts/mediasoup/subprojects/ (Debian packages found with
# pkg-config, a libsrtp 3.0 API header over libsrtp2, an unordered_dense header), lower the
# meson version requirement to Debian's meson, apply the DtlsTransport.cpp BIO-callback fix,
# build the flatbuffers-generator target then mediasoup-worker, strip, and cache.
#
# Environment:
#   HOICHAN_CACHE                   cache root (default: $HOME/.cache/hoichan)
#   HOICHAN_MEDIASOUP_JOBS          parallel compile jobs (default: nproc)
#   HOICHAN_MEDIASOUP_KEEP_BUILD=1  keep the temporary build folder (its path is logged)
#
# Cache: $HOICHAN_CACHE/mediasoup-worker-<version>-<hash12>/mediasoup-worker, where <hash12> is
# the first 12 hex digits of a sha256 over this script and every file under scripts/mediasoup/
# (so changing a shim or this script triggers a rebuild). A cached binary is printed at once.
set -euo pipefail

log() { printf '[mediasoup-worker] %s\n' "$*" >&2; }
die() { printf '[mediasoup-worker] ERROR: %s\n' "$*" >&2; exit 1; }

SCRIPT_PATH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
REPO_ROOT="$(cd "$(dirname "$SCRIPT_PATH")/.." && pwd)"
SHIM_DIR="$REPO_ROOT/scripts/mediasoup"
CACHE_ROOT="${HOICHAN_CACHE:-$HOME/.cache/hoichan}"
case "$CACHE_ROOT" in /*) ;; *) CACHE_ROOT="$PWD/$CACHE_ROOT" ;; esac # stdout must be absolute

# Debian packages needed to build (see the doc, step 1).
BUILD_PACKAGES=(meson ninja-build pkg-config g++ libssl-dev libuv1-dev libsrtp2-dev libusrsctp-dev
  libabsl-dev libflatbuffers-dev flatbuffers-compiler dpkg-dev)

[ -d "$SHIM_DIR/subprojects" ] || die "shim folder not found: $SHIM_DIR/subprojects"

# ---------------------------------------------------------------------------------------------
# mediasoup version: node_modules/mediasoup/package.json if installed, else package-lock.json.
# ---------------------------------------------------------------------------------------------
# Reads a JSON value with python3 (or node if python3 is missing). $1: file, $2: python expression
# over `d` (the parsed JSON), $3: the same as a JavaScript expression.
json_get() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
  elif command -v node >/dev/null 2>&1; then
    node -e 'const d=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); console.log(eval(process.argv[2]))' "$1" "$3"
  else
    die "neither python3 nor node is available to read $1"
  fi
}

INSTALLED_PKG="$REPO_ROOT/node_modules/mediasoup/package.json"
if [ -f "$INSTALLED_PKG" ]; then
  MEDIASOUP_VERSION="$(json_get "$INSTALLED_PKG" 'd["version"]' 'd.version')" \
    || die "cannot read the version from $INSTALLED_PKG"
  VERSION_FROM="$INSTALLED_PKG"
elif [ -f "$REPO_ROOT/package-lock.json" ]; then
  MEDIASOUP_VERSION="$(json_get "$REPO_ROOT/package-lock.json" \
    'd.get("packages",{}).get("node_modules/mediasoup",{}).get("version","")' \
    'd.packages?.["node_modules/mediasoup"]?.version ?? ""')" \
    || die "cannot read package-lock.json"
  VERSION_FROM="$REPO_ROOT/package-lock.json"
else
  die "neither node_modules/mediasoup/package.json nor package-lock.json found in $REPO_ROOT"
fi
[[ "$MEDIASOUP_VERSION" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-.+][0-9A-Za-z.-]+)?$ ]] \
  || die "no usable mediasoup version in $VERSION_FROM (got '$MEDIASOUP_VERSION')"

# ---------------------------------------------------------------------------------------------
# Cache key: sha256 over (relative path, sha256 of content) of this script and of every file
# under scripts/mediasoup/, in a fixed (C locale) order.
# ---------------------------------------------------------------------------------------------
BUILD_HASH="$(
  cd "$REPO_ROOT"
  # One sha256sum call ("<hash>  <path>" per file, few processes: the cache hit must stay fast).
  { echo "scripts/build-mediasoup-worker.sh"; find scripts/mediasoup -type f | LC_ALL=C sort; } |
    xargs -d '\n' sha256sum -- | sha256sum | cut -c1-12
)"
CACHE_DIR="$CACHE_ROOT/mediasoup-worker-$MEDIASOUP_VERSION-$BUILD_HASH"
CACHED_BIN="$CACHE_DIR/mediasoup-worker"

# Fast path: already built.
if [ -x "$CACHED_BIN" ]; then
  echo "$CACHED_BIN"
  exit 0
fi

# ---------------------------------------------------------------------------------------------
# Lock, so that two concurrent runs don't both build; re-check the cache once we hold it.
# ---------------------------------------------------------------------------------------------
command -v flock >/dev/null 2>&1 || die "flock (util-linux) is required"
mkdir -p "$CACHE_ROOT"
LOCK_FILE="$CACHE_ROOT/mediasoup-worker-$MEDIASOUP_VERSION-$BUILD_HASH.lock"
exec 9>"$LOCK_FILE"
if ! flock -n 9; then
  log "another build of mediasoup-worker $MEDIASOUP_VERSION is running; waiting for it (lock $LOCK_FILE)"
  flock -w 3600 9 || die "timed out after 1 h waiting for $LOCK_FILE"
fi
if [ -x "$CACHED_BIN" ]; then
  log "built by a concurrent run"
  echo "$CACHED_BIN"
  exit 0
fi

log "building mediasoup-worker $MEDIASOUP_VERSION (version from $VERSION_FROM; cache key $BUILD_HASH)"
START_TS="$(date +%s)"

# ---------------------------------------------------------------------------------------------
# Debian packages: install the missing ones (waits up to 15 min for a concurrent apt/dpkg).
# ---------------------------------------------------------------------------------------------
command -v dpkg >/dev/null 2>&1 || die "dpkg not found: this build expects Debian (bookworm) packages"
pkg_installed() { dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed$'; }
MISSING=()
for p in "${BUILD_PACKAGES[@]}"; do pkg_installed "$p" || MISSING+=("$p"); done
if [ "${#MISSING[@]}" -gt 0 ]; then
  log "installing missing Debian packages: ${MISSING[*]}"
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "missing packages (${MISSING[*]}) and not root; install them with apt-get"
    SUDO=(sudo -n)
  fi
  apt_install() {
    ${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive \
      apt-get -o DPkg::Lock::Timeout=900 install -y --no-install-recommends "${MISSING[@]}" >&2
  }
  if ! apt_install; then
    log "apt-get install failed; refreshing the package lists and retrying"
    ${SUDO[@]+"${SUDO[@]}"} apt-get -o DPkg::Lock::Timeout=900 update >&2 || true
    apt_install || die "apt-get install ${MISSING[*]} failed"
  fi
fi
for t in meson ninja pkg-config g++ strip flatc; do
  command -v "$t" >/dev/null 2>&1 || die "'$t' not found on PATH after installing the Debian packages"
done

# ---------------------------------------------------------------------------------------------
# Temporary build folder outside the repository (removed on exit unless KEEP_BUILD=1).
# ---------------------------------------------------------------------------------------------
WORK_DIR="$(mktemp -d "${TMPDIR:-/tmp}/hoichan-mediasoup-worker.XXXXXX")"
TMP_BIN=""
cleanup() {
  [ -n "$TMP_BIN" ] && rm -f "$TMP_BIN"
  if [ "${HOICHAN_MEDIASOUP_KEEP_BUILD:-0}" = 1 ]; then
    log "keeping build folder $WORK_DIR"
  else
    rm -rf "$WORK_DIR"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------------------------
# Worker sources: node_modules/mediasoup/worker, else the npm tarball of the pinned version.
# ---------------------------------------------------------------------------------------------
SRC_WORKER="$REPO_ROOT/node_modules/mediasoup/worker"
if [ -f "$INSTALLED_PKG" ] && [ -f "$SRC_WORKER/meson.build" ]; then
  log "using worker sources from $SRC_WORKER"
else
  command -v npm >/dev/null 2>&1 || die "npm is required to fetch mediasoup@$MEDIASOUP_VERSION sources"
  log "fetching mediasoup@$MEDIASOUP_VERSION with npm pack"
  mkdir -p "$WORK_DIR/pack"
  (cd "$WORK_DIR/pack" && npm pack --silent "mediasoup@$MEDIASOUP_VERSION" >&2) \
    || die "npm pack mediasoup@$MEDIASOUP_VERSION failed"
  tar -xzf "$WORK_DIR"/pack/mediasoup-*.tgz -C "$WORK_DIR/pack" || die "cannot extract the mediasoup tarball"
  SRC_WORKER="$WORK_DIR/pack/package/worker"
  [ -f "$SRC_WORKER/meson.build" ] || die "the mediasoup tarball has no worker/meson.build"
fi

# Copy the sources (never build inside node_modules), without any previous build output.
SRC="$WORK_DIR/worker"
mkdir -p "$SRC"
tar -C "$SRC_WORKER" --exclude=./out --exclude=./prebuild -cf - . | tar -C "$SRC" -xf -

# ---------------------------------------------------------------------------------------------
# Subprojects: drop every wrap (each would download its sources) and the wrap patch folders,
# and put the shims in their place (see the meson.build of each shim for what it provides).
# ---------------------------------------------------------------------------------------------
rm -rf "$SRC"/subprojects
mkdir -p "$SRC/subprojects"
cp -R "$SHIM_DIR/subprojects/." "$SRC/subprojects/"
# Every subproject() name used by this version's meson files must have a shim.
# (meson files are joined into one line first: the name is often on the line after `subproject(`)
for name in $(find "$SRC" -path "$SRC/subprojects" -prune -o -name meson.build -print0 | xargs -0 cat |
  tr '\n' ' ' | grep -oE "subproject\(\s*'[^']+'" | sed -E "s/.*'([^']+)'/\1/" | sort -u); do
  case "$name" in
    wingetopt | catch2) continue ;; # Windows-only / tests-only, not configured here
  esac
  [ -f "$SRC/subprojects/$name/meson.build" ] \
    || die "mediasoup $MEDIASOUP_VERSION uses subproject '$name' which has no shim in $SHIM_DIR/subprojects"
done

# ---------------------------------------------------------------------------------------------
# meson version: mediasoup asks for a newer meson than Debian's (1.0.1); nothing it uses needs
# more, so lower the requirement to the installed version.
# ---------------------------------------------------------------------------------------------
MESON_VERSION="$(meson --version)"
if grep -qE "meson_version\s*:\s*'>=\s*[0-9.]+'" "$SRC/meson.build"; then
  sed -i -E "s/meson_version\s*:\s*'>=\s*[0-9.]+'/meson_version: '>= $MESON_VERSION'/" "$SRC/meson.build"
else
  log "note: no meson_version requirement found in meson.build (nothing to lower)"
fi

# ---------------------------------------------------------------------------------------------
# Source fix, src/RTC/DtlsTransport.cpp (doc step 9): the BIO callback returns `ret` only when
# operationType == BIO_CB_RETURN. Debian's OpenSSL has kernel TLS; OpenSSL then asks the memory
# BIO (BIO_CTRL_GET_KTLS_SEND, a BIO_CB_CTRL|BIO_CB_RETURN call) whether it does kTLS, gets 1,
# never allocates its DTLS write buffer and the worker crashes (SIGSEGV in do_dtls1_write) at
# the first ServerHello. Testing the flag with `&` fixes it. Fail loudly if the pattern moved.
# ---------------------------------------------------------------------------------------------
DTLS_FILE="$SRC/src/RTC/DtlsTransport.cpp"
DTLS_OLD='(operationType == BIO_CB_RETURN) ? static_cast<long>(ret) : 1'
DTLS_NEW='(operationType & BIO_CB_RETURN) ? static_cast<long>(ret) : 1'
[ -f "$DTLS_FILE" ] || die "$DTLS_FILE not found"
DTLS_COUNT="$(grep -cF -- "$DTLS_OLD" "$DTLS_FILE" || true)"
[ "$DTLS_COUNT" = 1 ] || die "DtlsTransport.cpp BIO-callback fix: expected exactly 1 occurrence of
    $DTLS_OLD
  in src/RTC/DtlsTransport.cpp of mediasoup $MEDIASOUP_VERSION, found ${DTLS_COUNT:-0}.
  Check the BIO callback by hand (see mediasoup-offline.md, step 9) and update this script."
sed -i 's/(operationType == BIO_CB_RETURN) ? static_cast<long>(ret) : 1/(operationType \& BIO_CB_RETURN) ? static_cast<long>(ret) : 1/' "$DTLS_FILE"
grep -qF -- "$DTLS_NEW" "$DTLS_FILE" && ! grep -qF -- "$DTLS_OLD" "$DTLS_FILE" \
  || die "DtlsTransport.cpp BIO-callback fix did not apply"
log "applied the DtlsTransport.cpp BIO-callback fix"

# ---------------------------------------------------------------------------------------------
# Configure and build.
# ---------------------------------------------------------------------------------------------
MESON_ARGS=(--buildtype release -Db_ndebug=true --wrap-mode=nodownload)
# liburing (mediasoup 3.13-3.19): Debian's 2.3 lacks functions mediasoup uses; it is optional.
if grep -q "ms_disable_liburing" "$SRC/meson_options.txt" 2>/dev/null; then
  MESON_ARGS+=(-Dms_disable_liburing=true)
fi
JOBS="${HOICHAN_MEDIASOUP_JOBS:-$(nproc 2>/dev/null || echo 2)}"
# Optional: meson uses ccache automatically when it is on PATH (Debian package `ccache`, not
# required). Source and build folders sit side by side in $WORK_DIR and meson passes relative
# paths, so a rebuild after a shim or script change (new cache key) mostly hits the ccache.
export CCACHE_BASEDIR="$WORK_DIR" CCACHE_NOHASHDIR=1
BUILD="$WORK_DIR/build"

log "meson setup (${MESON_ARGS[*]})"
meson setup "${MESON_ARGS[@]}" "$BUILD" "$SRC" >&2 || die "meson setup failed (see the log above)"
# The schema headers first: nothing orders them before every compile of the worker.
log "building flatbuffers-generator"
meson compile -C "$BUILD" -j "$JOBS" flatbuffers-generator >&2 || die "flatbuffers-generator failed"
log "building mediasoup-worker with $JOBS jobs (several minutes)"
meson compile -C "$BUILD" -j "$JOBS" mediasoup-worker >&2 || die "compiling mediasoup-worker failed"
[ -x "$BUILD/mediasoup-worker" ] || die "build finished but $BUILD/mediasoup-worker is missing"

# ---------------------------------------------------------------------------------------------
# Strip, check, and publish atomically into the cache (temp file in the same folder, then mv).
# ---------------------------------------------------------------------------------------------
strip -o "$WORK_DIR/mediasoup-worker" "$BUILD/mediasoup-worker"
if ldd "$WORK_DIR/mediasoup-worker" | grep -q 'not found'; then
  ldd "$WORK_DIR/mediasoup-worker" >&2
  die "the built worker has unresolved shared libraries"
fi
mkdir -p "$CACHE_DIR"
TMP_BIN="$(mktemp "$CACHE_DIR/.mediasoup-worker.tmp.XXXXXX")"
cp "$WORK_DIR/mediasoup-worker" "$TMP_BIN"
chmod 0755 "$TMP_BIN"
mv -f "$TMP_BIN" "$CACHED_BIN"
TMP_BIN=""

log "built in $(($(date +%s) - START_TS)) s; $(du -h "$CACHED_BIN" | cut -f1) at $CACHED_BIN"
echo "$CACHED_BIN"
