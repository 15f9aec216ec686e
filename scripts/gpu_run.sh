#!/usr/bin/env bash
# One prepared GPU run: retrains every shipped model in one trainer process on shared content batches, exports
# them and packs what comes back (ONNX files, metrics, loss curves, last samples, the log).
#
# Here, first (builds the trainer and fills .gpu/, the folder the device call carries: the stripped trainer, VGG16
# in fp16, the content photos and style images; ~33 MB beside the working tree's ~55 MB; refilled whenever the
# trainer's code changed), then a dry run on the CPU:
#   DEVICE=cpu ITERS=2 scripts/gpu_run.sh
# On the GPU machine (device tool, carry [".gpu"], timeout ~560 s):
#   bash scripts/gpu_run.sh
#
# Steps: a short step-time benchmark of the full net (fp32, bf16, bf16 + channels-last) picks the fastest
# arithmetic; then one process trains the 13 shipped models (4 full, 4 lite, 4 lite-stable, styles4-lite) for
# MINUTES, each starting from its shipped weights (INIT=0: from scratch), at SIZE px crops, batch BATCH;
# then export and pack into $OUT (device machine) or gpu-out/ (here): parts of at most 15 MB (8 files come back).
#
# Env: DEVICE (cuda), MINUTES (6.5), ITERS (40000: a cap), BATCH (16; cpu 2), SIZE (256; cpu 128), INIT (1),
#      BENCH_ITERS (20; cpu 2), VARIANTS ("fp32,bf16,bf16 --channels-last"; cpu "fp32"), PREPARE=1 (rebuild .gpu/),
#      CONTENT_WEIGHT (1.5), STYLE_WEIGHT (20), STYLE_LAYERS (4,4,1,0.25): the loss calibrated against the
#      pytorch/examples models (training/README.md, "Calibration"; the shipped models were trained with 1.5, 10 and
#      equal layers). Content: the shared photos and scripts/content_data.sh's set from Debian's packages.
# Back here, a retrained model replaces the shipped one only when it is nearer the reference on both terms
# (DIR=unpacked/onnx scripts/score_models.sh: style ratio and content term on amber.jpg, held-out style ratio)
# and looks better by eye, faces included.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
B=.gpu
DEVICE=${DEVICE:-cuda}
# On a CPU without native bf16 (AVX2), bf16 convolutions crawl: the dry run benchmarks fp32 only.
if [[ $DEVICE == cpu ]]; then dflt_batch=2 dflt_size=128 dflt_bench=2 dflt_variants="fp32"
else dflt_batch=16 dflt_size=256 dflt_bench=20 dflt_variants="fp32,bf16,bf16 --channels-last"; fi
MINUTES=${MINUTES:-6.5} ITERS=${ITERS:-40000} BATCH=${BATCH:-$dflt_batch} SIZE=${SIZE:-$dflt_size}
INIT=${INIT:-1} BENCH_ITERS=${BENCH_ITERS:-$dflt_bench} VARIANTS=${VARIANTS:-$dflt_variants}
CONTENT_WEIGHT=${CONTENT_WEIGHT:-1.5} STYLE_WEIGHT=${STYLE_WEIGHT:-20} STYLE_LAYERS=${STYLE_LAYERS:-4,4,1,0.25}
RESULTS=${OUT:-$ROOT/gpu-out}
mkdir -p "$RESULTS"
LOG=$RESULTS/gpu_run.log
exec > >(tee "$LOG") 2>&1
t_start=$(date +%s)
say() { echo "[$(( $(date +%s) - t_start )) s] $*"; }

