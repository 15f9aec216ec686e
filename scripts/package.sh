#!/usr/bin/env bash
# Builds the distributable packages from one staged tree (the layout scripts/install.sh makes):
#   dist/stylize_VERSION_amd64.deb          Debian package (dpkg-deb): /usr/bin/stylize, ONNX Runtime in
#                                           /usr/lib/stylize, models, demo clip, man pages, completions;
#                                           the FFmpeg libraries are dependencies, computed from the binary
#   dist/stylize-VERSION-x86_64-linux.tar.gz   the same tree (bin/ lib/ share/) for other distributions
#
#   scripts/package.sh [--bin PATH] [--out DIR] [--fast] [--lint]
# --bin packages a binary built elsewhere (default: cargo build --release); --fast compresses lightly
# (for tests); --lint runs lintian on the .deb (installs it when missing). What lintian still says, and why
# it stays: embedded-library (ONNX Runtime as its upstream wheel ships it, with curl and mbedtls inside;
# Debian has no onnxruntime 1.31 to depend on), bogus-mail-host (the project has no mail domain yet).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
BIN="" OUT="$ROOT/dist" FAST=0 LINT=0
while (($#)); do
    case "$1" in
        --bin) BIN=${2:?}; shift ;;
        --out) OUT=${2:?}; shift ;;
        --fast) FAST=1 ;;
        --lint) LINT=1 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "package: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
die() { echo "package: $*" >&2; exit 1; }
for tool in dpkg-deb dpkg-query readelf strip; do command -v $tool >/dev/null || die "$tool is missing (apt-get install dpkg binutils)"; done
if [[ -z "$BIN" ]]; then
    cargo build --release --bin stylize
    BIN="$ROOT/target/release/stylize"
fi
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
ARCH=$(dpkg --print-architecture)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT

# 1. The tree, as an install into /usr would make it (no manifest: dpkg keeps its own list). The binary is
#    staged from a folder of its own, so no trainer comes along (it needs libtorch: it is not packaged).
STAGE="$WORK/deb"
bin_dir="$WORK/bin"; mkdir -p "$bin_dir"
cp "$BIN" "$bin_dir/stylize"
strip --strip-unneeded "$bin_dir/stylize"
# The GStreamer element comes along when it was built beside the binary (install.sh puts it in GStreamer's folder).
[[ -f "$(dirname "$BIN")/libgststylize.so" ]] && cp "$(dirname "$BIN")/libgststylize.so" "$bin_dir/"
bash scripts/install.sh --prefix "$STAGE/usr" --bin "$bin_dir/stylize" --no-manifest 2>"$WORK/install.log" || die "staging failed: $(cat "$WORK/install.log")"
find "$STAGE/usr/lib/stylize" -type f -name '*.so*' -exec chmod 0644 {} + # libraries are loaded, not run
DOC="$STAGE/usr/share/doc/stylize"
mkdir -p "$DOC"
cat >"$DOC/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: stylize

Files: *
Copyright: 2026 stylize developers
License: MIT

Files: usr/lib/stylize/*
Copyright: 2018-2026 Microsoft Corporation
License: MIT
Comment: ONNX Runtime $(ls "$STAGE/usr/lib/stylize" | sed -n 's/libonnxruntime.so.//p'), from its PyPI wheel

Files: usr/lib/stylize/openvino/*
Copyright: 2018-2026 Intel Corporation
License: Apache-2.0
Comment: OpenVINO 2026.4.1 (with oneTBB), from its PyPI wheel; loaded only for --device openvino

Files: usr/share/stylize/bigbuckbunny.mp4
Copyright: 2008 Blender Foundation
License: CC-BY-3.0
EOF
printf 'stylize (%s) unstable; urgency=medium\n\n  * Package built by scripts/package.sh.\n\n -- stylize developers <stylize@localhost>  %s\n' \
    "$VERSION" "$(date -R)" | gzip -9n >"$DOC/changelog.gz"

# 2. Dependencies: the package that owns each library the binary links (FFmpeg, libc, ...), at least the
#    version installed here. ONNX Runtime is loaded at run time from /usr/lib/stylize, so it is not one.
deps=()
for lib in $(readelf -d "$bin_dir/stylize" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p'); do
    # (awk reads to the end: an early exit would kill ldconfig with SIGPIPE, which pipefail reports)
    path=$(ldconfig -p | awk -v l="$lib" '$1 == l && /x86-64/ && !found { print $NF; found = 1 }')
    [[ -n "$path" ]] || die "cannot find $lib, which the binary needs"
    pkg=$(dpkg-query -S "$(readlink -f "$path")" 2>/dev/null | sed -n '1s/:.*//p') || true
    [[ -n "$pkg" ]] || pkg=$(dpkg-query -S "$path" 2>/dev/null | sed -n '1s/:.*//p') || true
    [[ -n "$pkg" ]] || die "no Debian package owns $path"
    ver=$(dpkg-query -W -f='${Version}' "$pkg" | sed 's/-[^-]*$//')
    deps+=("$pkg (>= $ver)")
done
depends=$(printf '%s\n' "${deps[@]}" | sort -u | paste -sd, | sed 's/,/, /g')

# The GStreamer element loads only where GStreamer is, with its video library.
recommends=""
[[ -f "$bin_dir/libgststylize.so" ]] && recommends=$'\nRecommends: libgstreamer-plugins-base1.0-0'

# 3. The .deb.
mkdir -p "$STAGE/DEBIAN"
cat >"$STAGE/DEBIAN/control" <<EOF
Package: stylize
Version: $VERSION
Architecture: $ARCH
Maintainer: stylize developers <stylize@localhost>
Installed-Size: $(du -sk "$STAGE/usr" | cut -f1)
Depends: $depends$recommends
Section: video
Priority: optional
Homepage: https://localhost/stylize
Description: real-time video stylizer (fast neural style transfer)
 Paints images, video files and live webcams in the style of an artwork with
 Johnson-style feed-forward networks on ONNX Runtime; ships eight trained
 styles, their lite versions for real time on a CPU, and a demo clip.
EOF
DEB="$OUT/stylize_${VERSION}_${ARCH}.deb"
compress=(-Zxz)
((FAST)) && compress=(-Zgzip -z1)
dpkg-deb --root-owner-group "${compress[@]}" --build "$STAGE" "$DEB" >/dev/null
echo "package: $DEB ($(du -h "$DEB" | cut -f1))"

# 4. The archive: the same tree under stylize-VERSION/.
TARDIR="$WORK/stylize-$VERSION"
cp -a "$STAGE/usr" "$TARDIR"
TAR="$OUT/stylize-$VERSION-x86_64-linux.tar.gz"
level=9; ((FAST)) && level=1
tar -C "$WORK" --owner=0 --group=0 -cf - "stylize-$VERSION" | gzip -"$level" >"$TAR"
echo "package: $TAR ($(du -h "$TAR" | cut -f1))"

if ((LINT)); then
    command -v lintian >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lintian >/dev/null; }
    lintian --no-tag-display-limit "$DEB" || true
fi
