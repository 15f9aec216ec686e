#!/usr/bin/env bash
# Soak benchmark: memory and speed of long runs. Each job runs at 1x and at 8x the length (or, for live, for
# a time) while its resident memory is sampled; prints RSS at the start, middle and end of the long run, the
# peak of both, the growth per frame between them, and fps at both lengths (or per second for live).
#
#   scripts/soak.sh [JOBS]     JOBS: any of video720 video180 live batch (default: all)
#
# Lengths (environment): FRAMES720=150 (1x of the 720p transcode; 8x = 1200), SECONDS180=60 (1x of the
# 320x180 transcode at 30 fps; 8x = 8 minutes), LIVE_SECONDS=120 (live from a looping file under Xvfb, the
# model switched and the styles glided every 3 s), IMAGES=25 (1x of the image batch; 8x = 200).
# MODEL=candy-lite. Needs what scripts/setup.sh installs (ffmpeg, xvfb, xdotool, time).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
JOBS=${*:-video720 video180 live batch}
FRAMES720=${FRAMES720:-150} SECONDS180=${SECONDS180:-60} LIVE_SECONDS=${LIVE_SECONDS:-120} IMAGES=${IMAGES:-25}
MODEL=${MODEL:-candy-lite}
cargo build -q --release --bin stylize
BIN="$ROOT/target/release/stylize"
WORK=$(mktemp -d); trap 'rm -rf "$WORK"' EXIT

# run_sampled LOG PATTERN CMD...: runs CMD under GNU time, sampling the VmRSS (KB) of the newest process whose
# command line matches PATTERN every 0.5 s into LOG.rss; its peak (KB) goes to LOG.peak (GNU time's when CMD is
# that process, else the sampled VmHWM), and CMD's stdout+stderr to LOG.
run_sampled() {
    local log=$1 pattern=$2; shift 2
    /usr/bin/time -f "peak_rss_kb=%M" -o "$log.time" "$@" >"$log" 2>&1 &
    local pid=$! target="" hwm=0
    : >"$log.rss"
    while kill -0 "$pid" 2>/dev/null; do
        [[ -z "$target" ]] && target=$(pgrep -n -f "$pattern" || true)
        if [[ -n "$target" && -r "/proc/$target/status" ]]; then
            awk '/VmRSS/ {print $2}' "/proc/$target/status" >>"$log.rss" 2>/dev/null || true
            hwm=$(awk -v h="$hwm" '/VmHWM/ { print ($2 > h ? $2 : h) }' "/proc/$target/status" 2>/dev/null || echo "$hwm")
        fi
        sleep 0.5
    done
    wait "$pid"
    if [[ "$1" == "$BIN" ]]; then sed 's/peak_rss_kb=//' "$log.time" >"$log.peak"; else echo "$hwm" >"$log.peak"; fi
}

# RSS (MB) at 10%, 50% and the last sample of a run.
rss_profile() {
    awk '{ v[NR] = $1 } END { if (NR == 0) { print "- - -"; exit }
        i = int(NR * 0.1); if (i < 1) i = 1; m = int(NR * 0.5); if (m < 1) m = 1
        printf "%.1f %.1f %.1f", v[i] / 1024, v[m] / 1024, v[NR] / 1024 }' "$1"
}

fps_of() { sed -n 's/.* \([0-9.]*\) fps.*/\1/p' "$1" | tail -n1; }

row() { # job length frames log
    printf "%-34s %7s %9.1f %19s %9s\n" "$1" "$3" "$(awk '{print $1/1024}' "$4.peak")" "$(rss_profile "$4.rss" | tr ' ' '/')" "$2"
}

header() {
    printf "\n%-34s %7s %9s %19s %9s\n" "job" "frames" "peak MB" "RSS 10/50/100% MB" "fps"
}

slope() { # peak1 frames1 peak8 frames8
    awk -v a="$(cat "$1")" -v n="$2" -v b="$(cat "$3")" -v m="$4" 'BEGIN { printf "  growth: %+.1f MB for %d more frames = %.3f KB per frame\n", (b - a) / 1024, m - n, (b - a) / (m - n) }'
}

flags=$(grep -m1 -o -w -E 'avx512_bf16|avx512f|avx2' /proc/cpuinfo | sort -u | tr '\n' ' ')
echo "soak: $MODEL, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) ($flags), $(nproc) cores, $(date -u +%Y-%m-%d)"

