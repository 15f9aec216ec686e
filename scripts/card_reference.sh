#!/usr/bin/env bash
# The "Against the reference" line of a model card: scripts/score_models.sh's row for the model (style ratio and
# content term on amber.jpg beside the pytorch/examples reference model's, the held-out style ratio, the people's
# alone), written into onnx/NAME.md after the held-out people picture, replacing the line a card has. For
# single-style models whose style the reference models have (candy, mosaic, rain-princess, udnie), named STYLE,
# STYLE-lite, STYLE-lite-stable, ...; scripts/model_card.sh calls it for each card it writes.
#
#   scripts/card_reference.sh NAME ...
# (STYLIZE=... TRAIN=... pick the binaries; needs ../shared/data and scripts/heldout.sh's pictures.)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DATA=../shared/data
(($#)) || { echo "usage: scripts/card_reference.sh NAME ..." >&2; exit 2; }
STYLIZE=${STYLIZE:-./target/release/stylize} TRAIN=${TRAIN:-./target/release/stylize-train}
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
for name in "$@"; do
    card=onnx/$name.md
    [[ -f onnx/$name.onnx && -f $card ]] || { echo "error: $name has no model and card in onnx/" >&2; exit 1; }
    style=$("$STYLIZE" info -q -m "onnx/$name.onnx" | sed -n 's/^  stylize\.style_image = //p')
    style=$(basename "${style%.*}")
    variant=full
    [[ $name == "$style" ]] || variant=${name#"$style"-}
    if [[ ! -f $DATA/reference/amber-$style.jpg || ( $name != "$style" && $name != "$style"-* ) ]]; then
        echo "$name: no reference model for its style ($style); card unchanged"
        continue
    fi
    rows=$(MODELS=$variant STYLIZE="$STYLIZE" TRAIN="$TRAIN" scripts/score_models.sh "$style")
    read -r _ ref_ratio ref_content < <(grep '^reference\[' <<<"$rows")
    read -r _ ratio content _ _ held _ people < <(awk -v m="$name" '$1 == m' <<<"$rows")
    [[ -n ${people:-} ]] || { echo "error: scripts/score_models.sh gave no row for $name" >&2; exit 1; }
    line=$(printf 'Against the reference (%s, `scripts/score_models.sh`, each picture at its own size): on amber.jpg a style ratio of %.3f (reference %.3f; lower is more style) and a content term of %.2f (reference %.2f); held-out style ratio %.3f (two clip frames and six pictures of people), %.3f on the people alone.' \
        "$(date +%F)" "$ratio" "$ref_ratio" "$content" "$ref_content" "$held" "$people")
    # Drop the line a card has (and the blank line before it), then add it after the people picture.
    awk -v line="$line" -v img="![people](cards/$name-people.jpg)" '
        { l[NR] = $0 }
        END {
            for (i = 1; i <= NR; i++) if (l[i] ~ /^Against the reference \(/) { drop[i] = 1; if (i > 1 && l[i - 1] == "") drop[i - 1] = 1 }
            for (i = 1; i <= NR; i++) { if (i in drop) continue; print l[i]; if (l[i] == img) { print ""; print line } }
        }' "$card" > "$WORK/card"
    grep -qF "$line" "$WORK/card" || { echo "error: $card has no held-out people picture (run scripts/card_people.sh $name first)" >&2; exit 1; }
    cat "$WORK/card" > "$card"
    echo "$name: $line"
done
