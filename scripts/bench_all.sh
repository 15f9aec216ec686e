#!/usr/bin/env bash
# stylize against what users would write instead, in one run on one clip: `stylize bench` (engine only),
# `stylize video` (decode + stylize + encode), each with the default `--device auto` (which picks OpenVINO or ONNX
# Runtime's CPU), on ONNX Runtime (`--device cpu`) and on OpenVINO (`--device openvino`, its default precision), a python onnxruntime + OpenCV loop, PyTorch eager and python OpenVINO (f32 and its default
# precision) on the same ONNX file and frames, with the same thread count. Prints a table and the ratios.
#
#   scripts/bench_all.sh MODEL.onnx [SIZE=640x360] [FRAMES=30] [THREADS=nproc]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODEL=${1:?usage: scripts/bench_all.sh MODEL.onnx [SIZE] [FRAMES] [THREADS]}
SIZE=${2:-640x360} FRAMES=${3:-30} THREADS=${4:-$(nproc)}
[[ -f "$MODEL" ]] || MODEL="onnx/$MODEL.onnx"
[[ -f "$MODEL" ]] || { echo "error: model $1 not found" >&2; exit 1; }

# The baselines' Python: the trainer's torch venv plus onnxruntime, OpenCV and onnx (pinned like ours).
scripts/setup.sh --train >/dev/null
VENV="${STYLIZE_TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/stylize/torch-2.11}"
"$VENV/bin/python" -c "import onnxruntime, cv2, onnx, openvino" 2>/dev/null ||
    "$VENV/bin/python" -m pip install -q --find-links "${XDG_CACHE_HOME:-$HOME/.cache}/stylize/wheels" \
        onnxruntime==1.31.1 opencv-python-headless onnx openvino==2026.4.1 >&2
cargo build -q --release --bin stylize
BIN=./target/release/stylize

WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
CLIP="$WORK/clip.mp4"
ffmpeg -v error -y -f lavfi -i "testsrc2=size=$SIZE:rate=25" -frames:v "$FRAMES" -c:v libx264 -pix_fmt yuv420p "$CLIP"

auto_json=$($BIN bench -q --threads "$THREADS" -m "$MODEL" --input "$CLIP" --frames "$FRAMES" --json)
auto_ms=$(sed 's/.*"mean_ms":\([0-9.]*\).*/\1/' <<<"$auto_json")
auto_device=$(sed 's/.*"device":"\([^"]*\)".*"precision":"\([^"]*\)".*/\1 \2/' <<<"$auto_json")
auto_video_fps=$($BIN video -q --threads "$THREADS" -m "$MODEL" "$CLIP" -o "$WORK/auto.mp4" | sed 's/.* \([0-9.]*\) fps.*/\1/')
engine_ms=$($BIN bench -q --device cpu --threads "$THREADS" -m "$MODEL" --input "$CLIP" --frames "$FRAMES" --json | sed 's/.*"mean_ms":\([0-9.]*\).*/\1/')
video_fps=$($BIN video -q --device cpu --threads "$THREADS" -m "$MODEL" "$CLIP" -o "$WORK/out.mp4" | sed 's/.* \([0-9.]*\) fps.*/\1/')
# One frame at a time, like the engine-only bench: how well decoding and encoding hide behind inference.
video1_fps=$($BIN video -q --device cpu --threads "$THREADS" --parallel-frames 1 -m "$MODEL" "$CLIP" -o "$WORK/out1.mp4" | sed 's/.* \([0-9.]*\) fps.*/\1/')
ov_ms=$($BIN bench -q --device openvino --threads "$THREADS" -m "$MODEL" --input "$CLIP" --frames "$FRAMES" --json | sed 's/.*"mean_ms":\([0-9.]*\).*/\1/')
ov_precision=$($BIN bench -q --device openvino -m "$MODEL" --sizes 64x64 --frames 1 --json | sed 's/.*"precision":"\([a-z0-9]*\)".*/\1/')
ov_video_fps=$($BIN video -q --device openvino --threads "$THREADS" -m "$MODEL" "$CLIP" -o "$WORK/ov.mp4" | sed 's/.* \([0-9.]*\) fps.*/\1/')
# The float model on OpenVINO (bf16 where the CPU has it, else f32): what auto runs where there is no INT8 model.
ovf_ms=$($BIN bench -q --device openvino --precision bf16 --threads "$THREADS" -m "$MODEL" --input "$CLIP" --frames "$FRAMES" --json | sed 's/.*"mean_ms":\([0-9.]*\).*/\1/')
ovf_video_fps=$($BIN video -q --device openvino --precision bf16 --threads "$THREADS" -m "$MODEL" "$CLIP" -o "$WORK/ovf.mp4" | sed 's/.* \([0-9.]*\) fps.*/\1/')
baselines=$("$VENV/bin/python" scripts/bench_baselines.py --model "$MODEL" --clip "$CLIP" --out "$WORK/py.mp4" --threads "$THREADS")
ort_fps=$(echo "$baselines" | grep onnxruntime | sed 's/.*"fps": \([0-9.]*\).*/\1/')
torch_fps=$(echo "$baselines" | grep pytorch | sed 's/.*"fps": \([0-9.]*\).*/\1/')
# python OpenVINO: the whole loop's fps and its inference alone (what `stylize bench` compares with).
pyov_f32=$(echo "$baselines" | grep 'openvino f32' | sed 's/.*"fps": \([0-9.]*\), "infer_fps": \([0-9.]*\).*/\1 \2/')
pyov_def=$(echo "$baselines" | grep 'openvino default' | sed 's/.*"fps": \([0-9.]*\), "infer_fps": \([0-9.]*\).*/\1 \2/')
pyov_def_name=$(echo "$baselines" | grep 'openvino default' | sed 's/.*openvino default (\([a-z0-9]*\)).*/\1/')

