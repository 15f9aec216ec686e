#!/usr/bin/env bash
# Trains several styles (and architectures) at once, one trainer process each, then exports each run to ONNX.
# On a GPU the processes share the card (a batch-4 256x256 step leaves most of an H100/H200 idle); on a CPU run
# one at a time instead (ARCHS=full and one style).
#
#   [TRAIN=stylize-train] [VGG=...safetensors] [CONTENT="dir ..."] [DEVICE=cuda] [MINUTES=6] [ARCHS="full lite"] \
#   [EXTRA="--content-weight 1.5"] scripts/train_styles.sh RUNS_DIR STYLE.jpg ...
#
# Each run trains until MINUTES (or ITERS) and leaves RUNS_DIR/<style>[-lite]/ (checkpoint, metrics.csv, samples/,
# loss.png, train.log) and RUNS_DIR/<style>[-lite].onnx. Continue a run by calling again with the same RUNS_DIR.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RUNS=${1:?usage: scripts/train_styles.sh RUNS_DIR STYLE.jpg ...}; shift
[[ $# -gt 0 ]] || { echo "error: name at least one style image" >&2; exit 2; }
TRAIN=${TRAIN:-$ROOT/target/release/stylize-train}
VGG=${VGG:-$ROOT/../shared/data/vgg16/vgg16_relu4_3.safetensors}
CONTENT=${CONTENT:-$ROOT/../shared/data/content/photos}
DEVICE=${DEVICE:-cuda} MINUTES=${MINUTES:-6} ARCHS=${ARCHS:-full lite} ITERS=${ITERS:-40000}
EXTRA=${EXTRA:---content-weight 1.5 --style-weight 10}
mkdir -p "$RUNS"
content_args=(); for c in $CONTENT; do content_args+=(--content-dir "$c"); done

pids=() names=()
for style in "$@"; do
    base=$(basename "${style%.*}")
    for arch in $ARCHS; do
        name=$base; [[ $arch == full ]] || name=$base-$arch
        mkdir -p "$RUNS/$name"
        # shellcheck disable=SC2086
        "$TRAIN" train --style "$style" "${content_args[@]}" --vgg "$VGG" -o "$RUNS/$name" --arch "$arch" \
            --size 256 --batch 4 --iters "$ITERS" --time-limit "$MINUTES" --checkpoint-every 1000 --log-every 200 \
            --workers 3 --threads 2 --device "$DEVICE" --resume $EXTRA > "$RUNS/$name/train.log" 2>&1 &
        pids+=($!) names+=("$name")
    done
done
status=0
for i in "${!pids[@]}"; do
    if wait "${pids[$i]}"; then
        "$TRAIN" export "$RUNS/${names[$i]}" -o "$RUNS/${names[$i]}.onnx" 2>&1 | tail -1
        tail -1 "$RUNS/${names[$i]}/train.log"
    else
        echo "error: ${names[$i]} failed:" >&2; tail -3 "$RUNS/${names[$i]}/train.log" >&2; status=1
    fi
done
exit $status
