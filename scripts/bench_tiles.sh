#!/usr/bin/env bash
# Time and peak memory of large photos, whole frame against tiled (docs/benchmarks.md, "Tiled inference").
#
#   scripts/bench_tiles.sh                 # lite and full nets at 12, 24 and 48 megapixels
#   SIZES="12" MODELS="candy" scripts/bench_tiles.sh
#   RUNS="whole exact:2G probe:2G probe:default" scripts/bench_tiles.sh
#
# Each run is one `stylize image` under /usr/bin/time: wall seconds and peak RSS. RUNS entries: `whole` (no tiling:
# --max-memory 1T), `MODE:BUDGET` (--tile-stats MODE, --max-memory BUDGET, or the default budget). A whole run
# is skipped where the network would need more than the machine's available memory (the full net at 48 MP).
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-"12 24 48"}
MODELS=${MODELS:-"candy-lite candy"}
RUNS=${RUNS:-"whole exact:2G probe:2G probe:default"}
BIN=target/release/stylize
[[ -x $BIN ]] || cargo build --release --quiet
[[ -x /usr/bin/time ]] || { echo "needs /usr/bin/time (apt install time)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

declare -A dims=([12]=4000x3000 [24]=6000x4000 [48]=8000x6000)
avail_kb=$(awk '/MemAvailable/ {print $2}' /proc/meminfo)
echo "# $(date -u +%F), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $((avail_kb / 1024)) MB available"
printf '%-12s %-6s %-14s %10s %10s  %s\n' model MP run seconds peak_MB tiling
for mp in $SIZES; do
    size=${dims[$mp]}
    img="$work/photo-$mp.png"
    # A photo-like frame: the demo clip's first frame, scaled up, with grain.
    ffmpeg -v error -y -i assets/bigbuckbunny.mp4 -frames:v 1 -vf "scale=${size/x/:}:flags=bicubic,noise=alls=12" "$img"
    for model in $MODELS; do
        for run in $RUNS; do
            args=()
            case $run in
                whole)
                    bpp=$([[ $model == *lite* ]] && echo 66 || echo 402)
                    if (( mp * 1000000 * bpp / 1024 > avail_kb * 9 / 10 )); then
                        printf '%-12s %-6s %-14s %10s %10s  %s\n' "$model" "$mp" whole - - "needs ~$((mp * bpp)) MB: does not fit"
                        continue
                    fi
                    args=(--max-memory 1T) ;;
                *:default) args=(--tile-stats "${run%%:*}") ;;
                *:*) args=(--tile-stats "${run%%:*}" --max-memory "${run#*:}") ;;
            esac
            out=$(/usr/bin/time -f 'TIME %e %M' "$BIN" image -m "$model" "$img" -o "$work/out.jpg" "${args[@]}" 2>&1) || { echo "$out" >&2; exit 1; }
            read -r _ secs kb < <(grep '^TIME' <<<"$out")
            tiling=$(grep -o 'tiled [^)]*' <<<"$out" || echo "whole frame")
            printf '%-12s %-6s %-14s %10s %10s  %s\n' "$model" "$mp" "$run" "$secs" "$((kb / 1024))" "$tiling"
        done
    done
done