prepare() {
    local data=../shared/data
    [[ -d $data ]] || { echo "error: ../shared/data is missing: prepare .gpu/ on the development machine" >&2; exit 1; }
    [[ -f .deps/libtorch.env ]] || { echo "error: no libtorch: run scripts/setup.sh --train first" >&2; exit 1; }
    say "preparing $B/"
    # shellcheck disable=SC1091
    source .deps/libtorch.env
    cargo build --release -q -p stylize-train
    rm -rf "$B" && mkdir -p "$B/content" "$B/styles"
    strip -o "$B/stylize-train" target/release/stylize-train
    xz -T0 -6 -f "$B/stylize-train"
    # VGG16 in fp16: half the bytes to carry; the trainer reads F16 (and runs it in the chosen precision).
    python3 - "$data/vgg16/vgg16_relu4_3.safetensors" "$B/vgg16_fp16.safetensors" <<'PY'
import json, struct, sys
src, dst = sys.argv[1:]
buf = open(src, "rb").read()
n = struct.unpack("<Q", buf[:8])[0]
header = json.loads(buf[8:8 + n])
body, out, offset = buf[8 + n:], [], 0
for name, info in sorted((k, v) for k, v in header.items() if k != "__metadata__"):
    assert info["dtype"] == "F32", name
    a, b = info["data_offsets"]
    vals = struct.unpack(f"<{(b - a) // 4}f", body[a:b])
    data = struct.pack(f"<{len(vals)}e", *vals)
    info.update(dtype="F16", data_offsets=[offset, offset + len(data)])
    out.append(data)
    offset += len(data)
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
open(dst, "wb").write(struct.pack("<Q", len(text)) + text + b"".join(out))
PY
    cp "$data"/content/photos/* "$data/content/rocket.jpg" "$data/content/motorcycle_left.png" "$B/content/"
    # The wider set from Debian's packages (people, animals, rooms, streets; scripts/content_data.sh, cached).
    scripts/content_data.sh -o .deps/content >/dev/null
    mkdir -p "$B/content/debian" && cp .deps/content/*.jpg "$B/content/debian/"
    cp "$data"/styles/*.jpg "$B/styles/"
    echo "$trainer_rev" > "$B/ready"
    du -sh "$B"
}

# Rebuilt here whenever the trainer's code changed since .gpu/ was filled (the GPU machine has no git or cargo).
trainer_rev=$(git log -1 --format=%h -- training model Cargo.lock 2>/dev/null || true)
if [[ ! -f $B/ready || ${PREPARE:-0} == 1 ]] || { [[ -n $trainer_rev ]] && command -v cargo >/dev/null && [[ $(cat "$B/ready") != "$trainer_rev" ]]; }; then
    prepare
fi

# The trainer and its libtorch: here the rpath finds .deps/libtorch; on the GPU machine its own PyTorch's.
TRAIN=$(mktemp /tmp/stylize-train-gpu-run.XXXXXX)
python3 -c "import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], 'wb'))" "$B/stylize-train.xz" "$TRAIN"
chmod +x "$TRAIN"
if [[ $DEVICE == cuda* ]]; then
    TORCH_LIB=$(python3 -c "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))")
    NV=$(python3 -c "import nvidia; print(list(nvidia.__path__)[0])")
    LD_LIBRARY_PATH=$TORCH_LIB:$(find "$NV" -name 'lib*.so*' -printf '%h\n' | sort -u | tr '\n' ':')${LD_LIBRARY_PATH:-}
    export LD_LIBRARY_PATH
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
fi
say "device $DEVICE, batch $BATCH, $SIZE px, $MINUTES min, trainer from $(cat $B/ready)"

WORK=$(mktemp -d /tmp/gpu-run.XXXXXX)
S=$B/styles C=$B/content VGG=$B/vgg16_fp16.safetensors
common=(--content-dir "$C" --vgg "$VGG" --size "$SIZE" --batch "$BATCH" --device "$DEVICE" --workers 4 --samples 2)

# 1. Step time of the full net per arithmetic; the fastest trains.
best= best_ms=
IFS=, read -r -a variants <<<"$VARIANTS"
for variant in "${variants[@]}"; do
    read -r -a v <<<"$variant"
    if out=$("$TRAIN" train --style "$S/candy.jpg" -o "$WORK/bench" --arch full "${common[@]}" --precision "${v[@]}" \
            --iters "$BENCH_ITERS" --checkpoint-every 1000000 --log-every 1000000 2>&1); then
        ms=$(awk '/^summary/ { for (i = 1; i < NF; i++) if ($i == "steady") print $(i + 1) }' <<<"$out")
        [[ -n $ms ]] || ms=$(awk '/^summary/ { for (i = 1; i <= NF; i++) if ($i == "in") { print $(i + 1) * 1000 / '"$BENCH_ITERS"'; exit } }' <<<"$out")
        say "bench full net, batch $BATCH, $variant: $ms ms/iteration"
        if [[ -z $best_ms ]] || awk -v a="$ms" -v b="$best_ms" 'BEGIN { exit !(a < b) }'; then best=$variant best_ms=$ms; fi
    else
        say "bench $variant failed:"; tail -5 <<<"$out"
    fi
    rm -rf "$WORK/bench"
done
[[ -n $best ]] || { say "error: no arithmetic worked on $DEVICE"; exit 1; }
say "training with $best"

# 2. The plan: every shipped model, the stable variants with their plain twins' recipe plus the stability term.
w="\"content\": $CONTENT_WEIGHT, \"style\": $STYLE_WEIGHT, \"tv\": 1, \"style_layers\": [$STYLE_LAYERS]"
entry() { # name arch stability style...
    local name=$1 arch=$2 stab=$3; shift 3
    local styles="" init=""
    for s in "$@"; do styles+="${styles:+, }\"$S/$s.jpg\""; done
    if [[ $INIT == 1 && -f onnx/$name.onnx ]]; then init="\"onnx/$name.onnx\""; fi
    printf '{"out": "%s", "arch": "%s", "styles": [%s], "init": [%s], "weights": {%s, "stability": %s}}' \
        "$WORK/runs/$name" "$arch" "$styles" "$init" "$w" "$stab"
}
models=()
for s in candy mosaic rain-princess udnie; do models+=("$(entry "$s" full 0 "$s")" "$(entry "$s-lite" lite 0 "$s")" "$(entry "$s-lite-stable" lite 0.5 "$s")"); done
models+=("$(entry styles4-lite lite 0 candy mosaic rain-princess udnie)")
(IFS=,; echo "{\"models\": [${models[*]}]}") > "$WORK/plan.json"
say "plan: ${#models[@]} models"

# 3. Train, export, pack.
read -r -a bestv <<<"$best"
"$TRAIN" train --plan "$WORK/plan.json" "${common[@]}" --precision "${bestv[@]}" --iters "$ITERS" --time-limit "$MINUTES" \
    --checkpoint-every 1000000 --log-every 100
say "trained"
mkdir -p "$WORK/pack/onnx" "$WORK/pack/runs"
for run in "$WORK"/runs/*/; do
    name=$(basename "$run")
    "$TRAIN" export "$run" -o "$WORK/pack/onnx/$name.onnx" 2>&1 | tail -1
    mkdir -p "$WORK/pack/runs/$name"
    cp "$run"/metrics.csv "$run"/loss.png "$run"/config.txt "$WORK/pack/runs/$name/"
    last=$(ls "$run"/samples/*.png | tail -1); cp "$last" "$WORK/pack/runs/$name/"
done
rm -f "$RESULTS"/models.tar.part-*
tar cf - -C "$WORK/pack" . | split -b 15m - "$RESULTS/models.tar.part-"
ls -la "$RESULTS"
say "done; unpack with: cat models.tar.part-* | tar xf - -C DIR"
rm -rf "$WORK" "$TRAIN"