for job in $JOBS; do
    case "$job" in
    video720 | video180)
        if [[ $job == video720 ]]; then
            size=1280x720 n1=$FRAMES720
        else
            size=320x180 n1=$((SECONDS180 * 30))
        fi
        n8=$((n1 * 8))
        clip="$WORK/$job.mp4"
        ffmpeg -v error -y -f lavfi -i "testsrc2=size=$size:rate=30" -f lavfi -i "sine=frequency=440" \
            -frames:v "$n8" -t "$((n8 / 30 + 1))" -c:v libx264 -preset ultrafast -pix_fmt yuv420p -c:a aac -shortest "$clip"
        header
        for n in "$n1" "$n8"; do
            run_sampled "$WORK/$job-$n" "$BIN video" "$BIN" video -q -m "$MODEL" "$clip" -o "$WORK/out.mp4" --frames "$n"
            row "video $size" "$(fps_of "$WORK/$job-$n")" "$n" "$WORK/$job-$n"
        done
        slope "$WORK/$job-$n1.peak" "$n1" "$WORK/$job-$n8.peak" "$n8"
        ;;
    live)
        clip="$WORK/live.mp4"
        ffmpeg -v error -y -f lavfi -i "testsrc2=size=640x360:rate=30" -t 20 -c:v libx264 -preset ultrafast -pix_fmt yuv420p "$clip"
        cat >"$WORK/live.sh" <<EOF
"$BIN" live -v --input "$clip" --loop -m "$MODEL" -m styles4-lite --snapshot-dir "$WORK" &
PID=\$!
for i in \$(seq 100); do WID=\$(xdotool search --name '^stylize\$' 2>/dev/null | head -n1); [ -n "\$WID" ] && break; sleep 0.2; done
end=\$((SECONDS + $LIVE_SECONDS)); k=0
while [ \$SECONDS -lt \$end ]; do
    sleep 3; k=\$((k + 1))
    case \$((k % 4)) in 0) xdotool key 1 ;; 1) xdotool key 2 ;; 2) xdotool key bracketright ;; 3) xdotool key bracketleft ;; esac
done
xdotool key q
wait \$PID
EOF
        header
        run_sampled "$WORK/live" "$BIN live" xvfb-run -a -s "-screen 0 1024x768x24" bash "$WORK/live.sh"
        frames=$(sed -n 's/.*live: \([0-9]*\) frames shown.*/\1/p' "$WORK/live")
        row "live file loop, ${LIVE_SECONDS}s, switching" "-" "${frames:-?}" "$WORK/live"
        [[ "${frames:-0}" -gt 0 ]] || { echo "  live did not run:"; tail -n 5 "$WORK/live"; }
        # fps per second from -v's lines ("[   N s] shown F  latency ..."): the first and the last 10 s.
        grep -o 's\] shown *[0-9]*' "$WORK/live" | awk '{ f[NR] = $3 } END { if (NR < 20) exit
            for (i = 1; i <= 10; i++) { a += f[i + 2]; b += f[NR - i + 1] }
            printf "  fps: %.1f in seconds 3-12, %.1f in the last 10 s\n", a / 10, b / 10 }'
        ;;
    batch)
        for i in $(seq 1 $((IMAGES * 8))); do
            if ((i <= 8)); then
                ffmpeg -v error -y -f lavfi -i "testsrc2=size=640x480" -frames:v 1 -vf "hue=h=$((i * 40))" "$WORK/img$i.png"
            else
                cp "$WORK/img$(((i - 1) % 8 + 1)).png" "$WORK/img$i.png"
            fi
        done
        mkdir -p "$WORK/out1" "$WORK/out8"
        header
        for n in "$IMAGES" "$((IMAGES * 8))"; do
            k=$((n > IMAGES ? 8 : 1))
            start=$(date +%s.%N)
            run_sampled "$WORK/batch-$n" "$BIN image" "$BIN" image -q -m "$MODEL" -o "$WORK/out$k/" $(seq -f "$WORK/img%g.png" 1 "$n")
            fps=$(awk -v s="$start" -v e="$(date +%s.%N)" -v n="$n" 'BEGIN { printf "%.2f", n / (e - s) }')
            row "image batch 640x480" "$fps" "$n" "$WORK/batch-$n"
        done
        slope "$WORK/batch-$IMAGES.peak" "$IMAGES" "$WORK/batch-$((IMAGES * 8)).peak" "$((IMAGES * 8))"
        ;;
    *) echo "soak: unknown job $job (video720 video180 live batch)" >&2; exit 2 ;;
    esac
done
