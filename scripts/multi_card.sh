#!/usr/bin/env bash
# Exports a multi-style training run to onnx/NAME.onnx and writes its model card onnx/NAME.md with pictures in
# onnx/cards/: per style the style image | amber.jpg in that style | the pytorch/examples reference; blend strips
# (0 to 1 between two styles, mixed inside the network); the loss curve; held-out losses per style next to the
# single-style models (scripts/score_models.sh).
#
#   scripts/multi_card.sh NAME RUN_DIR "MACHINE DESCRIPTION" ["extra notes"]
# Needs ../shared/data, ImageMagick, ffmpeg and built stylize / stylize-train (STYLIZE=..., TRAIN=... pick them).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
NAME=${1:?usage: scripts/multi_card.sh NAME RUN_DIR MACHINE [NOTES]}
RUN=${2:?run directory}
MACHINE=${3:?machine description}
NOTES=${4:-}
DATA=../shared/data
# As model_card.sh: a run trained elsewhere (a lent GPU) may come back as its exported RUN_DIR.onnx without the checkpoint.
[[ -f "$RUN/checkpoint.safetensors" || -f "$RUN.onnx" ]] || { echo "error: no checkpoint in $RUN and no $RUN.onnx" >&2; exit 1; }
[[ -d "$DATA" ]] || { echo "error: ../shared/data is missing (style and reference images)" >&2; exit 1; }
STYLIZE=${STYLIZE:-./target/release/stylize} TRAIN=${TRAIN:-./target/release/stylize-train}
export STYLIZE TRAIN
[[ -x "$STYLIZE" ]] || cargo build -q --release --bin stylize
[[ -x "$TRAIN" ]] || cargo build -q --release -p stylize-train
if [[ -f "$RUN/checkpoint.safetensors" ]]; then "$TRAIN" export "$RUN" -o "onnx/$NAME.onnx" >&2; else cp "$RUN.onnx" "onnx/$NAME.onnx"; fi
MODEL=onnx/$NAME.onnx

CARDS=onnx/cards; mkdir -p "$CARDS"
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
meta() { "$STYLIZE" info -q -m "$MODEL" | sed -n "s/^  stylize\.$1 = //p"; }
IFS=, read -r -a STYLES <<<"$(meta styles)"
((${#STYLES[@]} > 1)) || { echo "error: $MODEL is not a multi-style model" >&2; exit 1; }

# One row per style: style image | amber.jpg in that style | reference.
rows=()
for s in "${STYLES[@]}"; do
    "$STYLIZE" image -q -m "$MODEL" --style-mix "$s=1" "$DATA/content/amber.jpg" -o "$WORK/$s.png" >/dev/null
    ref="$DATA/reference/amber-$s.jpg"; [[ -f $ref ]] || ref=xc:white
    rows+=("$DATA/styles/$s.jpg" "$WORK/$s.png" "$ref")
done
montage "${rows[@]}" -tile 3x -geometry 300x300+2+2 -background white -quality 85 "$CARDS/$NAME-styles.jpg"

# Blend strips: the mix goes from one style to the other in five steps.
strip() {
    local a=$1 b=$2 out=$3 panels=()
    for w in 0 0.25 0.5 0.75 1; do
        "$STYLIZE" image -q -m "$MODEL" --style-mix "$a=$(awk -v w="$w" 'BEGIN { print 1 - w }'),$b=$w" \
            "$DATA/content/amber.jpg" -o "$WORK/blend-$w.png" >/dev/null
        panels+=(-label "$a $(awk -v w="$w" 'BEGIN { printf "%.0f", 100 * (1 - w) }')% / $b $(awk -v w="$w" 'BEGIN { printf "%.0f", 100 * w }')%" "$WORK/blend-$w.png")
    done
    montage "${panels[@]}" -tile 5x1 -geometry 240x240+2+2 -font DejaVu-Sans -pointsize 14 -background white -quality 85 "$out"
}
n=${#STYLES[@]}
strip "${STYLES[0]}" "${STYLES[1]}" "$CARDS/$NAME-blend1.jpg"
strip "${STYLES[n-2]}" "${STYLES[n-1]}" "$CARDS/$NAME-blend2.jpg"
convert "$RUN/loss.png" -resize 640x "$CARDS/$NAME-loss.png"

last=$(tail -n 100 "$RUN/metrics.csv" | awk -F, '{ n++; t += $3; c += $4; s += $5; v += $6; it = $1; el = $2 }
    END { printf "%d,%.1f,%.4f,%.4f,%.4f,%.5f", it, el, t / n, c / n, s / n, v / n }')
IFS=, read -r iters elapsed total content style tv <<<"$last"
scores=$(MULTI=$MODEL scripts/score_models.sh "${STYLES[@]}" | awk 'NR == 1 { print "| model | content | style | style / full net | content / full net |"; print "|---|---|---|---|---|"; next }
    { printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }')
cmd=$(cat "$RUN/../$NAME.cmd" 2>/dev/null || echo "stylize-train train ... (see $RUN/config.txt)")
cat > "onnx/$NAME.md" <<EOF
# $NAME

One network for ${n} styles: $(meta styles | sed 's/,/, /g'). Every instance norm has a scale and shift per style (conditional instance norm, Dumoulin et al. 2017, "A learned representation for artistic style"); the model's second input \`style_weights\` (float32, ${n} values summing to 1) mixes them inside the graph, so any blend of the styles costs what one style costs. Spec \`$(meta spec)\`. $NOTES

Use it with \`--style-mix\` (image, video, live): \`stylize image -m $NAME --style-mix $(meta styles | cut -d, -f1)=0.7,$(meta styles | cut -d, -f2)=0.3 in.jpg\`; without it all styles count evenly. In \`stylize live\`, \`]\` and \`[\` glide to the next / previous style and \`M\` morphs through them.

**style image | amber.jpg in that style (this model) | pytorch/examples reference model for that style**:

![styles](cards/$NAME-styles.jpg)

**Blend strips**, amber.jpg with the mix going from one style to another:

![blend](cards/$NAME-blend1.jpg)

![blend](cards/$NAME-blend2.jpg)

| | |
|---|---|
| iterations | $iters (batch $(meta batch)), the styles in turn (each saw a quarter of them) |
| started from | $(meta init | sed 's/,/, /g') (convolutions from the first, each style's norm rows from its own model) |
| content size | $(meta content_size) px random crops of $(meta content_images) content images (see the command below) |
| wall time | $(awk -v s="$elapsed" 'BEGIN { printf "%.0f min", s / 60 }') on $MACHINE |
| final losses (mean of the last 100 iterations, all styles) | total $total, content $content, style $style, tv $tv (scale-free terms, see training/README.md) |
| loss weights | $(meta loss_weights) |
| exported | $(meta date) |

Held-out losses (amber.jpg and a frame of each shared clip, 512 px; \`MULTI=$MODEL scripts/score_models.sh\`), next to the single-style models of the same styles:

$scores

Training command:

\`\`\`sh
$cmd
\`\`\`

![loss curve](cards/$NAME-loss.png)
EOF
STYLIZE="$STYLIZE" scripts/card_people.sh "$NAME" >/dev/null
echo "wrote $MODEL and onnx/$NAME.md"
