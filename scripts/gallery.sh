#!/usr/bin/env bash
# The README gallery: content photos (rows) x shipped styles (columns), each stylized by `stylize image`,
# tiled with ImageMagick's montage into docs/gallery.jpg.
#
#   scripts/gallery.sh [CONTENT_IMAGES...]    (default: a few of ../shared/data/content)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DATA=../shared/data/content
if (($#)); then CONTENT=("$@"); else CONTENT=("$DATA/amber.jpg" "$DATA/photos/kite.jpg" "$DATA/rocket.jpg"); fi
for c in "${CONTENT[@]}"; do [[ -f "$c" ]] || { echo "error: content image $c not found (pass your own)" >&2; exit 1; }; done
mapfile -t MODELS < <(ls onnx/*.onnx 2>/dev/null | grep -v -- '-lite\|random' || true)
((${#MODELS[@]})) || { echo "error: no models in onnx/" >&2; exit 1; }
[[ -x ./target/release/stylize ]] || cargo build -q --release --bin stylize
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
tiles=()
for c in "${CONTENT[@]}"; do
    name=$(basename "${c%.*}")
    convert "$c" -resize 384x384^ -gravity center -extent 384x384 "$WORK/$name.png"
    tiles+=("$WORK/$name.png")
    for m in "${MODELS[@]}"; do
        style=$(basename "${m%.onnx}")
        ./target/release/stylize image -q -m "$m" "$WORK/$name.png" -o "$WORK/$name-$style.png" >/dev/null
        tiles+=("$WORK/$name-$style.png")
    done
done
mkdir -p docs
montage "${tiles[@]}" -tile "$((${#MODELS[@]} + 1))x" -geometry 256x256+2+2 -background white docs/gallery.jpg
echo "wrote docs/gallery.jpg: ${#CONTENT[@]} photos x (original + ${MODELS[*]})"
