#!/usr/bin/env bash
# Held-out scores of the shipped models beside the pytorch/examples reference models, with the loss they were
# trained on (`stylize-train score`). Each picture is stylized and scored at its own size, as a user sees it, with
# the style image at its own size, as training sees it (the style ratio depends on the scale: the reference's
# amber-candy.jpg scores 0.37 at 1080 px and 1.13 shrunk to 512). For each model:
#   - on amber.jpg (the reference's content image): the style ratio (style term of the output over the photo's;
#     lower is more style) and the content term, and both over the reference's (the target: within 1.1x for the
#     full nets, 1.3x for the lite nets);
#   - on the held-out set (scripts/heldout.sh: two clip frames and six pictures of people): the mean style ratio
#     (target below 0.6) and content term, and the people's alone.
#
#   [MULTI=onnx/styles4-lite.onnx] scripts/score_models.sh [STYLE ...]
# (default styles: candy mosaic rain-princess udnie; needs ../shared/data). MULTI adds a multi-style model, scored
# per style with --style-mix STYLE, as "NAME[STYLE]". MODELS="full lite lite-stable" picks the variants; DIR=d
# scores d/STYLE*.onnx instead of onnx/ (e.g. freshly trained models).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DATA=../shared/data
[[ -d $DATA ]] || { echo "error: ../shared/data is missing (style images, reference outputs, held-out photos and clips)" >&2; exit 1; }
STYLIZE=${STYLIZE:-./target/release/stylize} TRAIN=${TRAIN:-./target/release/stylize-train}
DIR=${DIR:-onnx} MODELS=${MODELS:-full lite lite-stable}
(($#)) || set -- candy mosaic rain-princess udnie
HELD=$(scripts/heldout.sh)
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
images=("$HELD"/general/amber.jpg "$HELD"/general/*.png "$HELD"/people/*)
people=$(cd "$HELD/people" && ls | sed 's/\..*//' | tr '\n' ' ')

# Per image of a stylization set: "name ratio content"; $1: style, then content/stylized pairs.
score() {
    local style=$1; shift
    "$TRAIN" score --style "$DATA/styles/$style.jpg" --vgg "$DATA/vgg16/vgg16_relu4_3.safetensors" \
        --content-weight 1.5 --style-weight 10 --size 0 "$@" | awk 'NR > 1 && $1 != "mean" { n = split($1, p, "/"); print p[n], $6, $3 }'
}
printf "%-24s %8s %8s %8s %8s %9s %9s %8s\n" model "amber" "amber" "ratio" "content" "held-out" "held-out" "people"
printf "%-24s %8s %8s %8s %8s %9s %9s %8s\n" "" "ratio" "content" "/ref" "/ref" "ratio" "content" "ratio"
for s in "$@"; do
    read -r ref_ratio ref_content < <(score "$s" --content "$DATA/content/amber.jpg" --stylized "$DATA/reference/amber-$s.jpg" | awk '{ print $2, $3 }')
    printf "%-24s %8.4f %8.4f\n" "reference[$s]" "$ref_ratio" "$ref_content"
    entries=()
    for v in $MODELS; do
        name=$s; [[ $v == full ]] || name=$s-$v
        entries+=("$name|$DIR/$name.onnx|")
    done
    [[ -n ${MULTI:-} ]] && entries+=("$(basename "${MULTI%.onnx}")[$s]|$MULTI|$s")
    for e in "${entries[@]}"; do
        IFS='|' read -r m path mix <<<"$e"
        [[ -f $path ]] || continue
        mix_args=(); [[ -z $mix ]] || mix_args=(--style-mix "$mix=1")
        args=()
        for f in "${images[@]}"; do
            out="$WORK/out-$(basename "${f%.*}").png"
            "$STYLIZE" image -q -m "$path" "${mix_args[@]}" "$f" -o "$out" >/dev/null
            args+=(--content "$f" --stylized "$out")
        done
        score "$s" "${args[@]}" | awk -v m="$m" -v rr="$ref_ratio" -v rc="$ref_content" -v people="$people" '
            BEGIN { k = split(people, p, " "); for (i = 1; i <= k; i++) is_person["out-" p[i] ".png"] = 1 }
            $1 == "out-amber.png" { ar = $2; ac = $3; next }
            { hr += $2; hc += $3; n++ }
            ($1 in is_person) { pr += $2; pn++ }
            END { printf "%-24s %8.4f %8.4f %8.2f %8.2f %9.4f %9.4f %8.4f\n", m, ar, ac, ar / rr, ac / rc, hr / n, hc / n, pr / pn }'
    done
done
