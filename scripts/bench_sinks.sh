#!/usr/bin/env bash
# What live outputs cost: the stylizer with no output, one (UDP) and two (UDP + RTMP) network outputs, and
# the latency each output adds (capture to packet sent, p50/p95), all on 127.0.0.1 with ffmpeg receivers that
# this script starts and stops (they copy, not decode, so they take next to no CPU). Rounds alternate the
# three setups so that machine noise hits each alike.
#
#   scripts/bench_sinks.sh            # MODEL=candy-lite SIZE=640x360 FRAMES=300 ROUNDS=3 BITRATE=2500 SOURCE_FPS=30
#
# Printed per run: the fps shown, the mean time the stylizer took per frame ("stylize", the number an output
# that takes CPU from it raises), the display latency, and each output's frames, drops and latency. The test
# pattern at a camera's 30 fps is the real case; a faster source (SOURCE_FPS=240) spends a core on drawing the
# pattern, which measures the pattern more than the outputs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODEL=${MODEL:-candy-lite} SIZE=${SIZE:-640x360} FRAMES=${FRAMES:-300} ROUNDS=${ROUNDS:-3} BITRATE=${BITRATE:-2500}
SOURCE_FPS=${SOURCE_FPS:-30}
cargo build -q --release --bin stylize
BIN="$ROOT/target/release/stylize"
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
port() { python3 -c 'import socket,sys; s=socket.socket(socket.AF_INET, getattr(socket, sys.argv[1])); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' "$1"; }

# run NAME [OUTPUT ARGS...]: one live run and its line.
run() {
    local name=$1; shift
    "$BIN" live -q -m "$MODEL" --input test --size "$SIZE" --fps "$SOURCE_FPS" --no-window --frames "$FRAMES" --bitrate "$BITRATE" "$@" >"$WORK/$name.out" 2>&1
    local fps stylize display
    fps=$(sed -n 's/^live: [0-9]* frames shown, \([0-9.]*\) fps.*/\1/p' "$WORK/$name.out")
    stylize=$(sed -n 's/.*stylize alone: mean \([0-9.]*\) ms.*/\1/p' "$WORK/$name.out")
    display=$(sed -n 's/.*capture to display): mean [0-9.]* ms, p95 \([0-9.]*\) ms.*/\1/p' "$WORK/$name.out")
    printf '%-9s fps %6s  stylize %5s ms  display p95 %5s ms' "$name" "$fps" "$stylize" "$display"
    { grep -o 'output [^ ]*: .*' "$WORK/$name.out" || true; } | sed 's/ frames sent, / sent, /; s/^output /  | /; s/; capture to sent:/ sent/' | tr -d '\n'
    echo
}

for round in $(seq "$ROUNDS"); do
    echo "round $round ($MODEL $SIZE, source $SOURCE_FPS fps, $FRAMES frames)"
    run none
    U=$(port SOCK_DGRAM)
    ffmpeg -v error -nostdin -analyzeduration 1000000 -probesize 200000 -i "udp://127.0.0.1:$U?timeout=3000000" -c copy -f null - & PIDS+=($!)
    sleep 1
    run udp -o "udp://127.0.0.1:$U"
    U=$(port SOCK_DGRAM) R=$(port SOCK_STREAM)
    ffmpeg -v error -nostdin -analyzeduration 1000000 -probesize 200000 -i "udp://127.0.0.1:$U?timeout=3000000" -c copy -f null - & PIDS+=($!)
    ffmpeg -v error -nostdin -listen 1 -i "rtmp://127.0.0.1:$R/live/bench" -c copy -f null - & PIDS+=($!)
    sleep 1
    run udp+rtmp -o "udp://127.0.0.1:$U" -o "rtmp://127.0.0.1:$R/live/bench"
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    PIDS=()
done
