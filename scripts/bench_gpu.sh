#!/usr/bin/env bash
# The GPU benchmark of the GPU issue, in one run on one GPU: stylize's engine on CUDA (uint8 frames in host memory
# as transcode uses it; float arrays in host memory = the plain ONNX Runtime loop; frames resident on the GPU;
# fp32 and fp16) against PyTorch on the same weights (eager fp32 with the same uint8 round trip; torch.compile
# max-autotune fp16 channels-last with frames on the GPU). Prints a table and the issue's ratios; JSON lines in
# $RESULTS (default bench_gpu.jsonl).
#
#   [STYLIZE=target/release/stylize] [PYTHON=python3] [FRAMES=100] [SIZES=1280x720,1920x1080] [COMPILE=1] \
#   scripts/bench_gpu.sh FULL.onnx [LITE.onnx]
#
# Needs the CUDA build of ONNX Runtime (scripts/setup.sh --gpu, or ORT_DYLIB_PATH/LD_LIBRARY_PATH set) and a
# python with torch (CUDA) and onnx. COMPILE=0 skips the torch.compile anchor (its compile takes 1-2 minutes).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FULL=${1:?usage: scripts/bench_gpu.sh FULL.onnx [LITE.onnx]}; LITE=${2:-}
STYLIZE=${STYLIZE:-$ROOT/target/release/stylize} PY=${PYTHON:-python3}
DEVICE=${DEVICE:-cuda} FRAMES=${FRAMES:-100} SIZES=${SIZES:-1280x720,1920x1080} COMPILE=${COMPILE:-1}
RESULTS=${RESULTS:-bench_gpu.jsonl}
: > "$RESULTS"

ours() { # LABEL MODEL FLAGS...
    local label=$1 model=$2; shift 2
    local out
    if out=$("$STYLIZE" bench -q --device "$DEVICE" -m "$model" --sizes "$SIZES" --frames "$FRAMES" --json "$@" 2>&1 | tail -1) &&
        [[ $out == '{'* ]]; then
        echo "{\"label\":\"$label\",\"stylize\":$out}" >> "$RESULTS"
    else
        echo "# $label ($(basename "$model")): $out" >&2
    fi
}
torch_() { # MODEL MODES SIZES
    "$PY" "$ROOT/scripts/bench_gpu_torch.py" --model "$1" --modes "$2" --sizes "$3" --frames "$FRAMES" >> "$RESULTS" || echo "# torch $2 failed" >&2
}

for model in "$FULL" $LITE; do
    ours "ours uint8 host fp32" "$model" --frame-io u8
    ours "ours uint8 host fp16" "$model" --frame-io u8 --precision fp16
    ours "plain ORT fp32 host float arrays" "$model" --frame-io f32
    ours "ours resident fp32" "$model" --frame-io u8 --resident
    ours "ours resident fp16" "$model" --frame-io u8 --precision fp16 --resident
    # The CPU's phase-conv rewrites (model/src/rewrite.rs), not yet measured on a GPU.
    STYLIZE_ORT_TUNE=gpurewrite=1 ours "ours resident fp16, convs on phases" "$model" --frame-io u8 --precision fp16 --resident
    STYLIZE_ORT_TUNE=gpurewrite=1 ours "ours uint8 host fp16, convs on phases" "$model" --frame-io u8 --precision fp16
    # ONNX Runtime's CUDA levers, one at a time (STYLIZE_ORT_TUNE, src/engine/onnxruntime.rs `Tuning`): NHWC kernels,
    # TF32 for fp32, cuDNN's heuristic algorithm choice, page-locked host frames, and a CUDA graph (fixed size and
    # addresses: resident frames, one size per session).
    STYLIZE_ORT_TUNE=nhwc=1 ours "ours resident fp16, nhwc" "$model" --frame-io u8 --precision fp16 --resident
    STYLIZE_ORT_TUNE=tf32=1 ours "ours resident fp32, tf32" "$model" --frame-io u8 --resident
    STYLIZE_ORT_TUNE=convsearch=heuristic ours "ours resident fp16, heuristic conv search" "$model" --frame-io u8 --precision fp16 --resident
    STYLIZE_ORT_TUNE=pinned=1 ours "ours uint8 host fp16, pinned" "$model" --frame-io u8 --precision fp16
    for size in ${SIZES//,/ }; do
        SIZES=$size STYLIZE_ORT_TUNE=cudagraph=1 ours "ours resident fp16, cuda graph" "$model" --frame-io u8 --precision fp16 --resident
        SIZES=$size STYLIZE_ORT_TUNE=cudagraph=1,nhwc=1 ours "ours resident fp16, cuda graph + nhwc" "$model" --frame-io u8 --precision fp16 --resident
    done
    torch_ "$model" eager-u8-host,eager-gpu "$SIZES"
done
[[ $COMPILE == 1 ]] && torch_ "$FULL" compile-fp16 1920x1080

"$PY" - "$RESULTS" "$FULL" "$LITE" <<'PY'
import json, os, sys
rows = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    if "stylize" in r:
        s = r["stylize"]
        for x in s["results"]:
            rows[(os.path.basename(s["model"]), r["label"], x["size"])] = x["mean_ms"]
    else:
        rows[(r["model"], r["name"], r["size"])] = r["ms"]
try:
    import torch; gpu = torch.cuda.get_device_name(0)
except Exception:
    gpu = "?"
print(f"GPU: {gpu}")
print(f"{'model':<22} {'pipeline':<62} {'size':>10} {'ms':>8} {'fps':>7}")
for (m, label, size), ms in rows.items():
    print(f"{m:<22} {label:<62} {size:>10} {ms:>8.2f} {1000 / ms:>7.1f}")
full, lite = os.path.basename(sys.argv[2]), os.path.basename(sys.argv[3]) if sys.argv[3] else None
g = lambda m, label, size="1920x1080": rows.get((m, label, size))
anchor = g(full, "torch.compile max-autotune fp16 channels-last, frame on GPU")
RESIDENT = ["ours resident fp32", "ours resident fp16", "ours resident fp16, convs on phases", "ours resident fp16, nhwc",
            "ours resident fp32, tf32", "ours resident fp16, heuristic conv search", "ours resident fp16, cuda graph",
            "ours resident fp16, cuda graph + nhwc"]
HOST_U8 = ["ours uint8 host fp32", "ours uint8 host fp16", "ours uint8 host fp16, convs on phases", "ours uint8 host fp16, pinned"]
best_res = min(filter(None, [g(full, label) for label in RESIDENT]), default=None)
def ratio(name, num, den, target):
    if num and den:
        print(f"{name}: {num / den:.2f} ({target})")
print("ratios at 1920x1080:")
ratio("  same network, frames on GPU: ours / torch.compile", best_res, anchor, "target <= 1.5")
for size in ("1280x720", "1920x1080"):
    eager = g(full, "pytorch eager fp32, uint8 host round trip", size)
    best_u8 = min(filter(None, [g(full, label, size) for label in HOST_U8]), default=None)
    ratio(f"  uint8 host round trip {size}: pytorch eager / ours", eager, best_u8, "target >= 3")
    ratio(f"  plain ORT host floats / ours uint8 {size}", g(full, "plain ORT fp32 host float arrays", size), best_u8, "speed-up of the uint8 path")
if lite:
    lres = min(filter(None, [g(lite, label) for label in RESIDENT]), default=None)
    ratio("  product: lite in stylize / classic net under torch.compile", lres, anchor, "target < 1")
    if lres:
        print(f"  lite net, frames on GPU: {1000 / lres:.0f} fps (target >= 300)")
PY
