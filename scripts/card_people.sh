#!/usr/bin/env bash
# The held-out people picture of a model card: astronaut.png and grace_hopper.jpg (scripts/heldout.sh: never in
# any training set) beside the model's output, as onnx/cards/NAME-people.jpg, and a "Held-out people" line in
# onnx/NAME.md after the amber samples (once). scripts/model_card.sh calls it for each card it writes.
#
#   scripts/card_people.sh [NAME ...]     # default: every model with a card in onnx/
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STYLIZE=${STYLIZE:-./target/release/stylize}
[[ -x "$STYLIZE" ]] || cargo build -q --release --bin stylize
HELD=$(scripts/heldout.sh)
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
if (($# == 0)); then for c in onnx/*.md; do [[ $c == onnx/README.md ]] || set -- "$@" "$(basename "${c%.md}")"; done; fi
for name in "$@"; do
    model=onnx/$name.onnx card=onnx/$name.md
    [[ -f $model && -f $card ]] || { echo "error: $name has no model and card in onnx/" >&2; exit 1; }
    panels=()
    for f in "$HELD"/people/astronaut.png "$HELD"/people/grace_hopper.jpg; do
        out="$WORK/$(basename "${f%.*}").png"
        "$STYLIZE" image -q -m "$model" "$f" -o "$out" >/dev/null
        panels+=("$f" "$out")
    done
    montage "${panels[@]}" -tile 4x1 -geometry 256x256+2+2 -background white -quality 85 "onnx/cards/$name-people.jpg"
    if ! grep -q "cards/$name-people.jpg" "$card"; then
        line="**Held-out people** (never in training; scripts/heldout.sh): photo | this model, twice:"
        awk -v line="$line" -v img="![people](cards/$name-people.jpg)" \
            '{ print } /^!\[(samples|styles)\]\(cards\/.*-(amber|styles)\.jpg\)/ && !done { print ""; print line; print ""; print img; done = 1 }' \
            "$card" > "$WORK/card" && cat "$WORK/card" > "$card"
    fi
    echo "$name: onnx/cards/$name-people.jpg"
done
