#!/usr/bin/env bash
# Temporal stability against style: for a plain model and models trained like it with the stability term
# (--stability-weight), prints each one's flicker on a clip (`stylize flicker`) and its held-out content and
# style terms (amber.jpg plus a frame of each shared clip, 512 px, `stylize-train score`), with the ratios to
# the plain model. Issue goal: flicker <= 0.6x the plain model's at a style term <= 1.2x.
#
#   [CLIP=../shared/data/video/bikes.mp4] [FRAMES=60] scripts/compare_stability.sh STYLE PLAIN.onnx STABLE.onnx ...
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STYLE=${1:?usage: scripts/compare_stability.sh STYLE PLAIN.onnx STABLE.onnx ...}; shift
(($# >= 2)) || { echo "error: give the plain model and at least one stable model" >&2; exit 2; }
DATA=../shared/data
[[ -d $DATA ]] || { echo "error: ../shared/data is missing (clips, style images, VGG16)" >&2; exit 1; }
CLIP=${CLIP:-$DATA/video/bikes.mp4} FRAMES=${FRAMES:-60}
STYLIZE=${STYLIZE:-./target/release/stylize} TRAIN=${TRAIN:-./target/release/stylize-train}
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
cp "$DATA/content/amber.jpg" "$WORK/amber.jpg"
ffmpeg -v error -y -ss 3 -i "$DATA/video/bikes.mp4" -frames:v 1 "$WORK/bikes.png"
ffmpeg -v error -y -ss 4 -i "$DATA/video/bigbuckbunny.mp4" -frames:v 1 "$WORK/bbb.png"
printf "%-40s %8s %8s %9s %9s %9s %9s\n" model flicker ratio content style "flick/0" "style/0"
base_flicker= base_style=
for m in "$@"; do
    flicker=$("$STYLIZE" flicker -q -m "$m" "$CLIP" --frames "$FRAMES" | sed -n 's/^flicker: \([0-9.]*\) .*ratio \([0-9.]*\)).*/\1 \2/p')
    args=()
    for f in "$WORK"/amber.jpg "$WORK"/bikes.png "$WORK"/bbb.png; do
        out="$WORK/out-$(basename "${f%.*}").png"
        "$STYLIZE" image -q -m "$m" "$f" -o "$out" >/dev/null
        args+=(--content "$f" --stylized "$out")
    done
    read -r content style < <("$TRAIN" score --style "$DATA/styles/$STYLE.jpg" --vgg "$DATA/vgg16/vgg16_relu4_3.safetensors" \
        --content-weight 1.5 --style-weight 10 --size 512 "${args[@]}" | awk '$1 == "mean" { print $3, $4 }')
    read -r f ratio <<<"$flicker"
    [[ -n $base_flicker ]] || { base_flicker=$f; base_style=$style; }
    awk -v m="$m" -v f="$f" -v r="$ratio" -v c="$content" -v s="$style" -v bf="$base_flicker" -v bs="$base_style" \
        'BEGIN { printf "%-40s %8.2f %8.1f %9.4f %9.4f %9.2f %9.2f\n", m, f, r, c, s, f / bf, s / bs }'
done
