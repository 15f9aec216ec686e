#!/usr/bin/env bash
# One process against a Dask job on this machine, same clip, same run: the split (plan) and join overheads as
# a share of the total. The cluster is a scheduler and 2 workers x 1 thread on 127.0.0.1, started and stopped
# here; each worker's stylize gets one inference thread so that the two together use what one process uses,
# and both encode with x264 veryfast (what segments use, so that segments from different machines match).
#
#   scripts/bench_dask.sh        # MODEL=candy-lite SEGMENTS=4 SCALE=0.5; CLIP=FILE (default: the demo clip twice,
#                                # re-encoded with a keyframe a second so that it has segments to cut)
# Needs scripts/setup.sh --dask.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
MODEL=${MODEL:-candy-lite} SEGMENTS=${SEGMENTS:-4} SCALE=${SCALE:-0.5}
DASK="$ROOT/.deps/dask/bin"
[[ -x "$DASK/dask" ]] || { echo "bench_dask: no Dask in .deps/dask; run scripts/setup.sh --dask" >&2; exit 1; }
cargo build -q --release --bin stylize
BIN="$ROOT/target/release/stylize"
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
if [[ -z "${CLIP:-}" ]]; then
    CLIP="$WORK/clip.mp4"
    ffmpeg -v error -stream_loop 1 -i assets/bigbuckbunny.mp4 -c:v libx264 -preset veryfast -g 25 -c:a copy "$CLIP"
fi
now() { date +%s.%N; }
secs() { python3 -c "print(f'{$2 - $1:.2f}')"; }

t0=$(now)
"$BIN" video -q -m "$MODEL" "$CLIP" --scale "$SCALE" --preset veryfast -o "$WORK/one.mp4" >"$WORK/one.log"
t1=$(now)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$DASK/dask" scheduler --host 127.0.0.1 --port "$PORT" --no-dashboard >"$WORK/scheduler.log" 2>&1 & PIDS+=($!)
for _ in 1 2; do
    "$DASK/dask" worker "tcp://127.0.0.1:$PORT" --host 127.0.0.1 --no-nanny --nthreads 1 --no-dashboard >>"$WORK/workers.log" 2>&1 & PIDS+=($!)
done
sleep 3
t2=$(now)
"$DASK/python" scripts/dask_transcode.py --scheduler "tcp://127.0.0.1:$PORT" -m "$MODEL" "$CLIP" -o "$WORK/dask.mp4" \
    --segments "$SEGMENTS" --stylize "$BIN" --keep-segments -- --scale "$SCALE" --preset veryfast --threads 1 --parallel-frames 1 >"$WORK/dask.log"
t3=$(now)
# The pieces that do not shrink with more workers, timed on their own.
t4=$(now); "$BIN" video --plan "$SEGMENTS" "$CLIP" >/dev/null; t5=$(now)
"$BIN" join "$WORK"/.dask.mp4.segments/seg-*.mp4 --audio-from "$CLIP" -o "$WORK/joined-again.mp4" >/dev/null; t6=$(now)
frames=$(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$WORK/one.mp4")
one=$(secs "$t0" "$t1") dask=$(secs "$t2" "$t3") plan=$(secs "$t4" "$t5") join=$(secs "$t5" "$t6")
echo "clip $CLIP ($frames frames, scale $SCALE), model $MODEL, $SEGMENTS segments, $(nproc) cores"
echo "one process:         $one s  ($(python3 -c "print(f'{$frames/$one:.1f}')") fps)"
echo "dask 2 workers x 1:  $dask s  ($(python3 -c "print(f'{$frames/$dask:.1f}')") fps; ratio to one process $(python3 -c "print(f'{$dask/$one:.2f}')"))"
echo "  of which plan $plan s and join $join s: $(python3 -c "print(f'{100*($plan+$join)/$dask:.1f}')") % of the Dask job"
