#!/usr/bin/env bash
# Held-out comparison of shipped models with the loss they were trained on: each model stylizes images that no
# training run saw (amber.jpg and one frame of each shared clip), and `stylize-train score` gives the mean content
# and style terms at a 512-pixel long side. The lite models' style term should stay within 1.5x of the full net's.
#
#   [MULTI=onnx/styles4-lite.onnx] scripts/score_models.sh [STYLE ...]
# (default styles: candy mosaic rain-princess udnie; needs ../shared/data). MULTI adds a multi-style model, scored
# per style with --style-mix STYLE, as "NAME[STYLE]".
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DATA=../shared/data
[[ -d $DATA ]] || { echo "error: ../shared/data is missing (style images, held-out photos and clips)" >&2; exit 1; }
STYLIZE=${STYLIZE:-./target/release/stylize} TRAIN=${TRAIN:-./target/release/stylize-train}
(($#)) || set -- candy mosaic rain-princess udnie
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
cp "$DATA/content/amber.jpg" "$WORK/amber.jpg"
ffmpeg -v error -y -ss 3 -i "$DATA/video/bikes.mp4" -frames:v 1 "$WORK/bikes.png"
ffmpeg -v error -y -ss 4 -i "$DATA/video/bigbuckbunny.mp4" -frames:v 1 "$WORK/bbb.png"
printf "%-22s %9s %9s %10s %10s\n" model content style "style/full" "content/full"
for s in "$@"; do
    full_style= full_content=
    entries=("$s|onnx/$s.onnx|" "$s-lite|onnx/$s-lite.onnx|")
    [[ -n ${MULTI:-} ]] && entries+=("$(basename "${MULTI%.onnx}")[$s]|$MULTI|$s")
    for e in "${entries[@]}"; do
        IFS='|' read -r m path mix <<<"$e"
        [[ -f $path ]] || continue
        mix_args=(); [[ -z $mix ]] || mix_args=(--style-mix "$mix=1")
        args=()
        for f in "$WORK"/amber.jpg "$WORK"/bikes.png "$WORK"/bbb.png; do
            out="$WORK/out-${m//[\[\]]/_}-$(basename "${f%.*}").png"
            "$STYLIZE" image -q -m "$path" "${mix_args[@]}" "$f" -o "$out" >/dev/null
            args+=(--content "$f" --stylized "$out")
        done
        read -r content style < <("$TRAIN" score --style "$DATA/styles/$s.jpg" --vgg "$DATA/vgg16/vgg16_relu4_3.safetensors" \
            --content-weight 1.5 --style-weight 10 --size 512 "${args[@]}" | awk '$1 == "mean" { print $3, $4 }')
        [[ -n $full_style ]] || { full_style=$style; full_content=$content; }
        awk -v m="$m" -v c="$content" -v s="$style" -v fc="$full_content" -v fs="$full_style" \
            'BEGIN { printf "%-22s %9.4f %9.4f %10.2f %10.2f\n", m, c, s, s / fs, c / fc }'
    done
done
