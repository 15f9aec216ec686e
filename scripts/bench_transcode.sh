#!/usr/bin/env bash
# How much of the engine's speed survives a full transcode: `stylize video` fps (decode + stylize + encode on
# their own threads) against the bare engine loop (`stylize bench --input`) on the same decoded frames, for
# random-weight full and half Johnson nets at 640x360 and 1280x720. Prints a table; ratio 1.0 means the
# decode and encode stages are completely hidden behind inference.
#
#   scripts/bench_transcode.sh [FRAMES]      (default 24 frames per clip; needs scripts/setup.sh first)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FRAMES=${1:-24}
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
cargo build -q --release --bin stylize
cargo build -q --release -p stylize-model --example random_model
BIN=./target/release/stylize
for arch in full half; do ./target/release/examples/random_model "$arch" 1 "$WORK/$arch.onnx" >/dev/null; done

printf '%-5s %-10s %12s %12s %8s\n' net size "engine fps" "video fps" ratio
for size in 640x360 1280x720; do
    clip="$WORK/clip-$size.mp4"
    ffmpeg -v error -y -f lavfi -i "testsrc2=size=$size:rate=25" -frames:v "$FRAMES" -c:v libx264 -pix_fmt yuv420p "$clip"
    for arch in full half; do
        engine=$($BIN bench -q -m "$WORK/$arch.onnx" --input "$clip" --frames "$FRAMES" --json | sed 's/.*"mean_ms":\([0-9.]*\).*/\1/')
        video=$($BIN video -q -m "$WORK/$arch.onnx" "$clip" -o "$WORK/out.mp4" | sed 's/.* \([0-9.]*\) fps.*/\1/')
        awk -v a="$arch" -v s="$size" -v e="$engine" -v v="$video" 'BEGIN { ef = 1000 / e; printf "%-5s %-10s %12.2f %12.2f %8.2f\n", a, s, ef, v, v / ef }'
    done
done
echo "($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $FRAMES frames per clip, engine after 2 warm-up frames)"
