#!/usr/bin/env bash
# Create (or reuse) the Python venv for ml/training and print its path.
# The venv lives outside the repo, keyed by the hash of the pinned requirements,
# so changing ml/training/requirements.txt gives a fresh venv.
#   usage: scripts/ml-venv.sh            -> prints the venv path on stdout (last line)
#          source "$(scripts/ml-venv.sh | tail -n1)/bin/activate"
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
req="$root/ml/training/requirements.txt"
[ -f "$req" ] || { echo "missing $req" >&2; exit 1; }

cache="${HOICHAN_CACHE:-$HOME/.cache/hoichan}"
hash="$(sha256sum "$req" | cut -c1-12)"
venv="$cache/ml-venv-$hash"
python="${PYTHON:-python3}"

if [ ! -f "$venv/.installed" ]; then
  mkdir -p "$cache"
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --disable-pip-version-check -q --upgrade pip >&2
  "$venv/bin/python" -m pip install --disable-pip-version-check -r "$req" >&2
  touch "$venv/.installed"
fi
echo "$venv"
