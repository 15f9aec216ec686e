#!/usr/bin/env bash
# INT8 versions of the shipped models (scripts/quantize.sh), each checked against its float model on held-out
# images, and an "INT8" section in its card: the check's numbers, the style term of both outputs (with
# stylize-train score, when the trainer is built) and fp32 | int8 | difference x8 crops. A model whose INT8
# version fails the check (mean difference above 1.5 grey levels) gets no INT8 file, and its card says so.
#
#   scripts/quantize_shipped.sh [MODEL ...]     # default: every onnx/*.onnx that is not itself INT8
#
# Calibration: the even-numbered shared photos and 8 frames of the two shared clips. Held out: amber.jpg, four
# scikit-image samples, the odd-numbered photos (people among them) and 4 other clip frames. Needs ../shared/data.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
DATA=../shared/data
[[ -d $DATA ]] || { echo "error: ../shared/data is missing (calibration and held-out images)" >&2; exit 1; }
STYLIZE=${STYLIZE:-./target/release/stylize} TRAIN=${TRAIN:-./target/release/stylize-train}
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/calib" "$WORK/held"
cp "$DATA"/content/{amber.jpg,rocket.jpg,motorcycle_left.png,brick.png} "$WORK/held/"
i=0
for p in $(ls "$DATA"/content/photos/*.jpg | sort); do
    if ((i % 2)); then cp "$p" "$WORK/held/"; else cp "$p" "$WORK/calib/"; fi
    i=$((i + 1))
done
for c in bikes bigbuckbunny; do
    for t in 1 3; do ffmpeg -v error -y -ss $t -i "$DATA/video/$c.mp4" -frames:v 1 "$WORK/held/$c-$t.png"; done
    for t in 0.5 2 4 5; do ffmpeg -v error -y -ss $t -i "$DATA/video/$c.mp4" -frames:v 1 "$WORK/calib/$c-$t.png"; done
done

if (($# == 0)); then
    for f in onnx/*.onnx; do [[ $f == *-int8.onnx ]] || set -- "$@" "$(basename "${f%.onnx}")"; done
fi

# The style term (lower: more style) of NAME's outputs on amber.jpg and two clip frames, at `--precision P`.
style_term() { # model precision style
    local args=() f out
    for f in "$WORK"/held/amber.jpg "$WORK"/held/bikes-3.png "$WORK"/held/bigbuckbunny-3.png; do
        out="$WORK/s-$2-$(basename "${f%.*}").png"
        "$STYLIZE" image -q -m "$1" --device openvino --precision "$2" "$f" -o "$out" >/dev/null
        args+=(--content "$f" --stylized "$out")
    done
    "$TRAIN" score --style "$DATA/styles/$3.jpg" --vgg "$DATA/vgg16/vgg16_relu4_3.safetensors" --content-weight 1.5 \
        --style-weight 10 --size 512 "${args[@]}" | awk '$1 == "mean" { print $4 }'
}

for name in "$@"; do
    model=onnx/$name.onnx card=onnx/$name.md out=onnx/$name-int8.onnx
    echo "== $name" >&2
    status=0
    scripts/quantize.sh "$model" --calibration "$WORK/calib" --held-out "$WORK/held" -o "$out" \
        --crops "onnx/cards/$name-int8.jpg" --json "$WORK/$name.json" >"$WORK/$name.log" 2>&1 || status=$?
    grep -v -e '━' -e '^INFO:nncf' "$WORK/$name.log" | tail -4 >&2
    ((status <= 1)) || { echo "error: quantizing $name failed (see above)" >&2; exit 1; }
    read -r mean p999 worst worst_image held calib kept first < <(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); print(j["mean"], j["p99.9"], j["worst_image_mean"], j["worst_image"], j["held_out"], j["calibration"], ",".join(k.split(".")[0] for k in j["kept_float"]), int(j.get("first_conv_int8", False)))' "$WORK/$name.json")
    style_line=""
    style=${name%-lite-stable} style=${style%-lite}   # styles4-lite mixes four: no single style image
    if ((status == 0)) && [[ -x $TRAIN && -f $DATA/styles/$style.jpg ]]; then
        s32=$(style_term "$model" bf16 "$style") s8=$(style_term "$out" int8 "$style")
        style_line=$(awk -v a="$s32" -v b="$s8" 'BEGIN { printf "Style term (`stylize-train score`, amber.jpg and two clip frames, lower is more style): float %.4f, INT8 %.4f (%.3fx).", a, b, b / a }')
    fi
    # Replace the card's INT8 section (it is the last one) with the new numbers.
    python3 - "$card" "$name" "$status" "$mean" "$p999" "$worst" "$worst_image" "$held" "$calib" "$kept" "$style_line" "$first" <<'EOF'
import sys
card, name, status, mean, p999, worst, worst_image, held, calib, kept, style_line, first = sys.argv[1:]
text = open(card).read()
text = text.split("\n## INT8\n")[0].rstrip("\n") + "\n"
if status == "0":
    body = (f"`{name}-int8.onnx` beside this model is its INT8 version (`scripts/quantize_shipped.sh`: NNCF post-training "
            f"quantization after channel equalization, calibrated on {calib} photos and clip frames; convolutions "
            f"{', '.join(kept.split(','))} and the residual adds float"
            f"{'; the first convolution int8 on its exact pixels' if first == '1' else ''}). `--precision auto` runs it for video, live, serve and bench on CPUs with VNNI; "
            f"`--precision int8` forces it, `--precision bf16`/`fp32` the float model.\n\n"
            f"Against the float model on {held} held-out images (people, rooms, clip frames; OpenVINO): mean difference "
            f"{float(mean):.2f} grey levels (worst image {float(worst):.2f}, {worst_image}), 99.9th percentile up to {float(p999):.0f}.")
    if style_line:
        body += " " + style_line
    body += f"\n\n**float | INT8 | difference x8** (a 256 px crop of amber.jpg):\n\n![int8 crops](cards/{name}-int8.jpg)\n"
else:
    body = (f"No INT8 version ships: quantized as the others, it differed from the float model by {float(mean):.2f} grey levels "
            f"on average over {held} held-out images (worst image {float(worst):.2f}, {worst_image}), above the 1.5 allowed.\n")
open(card, "w").write(text + "\n## INT8\n\n" + body)
EOF
    ((status == 0)) || rm -f "onnx/cards/$name-int8.jpg"
done