echo "model $MODEL, $SIZE, $FRAMES frames, $THREADS threads, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)," \
    "flags: $(grep -o -w 'avx2\|avx512f\|avx512_vnni\|avx512_bf16\|amx_bf16' /proc/cpuinfo | sort -u | xargs)"
awk -v a="$auto_ms" -v ad="$auto_device" -v av="$auto_video_fps" -v e="$engine_ms" -v v="$video_fps" -v v1="$video1_fps" -v o="$ort_fps" -v t="$torch_fps" \
    -v oe="$ov_ms" -v op="$ov_precision" -v ov="$ov_video_fps" -v ofe="$ovf_ms" -v ofv="$ovf_video_fps" -v pf="$pyov_f32" -v pd="$pyov_def" -v pdn="$pyov_def_name" 'BEGIN {
    ef = 1000 / e; oef = 1000 / oe; af = 1000 / a
    split(pf, f32, " "); split(pd, def, " ")
    printf "%-58s %8s\n", "pipeline", "fps"
    printf "%-58s %8.2f\n", "stylize bench, default device (auto: " ad ")", af
    printf "%-58s %8.2f\n", "stylize video, default device", av
    printf "%-58s %8.2f\n", "stylize bench --device cpu (ONNX Runtime, engine only)", ef
    printf "%-58s %8.2f\n", "stylize bench --device openvino (" op ")", oef
    printf "%-58s %8.2f\n", "stylize video --device cpu (decode+stylize+encode)", v
    printf "%-58s %8.2f\n", "stylize video --device cpu --parallel-frames 1", v1
    printf "%-58s %8.2f\n", "stylize video --device openvino (" op ")", ov
    printf "%-58s %8.2f\n", "stylize bench --device openvino --precision bf16 (float)", 1000 / ofe
    printf "%-58s %8.2f\n", "stylize video --device openvino --precision bf16 (float)", ofv
    printf "%-58s %8.2f\n", "python onnxruntime + opencv loop", o
    printf "%-58s %8.2f\n", "pytorch eager + opencv loop", t
    printf "%-58s %8.2f (inference alone %.2f)\n", "python openvino f32 + opencv loop", f32[1], f32[2]
    printf "%-58s %8.2f (inference alone %.2f)\n", "python openvino default (" pdn ") + opencv loop", def[1], def[2]
    printf "ratios: video/python-ort %.2f, video/pytorch %.2f, video/engine %.2f, video --parallel-frames 1/engine %.2f\n", v / o, v / t, v / ef, v1 / ef
    printf "default: engine/python-openvino-default inference %.2f, video default/--device cpu %.2f\n", af / def[2], av / v
    printf "float model: engine openvino bf16/python-openvino-default inference %.2f; default/float: engine %.2f, video %.2f\n", (1000 / ofe) / def[2], af / (1000 / ofe), av / ofv
    printf "openvino: engine ort/python-openvino-default inference %.2f, engine openvino/python-openvino-default inference %.2f, video openvino/ort %.2f\n", ef / def[2], oef / def[2], ov / v
}'
