#!/usr/bin/env bash
# CPU engine tuning, measured rather than guessed: `stylize bench` on one model and size with each ONNX Runtime
# setting varied alone (threads, graph optimisation level, intra-op spinning, memory pattern, our CPU graph
# rewrites, frame path) and,
# when the baselines' Python has onnxruntime's quantisation tool, an INT8 dynamically quantised copy of the model.
# Each line is the mean of ROUNDS runs of FRAMES frames, rounds interleaved so a noisy machine hits all alike.
#
#   [ROUNDS=3] [FRAMES=30] scripts/bench_cpu_tuning.sh [MODEL=candy-lite] [SIZE=640x360]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODEL=${1:-candy-lite} SIZE=${2:-640x360} ROUNDS=${ROUNDS:-3} FRAMES=${FRAMES:-30}
[[ -f $MODEL ]] || MODEL=onnx/$MODEL.onnx
[[ -f $MODEL ]] || { echo "error: model $1 not found" >&2; exit 1; }
cargo build -q --release --bin stylize
BIN=./target/release/stylize
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT

# name|STYLIZE_ORT_TUNE|extra flags|model
configs=(
    "default (2 threads, opt all, u8 frames)|||$MODEL"
    "1 thread||--threads 1|$MODEL"
    "opt level disable|opt=disable||$MODEL"
    "opt level basic|opt=basic||$MODEL"
    "opt level extended|opt=extended||$MODEL"
    "intra-op spinning off|spin=0||$MODEL"
    "memory pattern off|mempattern=0||$MODEL"
    "CPU graph rewrites off (phase convs, u8 shuffles)|cpurewrite=0||$MODEL"
    "float32 frames (--frame-io f32)||--frame-io f32|$MODEL"
)
VENV="${STYLIZE_TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/stylize/torch-2.11}"
if "$VENV/bin/python" -c "import onnxruntime.quantization" 2>/dev/null; then
    "$VENV/bin/python" - "$MODEL" "$WORK/int8.onnx" <<'EOF'
import sys
from onnxruntime.quantization import quantize_dynamic, QuantType
quantize_dynamic(sys.argv[1], sys.argv[2], weight_type=QuantType.QUInt8)
EOF
    configs+=("INT8 dynamic quantisation (ConvInteger)||--frame-io f32|$WORK/int8.onnx")
else
    echo "note: no onnxruntime quantisation tool in $VENV (scripts/bench_all.sh installs it): INT8 skipped" >&2
fi

declare -A sum
for ((r = 1; r <= ROUNDS; r++)); do
    for c in "${configs[@]}"; do
        IFS='|' read -r name tune flags model <<<"$c"
        # shellcheck disable=SC2086
        ms=$(STYLIZE_ORT_TUNE=$tune $BIN bench -q -m "$model" --sizes "$SIZE" --frames "$FRAMES" --device cpu --json $flags |
            sed 's/.*"mean_ms":\([0-9.]*\).*/\1/')
        sum[$name]=$(awk -v a="${sum[$name]:-0}" -v b="$ms" 'BEGIN { print a + b }')
    done
done
echo "model $MODEL, $SIZE, $ROUNDS rounds x $FRAMES frames, $(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
printf "%-50s %9s %7s %9s\n" setting "mean ms" fps "vs first"
first=
for c in "${configs[@]}"; do
    IFS='|' read -r name _ _ _ <<<"$c"
    ms=$(awk -v s="${sum[$name]}" -v n="$ROUNDS" 'BEGIN { printf "%.2f", s / n }')
    first=${first:-$ms}
    awk -v n="$name" -v m="$ms" -v f="$first" 'BEGIN { printf "%-50s %9.2f %7.2f %9.2f\n", n, m, 1000 / m, m / f }'
done
