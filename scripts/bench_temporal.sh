#!/usr/bin/env bash
# The temporal stage (--temporal on, and smooth) against per-frame stylization, on real clips:
#   1. coherence (`stylize flicker`): output change on still and static pixels (as multiples of the input's own)
#      and the warping error, per frame and with the stage, for candy, candy-lite and a styles4-lite mix;
#   2. style: the style ratio (the trainer's `stylize-train score`, candy-lite against candy.jpg) of frames 3 to 26
#      of each clip (every frame: the anchor of `on` is renewed every few frames, and frames picked at that
#      period would all be renewals), per frame and with the stage (skipped without the trainer or ../shared/data);
#   3. cost: `stylize video -m candy-lite` fps at 640x360 and on the hand-held clip with the stage off, on and
#      smooth (same run);
#   4. memory: peak RSS of the same transcode at 1x and 8x the length, with the stage on.
#
#   scripts/bench_temporal.sh [FRAMES]     (default 60 frames per clip for the coherence table)
#
# Clips: vtest.avi (a static camera, people walking, 768x576) and Megamind.avi (a face close-up, 720x528) are
# OpenCV's sample videos, taken from Debian's opencv-doc package (scripts/debs.sh; the clips cached in
# ~/.cache/stylize/clips: the only download, and only when this script runs); vtest-handheld.mp4 is vtest.avi
# shaken like a hand-held camera (made here); bikes.mp4 (a moving camera, 640x272) and the demo clip from
# ../shared/data/video and assets/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
FRAMES=${1:-60}
CLIPS="${XDG_CACHE_HOME:-$HOME/.cache}/stylize/clips"
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
# STYLIZE=path runs that binary instead of building one.
[[ -n "${STYLIZE:-}" ]] || cargo build -q --release --bin stylize
BIN="${STYLIZE:-$ROOT/target/release/stylize}"

