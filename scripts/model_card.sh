#!/usr/bin/env bash
# Exports a training run to onnx/NAME.onnx and writes its model card onnx/NAME.md with pictures in
# onnx/cards/: the style image, amber.jpg | our output | the pytorch/examples reference output, the loss curve, held-out
# people (scripts/card_people.sh) and the scores against the reference model (scripts/card_reference.sh).
#
#   scripts/model_card.sh NAME RUN_DIR "MACHINE DESCRIPTION" ["extra notes"]
# (STYLIZE=... TRAIN=... pick the binaries; default target/release/, built when missing)
# Needs ../shared/data (style and reference images), ImageMagick, and built stylize / stylize-train.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
NAME=${1:?usage: scripts/model_card.sh NAME RUN_DIR MACHINE [NOTES]}
RUN=${2:?run directory}
MACHINE=${3:?machine description}
NOTES=${4:-}
DATA=../shared/data
# A run trained elsewhere (e.g. on a lent GPU) may come back as its exported RUN_DIR.onnx without the checkpoint.
[[ -f "$RUN/checkpoint.safetensors" || -f "$RUN.onnx" ]] || { echo "error: no checkpoint in $RUN and no $RUN.onnx" >&2; exit 1; }
[[ -d "$DATA" ]] || { echo "error: ../shared/data is missing (style and reference images)" >&2; exit 1; }

STYLIZE=${STYLIZE:-./target/release/stylize}
TRAIN=${TRAIN:-./target/release/stylize-train}
[[ -x "$STYLIZE" ]] || cargo build -q --release --bin stylize
[[ -x "$TRAIN" ]] || cargo build -q --release -p stylize-train
if [[ -f "$RUN/checkpoint.safetensors" ]]; then "$TRAIN" export "$RUN" -o "onnx/$NAME.onnx" >&2; else cp "$RUN.onnx" "onnx/$NAME.onnx"; fi

CARDS=onnx/cards; mkdir -p "$CARDS"
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
meta() { "$STYLIZE" info -q -m "onnx/$NAME.onnx" | sed -n "s/^  stylize\.$1 = //p"; }
STYLE=$(meta style_image)
[[ -f "$STYLE" ]] || STYLE="$DATA/styles/$(basename "$STYLE")"
convert "$STYLE" -resize 256x256 -quality 85 "$CARDS/$NAME-style.jpg"
"$STYLIZE" image -q -m "onnx/$NAME.onnx" "$DATA/content/amber.jpg" -o "$WORK/ours.png" >/dev/null
ref="$DATA/reference/amber-$(basename "${STYLE%.*}").jpg"
panels=("$DATA/content/amber.jpg" "$WORK/ours.png")
[[ -f "$ref" ]] && panels+=("$ref")
montage "${panels[@]}" -tile "${#panels[@]}x1" -geometry 360x360+2+2 -background white -quality 85 "$CARDS/$NAME-amber.jpg"
[[ -f "$RUN/loss.png" ]] && convert "$RUN/loss.png" -resize 640x "$CARDS/$NAME-loss.png"

# The losses of one batch are noisy: report the mean of the last 100 iterations.
last=$(tail -n 100 "$RUN/metrics.csv" | awk -F, '{ n++; t += $3; c += $4; s += $5; v += $6; it = $1; el = $2 }
    END { printf "%d,%.1f,%.4f,%.4f,%.4f,%.5f", it, el, t / n, c / n, s / n, v / n }')
IFS=, read -r iters elapsed total content style tv <<<"$last"
cmd=$(cat "$RUN/../$NAME.cmd" 2>/dev/null || echo "stylize-train train ... (see $RUN/config.txt)")
cat > "onnx/$NAME.md" <<EOF
# $NAME

A Johnson feed-forward network in the style of \`$(basename "$STYLE")\`, trained with \`stylize-train\` ($(meta arch), spec \`$(meta spec)\`). $NOTES

![style image]($(basename "$CARDS")/$NAME-style.jpg)

**amber.jpg | this model | pytorch/examples reference model** (the reference was trained on COCO at 256 px for 2 epochs, ~40k iterations):

![samples]($(basename "$CARDS")/$NAME-amber.jpg)

| | |
|---|---|
| iterations | $iters (batch $(meta batch)) |
| content size | $(meta content_size) px random crops of $(meta content_images) content images (see the command below) |
| wall time | $(awk -v s="$elapsed" 'BEGIN { printf "%.0f min", s / 60 }') on $MACHINE |
| final losses (mean of the last 100 iterations) | total $total, content $content, style $style, tv $tv (scale-free terms, see training/README.md) |
| loss weights | $(meta loss_weights) |
| exported | $(meta date) |

Training command:

\`\`\`sh
$cmd
\`\`\`

![loss curve]($(basename "$CARDS")/$NAME-loss.png)
EOF
STYLIZE="$STYLIZE" scripts/card_people.sh "$NAME" >/dev/null
STYLIZE="$STYLIZE" TRAIN="$TRAIN" scripts/card_reference.sh "$NAME" >/dev/null
echo "wrote onnx/$NAME.onnx and onnx/$NAME.md"
