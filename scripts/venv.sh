#!/usr/bin/env bash
# Usage: scripts/venv.sh NAME LOCKFILE
#
# Ensure a virtualenv named NAME holding exactly the pinned packages of LOCKFILE, and print its
# path (the only line on stdout; progress goes to stderr).
#
#   ${PRAKERJA_CACHE:-$HOME/.cache/prakerja}/venv-NAME-<first 12 hex of sha256(LOCKFILE)>
#
# - The venv is built with the default python3 (override with PRAKERJA_PYTHON) and the lock file
#   is installed with `pip install --no-deps -r` (locks are complete: no resolution, no fallback).
# - A marker file written after a completed install makes the warm path a few stat calls; a venv
#   without the marker (an interrupted install) is thrown away and rebuilt.
# - A changed lock file gives a new hash and so a new venv; older venvs of the same NAME are
#   removed once the new one is complete.
# - pip's cache lives under the same cache dir (PIP_CACHE_DIR), outside the clone, so a fresh
#   clone reuses downloaded and built wheels.
# - Concurrent calls for the same NAME are serialised with flock.
set -euo pipefail

# Everything chatty goes to stderr; fd 3 is the real stdout for the final path.
exec 3>&1 1>&2

die() { echo "venv.sh: $*" >&2; exit 2; }

[ $# -eq 2 ] || die "usage: scripts/venv.sh NAME LOCKFILE"
name=$1
lock=$2
[[ $name =~ ^[A-Za-z0-9_.]+$ ]] || die "NAME must match [A-Za-z0-9_.]+ (got '$name')"
[ -f "$lock" ] || die "lock file not found: $lock"

cache=${PRAKERJA_CACHE:-$HOME/.cache/prakerja}
hash=$(sha256sum "$lock" | cut -c1-12)
venv=$cache/venv-$name-$hash
marker=$venv/.prakerja-installed

warm() { [ -f "$marker" ] && [ -x "$venv/bin/python" ]; }

# Warm path: nothing to lock, nothing to run.
if warm; then
    echo "$venv" >&3
    exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.venv-$name.lock"
flock 9

if ! warm; then
    python=${PRAKERJA_PYTHON:-python3}
    "$python" -c '' 2>/dev/null || die "no working interpreter '$python'"
    if [ -e "$venv" ]; then
        echo "venv.sh: removing incomplete $venv" >&2
        rm -rf "$venv"
    fi
    echo "venv.sh: creating $venv ($("$python" --version 2>&1)) from $lock" >&2
    start=$SECONDS
    "$python" -m venv "$venv"
    export PIP_CACHE_DIR=$cache/pip
    export PIP_DISABLE_PIP_VERSION_CHECK=1
    if ! "$venv/bin/python" -m pip install --no-deps --no-input -r "$lock"; then
        rm -rf "$venv"
        die "pip install --no-deps -r $lock failed (the lock must be complete; regenerate it)"
    fi
    {
        echo "lock=$(cd "$(dirname "$lock")" && pwd)/$(basename "$lock")"
        echo "sha256=$(sha256sum "$lock" | cut -d' ' -f1)"
        echo "python=$("$venv/bin/python" -c 'import sys; print(sys.version.split()[0])')"
        echo "installed_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    } >"$marker.tmp"
    mv "$marker.tmp" "$marker"
    echo "venv.sh: $name ready in $((SECONDS - start)) s" >&2
fi

# Drop older venvs of this NAME (other hashes); only exact venv-NAME-<12 hex> directories.
for old in "$cache"/venv-"$name"-*; do
    [ -d "$old" ] || continue
    [ "$old" = "$venv" ] && continue
    [[ ${old##*/} =~ ^venv-${name//./\\.}-[0-9a-f]{12}$ ]] || continue
    echo "venv.sh: removing old $old" >&2
    rm -rf "$old"
done

echo "$venv" >&3
