#!/usr/bin/env bash
# ONNX Runtime against OpenVINO on this CPU, interleaved so that a busy machine slows every contender alike:
# each round runs, per model and size, `stylize bench` on ONNX Runtime, on OpenVINO at its default precision and
# at fp32, python OpenVINO's inference (f32 and its default precision, from scripts/bench_baselines.py), and
# `stylize video` on both backends. Prints every round's fps and the medians.
#
#   scripts/bench_openvino.sh [ROUNDS=3] [MODELS="candy-lite candy"] [SIZES="640x360 1280x720"]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ROUNDS=${1:-3} MODELS=${2:-candy-lite candy} SIZES=${3:-640x360 1280x720}
VENV="${STYLIZE_TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/stylize/torch-2.11}"
[[ -x "$VENV/bin/python" ]] || { echo "error: no baseline venv at $VENV: run scripts/bench_all.sh once" >&2; exit 1; }
cargo build -q --release --bin stylize
BIN=./target/release/stylize
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
fps_of() { sed 's/.*"mean_ms":\([0-9.]*\).*/\1/' | awk '{ printf "%.2f", 1000 / $1 }'; }
video_fps() { sed 's/.* \([0-9.]*\) fps.*/\1/'; }

echo "columns: round model size bench(ort) bench(openvino) bench(openvino fp32) python-openvino-f32-inference python-openvino-default-inference video(ort) video(openvino) load"
echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) threads; flags: $(grep -o 'avx512[a-z_0-9]*\|amx[a-z_0-9]*' /proc/cpuinfo | sort -u | xargs)"
for size in $SIZES; do
    ffmpeg -v error -y -f lavfi -i "testsrc2=size=$size:rate=25" -frames:v 12 -c:v libx264 -pix_fmt yuv420p "$WORK/$size.mp4"
done
for round in $(seq "$ROUNDS"); do
    for model in $MODELS; do
        m="onnx/$model.onnx"
        for size in $SIZES; do
            clip="$WORK/$size.mp4"
            n=10; [[ $model == *lite* ]] || n=3
            ort=$($BIN bench -q --device cpu -m "$m" --sizes "$size" --frames "$n" --json | fps_of)
            ov=$($BIN bench -q --device openvino -m "$m" --sizes "$size" --frames "$n" --json | fps_of)
            ov32=$($BIN bench -q --device openvino --precision fp32 -m "$m" --sizes "$size" --frames "$n" --json | fps_of)
            py=$("$VENV/bin/python" scripts/bench_baselines.py --model "$m" --clip "$clip" --out "$WORK/py.mp4" --threads "$(nproc)" --only openvino)
            py32=$(echo "$py" | grep 'openvino f32' | sed 's/.*"infer_fps": \([0-9.]*\).*/\1/')
            pydef=$(echo "$py" | grep 'openvino default' | sed 's/.*"infer_fps": \([0-9.]*\).*/\1/')
            vort=$($BIN video -q --device cpu -m "$m" "$clip" -o "$WORK/o.mp4" | video_fps)
            vov=$($BIN video -q --device openvino -m "$m" "$clip" -o "$WORK/o.mp4" | video_fps)
            printf '%s %s %s %s %s %s %s %s %s %s %s\n' "$round" "$model" "$size" "$ort" "$ov" "$ov32" "$py32" "$pydef" "$vort" "$vov" "$(cut -d' ' -f1 /proc/loadavg)"
        done
    done
done | tee "$WORK/rounds.txt"
echo "medians over $ROUNDS rounds, fps:"
printf '%-11s %-9s %8s %9s %14s %12s %16s %9s %14s\n' model size "bench" "bench-ov" "bench-ov-fp32" "python-ov-f32" "python-ov-default" "video" "video-ov"
for model in $MODELS; do
    for size in $SIZES; do
        row=$(awk -v m="$model" -v s="$size" '$2 == m && $3 == s' "$WORK/rounds.txt")
        med() { echo "$row" | awk -v c="$1" '{ print $c }' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
        printf '%-11s %-9s %8s %9s %14s %12s %16s %9s %14s\n' "$model" "$size" "$(med 4)" "$(med 5)" "$(med 6)" "$(med 7)" "$(med 8)" "$(med 9)" "$(med 10)"
    done
done
