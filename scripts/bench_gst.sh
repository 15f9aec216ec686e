#!/usr/bin/env bash
# The GStreamer element against `stylize video` on the same model, size and machine, in interleaved rounds
# (shared CPUs swing by 20% between runs: compare the medians):
#   - engine only: `videotestsrc ! stylize ! fakesink` (fps from the difference of a FRAMES-frame and a 1-frame
#     run, so the model load cancels out) against `stylize bench` (the engine's ms/frame);
#   - a file transcode: decodebin ! queue ! videoconvert ! stylize ! queue ! videoconvert ! x264enc ! mp4mux (the
#     queues give decoding and encoding threads of their own, as the command's pipeline has) against `stylize video`
#     of the same clip, both timed from start to end (model load included in both);
#   - memory: the element's peak RSS at 1x and 8x the frames.
#
#   scripts/bench_gst.sh [ROUNDS=5] [MODEL=candy-lite] [SIZE=640x360] [FRAMES=150]   (TEMPORAL=on|off, default on)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ROUNDS=${1:-5} MODEL=${2:-candy-lite} SIZE=${3:-640x360} FRAMES=${4:-150} TEMPORAL=${TEMPORAL:-on}
W=${SIZE%x*} H=${SIZE#*x}
BIN=./target/release/stylize
[[ -x $BIN ]] || cargo build -q --release --bin stylize
[[ -e target/gstreamer-1.0/libgststylize.so ]] || scripts/setup.sh gst >/dev/null
export GST_PLUGIN_PATH="$ROOT/target/gstreamer-1.0"
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT
export GST_REGISTRY="$WORK/registry.bin"
ffmpeg -v error -y -f lavfi -i "testsrc2=size=${SIZE}:rate=25" -frames:v "$FRAMES" -c:v libx264 -pix_fmt yuv420p "$WORK/clip.mp4"
temporal_bool=$([[ $TEMPORAL == on ]] && echo true || echo false)

now() { date +%s.%N; }
calc() { awk "BEGIN { print $* }"; }
gst_run() { # frames -> seconds
    local t0; t0=$(now)
    gst-launch-1.0 -q videotestsrc num-buffers="$1" pattern=ball ! "video/x-raw,format=RGB,width=$W,height=$H" \
        ! stylize model="$MODEL" temporal="$temporal_bool" ! fakesink sync=false >/dev/null
    calc "$(now) - $t0"
}
gst_file() {
    local t0; t0=$(now)
    gst-launch-1.0 -q -e filesrc location="$WORK/clip.mp4" ! decodebin ! queue ! videoconvert ! stylize model="$MODEL" \
        temporal="$temporal_bool" ! queue ! videoconvert ! x264enc speed-preset=veryfast ! mp4mux ! filesink location="$WORK/gst.mp4" >/dev/null
    calc "$FRAMES / ($(now) - $t0)"
}
cli_file() {
    local t0; t0=$(now)
    "$BIN" video -q -m "$MODEL" --temporal "$TEMPORAL" --preset veryfast "$WORK/clip.mp4" -o "$WORK/cli.mp4" >/dev/null
    calc "$FRAMES / ($(now) - $t0)"
}
bench_fps() { "$BIN" bench -q -m "$MODEL" --sizes "$SIZE" --json | sed 's/.*"mean_ms":\([0-9.]*\).*/\1/' | awk '{ printf "%.2f", 1000 / $1 }'; }
peak_kb() { /usr/bin/time -f %M gst-launch-1.0 -q videotestsrc num-buffers="$1" pattern=ball ! "video/x-raw,format=RGB,width=$W,height=$H" \
    ! stylize model="$MODEL" temporal="$temporal_bool" ! fakesink sync=false 2>&1 >/dev/null | tail -1; }

declare -a E G F C
for ((r = 1; r <= ROUNDS; r++)); do
    one=$(gst_run 1); many=$(gst_run "$FRAMES")
    G+=("$(calc "($FRAMES - 1) / ($many - $one)")")
    E+=("$(bench_fps)")
    F+=("$(gst_file)")
    C+=("$(cli_file)")
    printf 'round %d: element %.2f fps, stylize bench %.2f fps; file: element %.2f fps, stylize video %.2f fps\n' "$r" "${G[-1]}" "${E[-1]}" "${F[-1]}" "${C[-1]}"
done
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
g=$(median "${G[@]}") e=$(median "${E[@]}") f=$(median "${F[@]}") c=$(median "${C[@]}")
printf '\nmedians of %d rounds (%s %s, temporal %s, %d frames):\n' "$ROUNDS" "$MODEL" "$SIZE" "$TEMPORAL" "$FRAMES"
printf '  videotestsrc ! stylize ! fakesink  %7.2f fps   stylize bench (engine alone) %7.2f fps   ratio %.2f\n' "$g" "$e" "$(calc "$g / $e")"
printf '                                                  stylize video (whole pipeline) %7.2f fps   ratio %.2f\n' "$c" "$(calc "$g / $c")"
printf '  file transcode, element            %7.2f fps   stylize video %7.2f fps   ratio %.2f\n' "$f" "$c" "$(calc "$f / $c")"
printf '  element peak RSS: %d frames %s kB, %d frames %s kB\n' "$FRAMES" "$(peak_kb "$FRAMES")" "$((8 * FRAMES))" "$(peak_kb $((8 * FRAMES)))"
