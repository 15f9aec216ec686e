#!/usr/bin/env bash
# INT8 against the float model and against python OpenVINO at its default precision, interleaved in rounds
# (shared CPUs swing by 20% between runs: the medians are what to compare), one model and size per line:
#   - `stylize bench` with --precision auto (the INT8 model where auto takes it) and the float model on
#     OpenVINO (--precision bf16: bf16 where the CPU has it, else f32),
#   - python OpenVINO's inference alone, default precision, same ONNX file and frame size, same threads,
#   - for 1280x720 lite nets also `stylize video` of a 90-frame clip, auto against the float model.
#
#   scripts/bench_int8.sh [ROUNDS=5] [MODEL ...]     (default models: candy-lite candy)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ROUNDS=${1:-5}; shift || true
(($#)) || set -- candy-lite candy
THREADS=${THREADS:-$(nproc)}
BIN=${STYLIZE:-./target/release/stylize}
PY="${XDG_CACHE_HOME:-$HOME/.cache}/stylize/quant/bin/python"
scripts/quantize.sh --setup
[[ -x $BIN ]] || cargo build -q --release --bin stylize
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
ffmpeg -v error -y -f lavfi -i "testsrc2=size=1280x720:rate=25" -frames:v 90 -c:v libx264 -pix_fmt yuv420p "$WORK/720p.mp4"

bench() { "$BIN" bench -q --threads "$THREADS" "$@" --json | sed 's/.*"mean_ms":\([0-9.]*\).*/\1/' | awk '{ printf "%.2f", 1000 / $1 }'; }
video() { "$BIN" video -q --threads "$THREADS" "$@" "$WORK/720p.mp4" -o "$WORK/out.mp4" | sed 's/.* \([0-9.]*\) fps.*/\1/'; }
pyov() { # model WxH frames -> inference fps
    "$PY" - "$@" "$THREADS" <<'EOF'
import sys, time, numpy as np, openvino as ov
path, size, n, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
w, h = (int(v) for v in size.split("x"))
core = ov.Core()
m = core.read_model(path)
m.reshape({m.inputs[0]: [1, 3, h, w]})
r = core.compile_model(m, "CPU", {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}).create_infer_request()
x = np.random.RandomState(0).uniform(0, 255, (1, 3, h, w)).astype(np.float32)
# A multi-style model's second input (style weights) at an even mix.
feed = {0: x, **{i: np.full(list(m.inputs[i].get_partial_shape().get_min_shape()), 1.0 / m.inputs[i].get_partial_shape().get_min_shape()[-1], np.float32) for i in range(1, len(m.inputs))}}
for _ in range(3): r.infer(feed)
t = time.perf_counter()
for _ in range(n): r.infer(feed)
print(f"{n / (time.perf_counter() - t):.2f}")
EOF
}
median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $THREADS threads, flags: $(grep -o -w 'avx2\|avx512f\|avx512_vnni\|avx_vnni\|avx512_bf16\|amx_bf16' /proc/cpuinfo | sort -u | xargs), $ROUNDS rounds, $(date -u +%F\ %H:%M) UTC"
printf "%-22s %-9s %10s %10s %10s %9s %9s   %s\n" model size auto float py-ov auto/flt auto/py "precision auto picks"
for model in "$@"; do
    case $model in *lite*) sizes="640x360:60 1280x720:20" ;; *) sizes="640x360:8 1280x720:3" ;; esac
    picked=$("$BIN" bench -m "$model" --sizes 64x64 --frames 1 2>&1 | grep '^model ' | sed 's/ (.*//; s/^model //')
    for sf in $sizes; do
        size=${sf%:*} frames=${sf#*:}
        a="" f="" p=""
        for ((r = 0; r < ROUNDS; r++)); do
            a+=" $(bench -m "$model" --sizes "$size" --frames "$frames")"
            f+=" $(bench -m "$model" --device openvino --precision bf16 --sizes "$size" --frames "$frames")"
            p+=" $(pyov "onnx/$model.onnx" "$size" "$frames")"
        done
        ma=$(median <<<"$a") mf=$(median <<<"$f") mp=$(median <<<"$p")
        awk -v m="$model" -v s="$size" -v a="$ma" -v f="$mf" -v p="$mp" -v k="$picked" \
            'BEGIN { printf "%-22s %-9s %10.2f %10.2f %10.2f %9.2f %9.2f   %s\n", m, s, a, f, p, a / f, a / p, k }'
        echo "  rounds: auto$a | float$f | python-openvino$p" >&2
    done
    if [[ $model == *lite* ]]; then
        a="" f=""
        for ((r = 0; r < ROUNDS; r++)); do
            a+=" $(video -m "$model")"
            f+=" $(video -m "$model" --device openvino --precision bf16)"
        done
        ma=$(median <<<"$a") mf=$(median <<<"$f")
        awk -v m="$model" -v a="$ma" -v f="$mf" 'BEGIN { printf "%-22s %-9s %10.2f %10.2f %10s %9.2f %9s   (stylize video, 90 frames)\n", m, "video720", a, f, "-", a / f, "-" }'
        echo "  rounds: video auto$a | video float$f" >&2
    fi
done