if [[ ! -f "$CLIPS/vtest.avi" || ! -f "$CLIPS/Megamind.avi" ]]; then
    mkdir -p "$CLIPS"
    deb=$(scripts/debs.sh opencv-doc); deb=${deb#* }
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$WORK" ./usr/share/doc/opencv-doc/examples/data/vtest.avi ./usr/share/doc/opencv-doc/examples/data/Megamind.avi
    mv "$WORK"/usr/share/doc/opencv-doc/examples/data/{vtest,Megamind}.avi "$CLIPS/"
fi
# A hand-held camera with people: vtest.avi shaken (two slow sways and a drift, sub-pixel: moved at twice the
# size, then shrunk), 688x512, H.264 as a phone would store it. Simulated: the people move on their own, the
# camera's shake is made.
if [[ ! -f "$CLIPS/vtest-handheld.mp4" ]]; then
    ffmpeg -v error -y -i "$CLIPS/vtest.avi" -frames:v 200 -vf "scale=1536:1152:flags=lanczos,crop=1376:1024\
:x='80+24*sin(2*PI*t*0.8)+10*sin(2*PI*t*2.1+1)+6*t':y='64+18*sin(2*PI*t*0.6+2)+8*sin(2*PI*t*1.7)',scale=688:512:flags=area" \
        -c:v libx264 -crf 18 -pix_fmt yuv420p "$WORK/handheld.mp4"
    mv "$WORK/handheld.mp4" "$CLIPS/vtest-handheld.mp4"
fi
clips=("$CLIPS/vtest.avi" "$CLIPS/vtest-handheld.mp4" "$CLIPS/Megamind.avi")
[[ -f ../shared/data/video/bikes.mp4 ]] && clips+=(../shared/data/video/bikes.mp4)

echo "== coherence: $FRAMES frames per clip (still pixels: each channel of the input changes by < 3 levels; static: still and"
echo "   the flow below half a pixel; x: the output's change there over the input's; warping error: temporal / per frame)"
printf '%-12s %-26s %-6s %9s %9s %9s %9s %9s\n' clip model mode "still pf" "still tmp" "static pf" "static tmp" "warp"
for clip in "${clips[@]}"; do
    for m in candy candy-lite "styles4-lite --style-mix candy=0.5,mosaic=0.5"; do
        for mode in on smooth; do
            # shellcheck disable=SC2086
            out=$("$BIN" flicker -q -m $m "$clip" --frames "$FRAMES" --temporal "$mode")
            read -r sp st zp zt <<<"$(awk '/x the input/ { printf "%s %s ", $(NF-1), $NF }' <<<"$out")"
            warp=$(awk '/^warping error/ { printf "%.2f", $NF / $(NF-1) }' <<<"$out")
            printf '%-12s %-26s %-6s %9s %9s %9s %9s %9s\n' "$(basename "$clip")" "${m/ --style-mix /:}" "$mode" "$sp" "$st" "$zp" "$zt" "$warp"
        done
    done
done

TRAIN=${TRAIN:-$ROOT/target/release/stylize-train}
DATA=../shared/data
if [[ -x $TRAIN && -f $DATA/vgg16/vgg16_relu4_3.safetensors ]]; then
    echo "== style: style ratio of candy-lite frames 3 to 26 (lower is more style; x: over per frame)"
    printf '%-16s %9s %9s %9s %9s %9s\n' clip "off" "on" "x" "smooth" "x"
    for clip in "${clips[@]}"; do
        name=$(basename "$clip"); mkdir -p "$WORK/$name/in"
        ffmpeg -v error -y -i "$clip" -frames:v 26 "$WORK/$name/in/%05d.png"
        row=()
        for mode in off on smooth; do
            mkdir -p "$WORK/$name/$mode"
            "$BIN" video -q -m candy-lite "$clip" --frames 26 --temporal "$mode" -o "$WORK/$name/$mode/%05d.png" >/dev/null
            pairs=()
            for n in $(seq -f %05g 3 26); do pairs+=(--content "$WORK/$name/in/$n.png" --stylized "$WORK/$name/$mode/$n.png"); done
            row+=("$("$TRAIN" score --style "$DATA/styles/candy.jpg" --vgg "$DATA/vgg16/vgg16_relu4_3.safetensors" \
                --content-weight 1.5 --style-weight 10 --size 512 "${pairs[@]}" | awk '$1 == "mean" { print $6 }')")
        done
        awk -v c="$name" -v a="${row[0]}" -v b="${row[1]}" -v s="${row[2]}" 'BEGIN { printf "%-16s %9.4f %9.4f %9.3f %9.4f %9.3f\n", c, a, b, b / a, s, s / a }'
    done
else
    echo "== style: skipped (needs $TRAIN, built by scripts/setup.sh --train, and ../shared/data's VGG16)"
fi

echo "== cost: stylize video -m candy-lite: the demo clip at half size (640x360, 130 frames), where little of the"
echo "   picture moves, and 150 frames of the hand-held clip (688x512), where nearly all of it is carried from the anchor"
for mode in off on smooth off on smooth; do
    fps=$("$BIN" video -q -m candy-lite assets/bigbuckbunny.mp4 --scale 0.5 --temporal "$mode" -o "$WORK/t.mp4" | sed 's/.* \([0-9.]*\) fps.*/\1/')
    hand=$("$BIN" video -q -m candy-lite "$CLIPS/vtest-handheld.mp4" --frames 150 --temporal "$mode" -o "$WORK/t.mp4" | sed 's/.* \([0-9.]*\) fps.*/\1/')
    echo "temporal $mode: $fps fps, hand-held $hand fps"
done

echo "== memory: peak RSS, --temporal on, 1x and 8x the length"
ffmpeg -v error -y -stream_loop 7 -i assets/bigbuckbunny.mp4 -c copy "$WORK/long.mp4"
for clip in assets/bigbuckbunny.mp4 "$WORK/long.mp4"; do
    /usr/bin/time -f "%M" -o "$WORK/rss" "$BIN" video -q -m candy-lite "$clip" --scale 0.5 -o "$WORK/m.mp4" >"$WORK/line"
    echo "$(basename "$clip"): $(sed 's/.*: \([0-9]* frames\).* \([0-9.]* fps\).*/\1, \2/' "$WORK/line"), peak RSS $(( $(cat "$WORK/rss") / 1024 )) MB"
done
echo "($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
