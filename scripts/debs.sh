#!/usr/bin/env bash
# Debian packages as .deb files in a cache, without installing them: the ones not cached yet come with one
# `apt-get download` into ${XDG_CACHE_HOME:-~/.cache}/stylize/debs. Prints "PACKAGE PATH" per package, in order.
# Used by scripts/content_data.sh, scripts/heldout.sh and scripts/bench_temporal.sh to take files out of them.
#
#   scripts/debs.sh PACKAGE...
set -euo pipefail
DEBS="${XDG_CACHE_HOME:-$HOME/.cache}/stylize/debs"
deb_of() { find "$DEBS" -maxdepth 1 -name "${1}_*.deb" 2>/dev/null | sort -V | tail -n 1; }
missing=()
for pkg in "$@"; do [[ -n "$(deb_of "$pkg")" ]] || missing+=("$pkg"); done
if ((${#missing[@]})); then
    WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
    mkdir -p "$DEBS" "$WORK/dl"
    echo "debs: downloading ${missing[*]}" >&2
    if ! (cd "$WORK/dl" && apt-get download -q "${missing[@]}") >"$WORK/apt.log" 2>&1; then
        why=$(grep -m1 '^E:' "$WORK/apt.log" | sed 's/^E: //' || true)
        echo "error: apt-get download ${missing[*]} failed (${why:-see the output of apt-get}); no network, or no package lists (run apt-get update)?" >&2
        exit 1
    fi
    mv "$WORK"/dl/*.deb "$DEBS/"
fi
for pkg in "$@"; do echo "$pkg $(deb_of "$pkg")"; done
