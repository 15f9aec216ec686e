#!/usr/bin/env bash
# The temporal stage (--temporal on) against per-frame stylization, on real clips:
#   1. coherence (`stylize flicker`): output change on still pixels (as a multiple of the input's own) and the
#      warping error, per frame and with the stage, for candy, candy-lite and a styles4-lite mix;
#   2. cost: `stylize video -m candy-lite` fps at 640x360 with the stage off and on (same run);
#   3. memory: peak RSS of the same transcode at 1x and 8x the length, with the stage on.
#
#   scripts/bench_temporal.sh [FRAMES]     (default 60 frames per clip for the coherence table)
#
# Clips: vtest.avi (a static camera, people walking, 768x576) and Megamind.avi (a face close-up, 720x528) are
# OpenCV's sample videos, taken from Debian's opencv-doc package (scripts/debs.sh; the clips cached in
# ~/.cache/stylize/clips: the only download, and only when this script runs); bikes.mp4 (a moving camera,
# 640x272) and the demo clip from ../shared/data/video and assets/.
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
clips=("$CLIPS/vtest.avi" "$CLIPS/Megamind.avi")
[[ -f ../shared/data/video/bikes.mp4 ]] && clips+=(../shared/data/video/bikes.mp4)

echo "== coherence: $FRAMES frames per clip (still pixels: each channel of the input changes by < 3 levels)"
printf '%-12s %-26s %9s %9s %9s %9s %9s %9s\n' clip model "still in" "still pf" "still tmp" "warp in" "warp pf" "warp tmp"
for clip in "${clips[@]}"; do
    for m in candy candy-lite "styles4-lite --style-mix candy=0.5,mosaic=0.5"; do
        # shellcheck disable=SC2086
        out=$("$BIN" flicker -q -m $m "$clip" --frames "$FRAMES")
        still=$(awk '/^still-pixel change/ { gsub(/[(),%]/, " "); print $4, $(NF-1), $NF }' <<<"$out")
        warp=$(awk '/^warping error/ { gsub(/[(),%]/, " "); print $4, $(NF-1), $NF }' <<<"$out")
        read -r si sp st <<<"$still"
        read -r wi wp wt <<<"$warp"
        printf '%-12s %-26s %9s %9s %9s %9s %9s %9s\n' "$(basename "$clip")" "${m/ --style-mix /:}" "$si" "$sp" "$st" "$wi" "$wp" "$wt"
    done
done

echo "== cost: stylize video -m candy-lite, 640x360 (the demo clip at half size, 130 frames)"
for mode in off on off on; do
    fps=$("$BIN" video -q -m candy-lite assets/bigbuckbunny.mp4 --scale 0.5 --temporal "$mode" -o "$WORK/t.mp4" | sed 's/.* \([0-9.]*\) fps.*/\1/')
    echo "temporal $mode: $fps fps"
done

echo "== memory: peak RSS, --temporal on, 1x and 8x the length"
ffmpeg -v error -y -stream_loop 7 -i assets/bigbuckbunny.mp4 -c copy "$WORK/long.mp4"
for clip in assets/bigbuckbunny.mp4 "$WORK/long.mp4"; do
    /usr/bin/time -f "%M" -o "$WORK/rss" "$BIN" video -q -m candy-lite "$clip" --scale 0.5 -o "$WORK/m.mp4" >"$WORK/line"
    echo "$(basename "$clip"): $(sed 's/.*: \([0-9]* frames\).* \([0-9.]* fps\).*/\1, \2/' "$WORK/line"), peak RSS $(( $(cat "$WORK/rss") / 1024 )) MB"
done
echo "($(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs))"
