#!/usr/bin/env python3
"""Stylize videos on a Dask cluster: one task per segment (or per file), run by the `stylize` binary on the
workers, then joined without re-encoding.

    dask_transcode.py --scheduler tcp://HOST:8786 -m candy film.mp4 -o film-candy.mp4 --segments 16
    dask_transcode.py --scheduler tcp://HOST:8786 -m candy a.mp4 b.mkv -o out_dir/      # one task per file

The same driver runs on a laptop's LocalCluster (--scheduler local), on Slurm/PBS through dask-jobqueue and on
Kubernetes through dask-kubernetes: it only needs a scheduler address.

Segments are written to a folder beside the output (`.NAME.segments/`) that the workers must see: a shared
file system. Segments of a film are gigabytes; sending them back through Dask would hold them in the
workers' and the client's memory and push them through the scheduler's network, so they stay on disk and only
their paths travel. Each segment appears under its name only when complete (stylize writes a temporary file
and renames it), so a worker killed mid-segment leaves nothing that the join could mistake for a segment:
Dask runs the lost task again elsewhere (and --retries more times if the command itself fails).

Progress: a line per finished task, and Dask's dashboard when the cluster has one.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


def run_stylize(stylize, args):
    """Runs `stylize ARGS` on a worker; raises with its error line on failure (Dask then retries)."""
    proc = subprocess.run([stylize, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [l for l in proc.stderr.splitlines() if l.startswith("error:")] or proc.stderr.splitlines()[-1:]
        raise RuntimeError(f"stylize {' '.join(args)} failed ({proc.returncode}): {' '.join(lines)}")
    return proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""


def segment_task(stylize, model, source, k, n, out, extra):
    run_stylize(stylize, ["video", "-q", "-m", model, str(source), "--segment", f"{k}/{n}", "-o", str(out), *extra])
    return str(out) if out.exists() else None  # None: an empty segment (more segments asked than keyframes)


def file_task(stylize, model, source, out, extra):
    return run_stylize(stylize, ["video", "-q", "-m", model, str(source), "-o", str(out), *extra])


def check_stylize(stylize):
    """Exits with one line when `stylize` (a name looked up on PATH, or a path) is not an executable here."""
    if shutil.which(stylize):
        return
    fix = "pass --stylize /path/to/stylize or set STYLIZE"
    if os.sep not in stylize:
        sys.exit(f"dask_transcode: {stylize} not found on PATH; {fix}")
    why = "is not an executable file" if Path(stylize).exists() else "does not exist"
    sys.exit(f"dask_transcode: {stylize} {why}; {fix}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scheduler", required=True, help="tcp://HOST:PORT, or 'local' for a LocalCluster on this machine")
    p.add_argument("-m", "--model", required=True)
    p.add_argument("inputs", nargs="+", type=Path)
    p.add_argument("-o", "--output", required=True, type=Path, help="the output file (one input) or folder (several)")
    p.add_argument("--segments", type=int, default=0, help="segments per input (default: 2 per worker thread for one input, 1 per file for several)")
    p.add_argument("--stylize", default=os.environ.get("STYLIZE", "stylize"), help="the stylize binary on the workers (default: stylize on PATH)")
    p.add_argument("--retries", type=int, default=2, help="reruns of a segment whose command fails (a lost worker is always rerun)")
    p.add_argument("--keep-segments", action="store_true", help="keep the segment files after the join")
    p.epilog = "After --: more `stylize video` options for every task (e.g. -- --scale 0.5 --crf 20)."
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    a = p.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    several = len(a.inputs) > 1 or a.inputs[0].is_dir()
    # This machine runs stylize for one input (its plan and the join) and on a LocalCluster; files on a remote
    # cluster only need it on the workers, where a path may hold it that this machine lacks.
    if not several or a.scheduler == "local":
        check_stylize(a.stylize)

    from dask.distributed import Client, LocalCluster, as_completed

    client = Client(LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None)) if a.scheduler == "local" else Client(a.scheduler, timeout="20s")
    threads = sum(client.nthreads().values()) or 1
    started = time.monotonic()
    if several:
        files = [f for i in a.inputs for f in (sorted(x for x in i.iterdir() if x.is_file()) if i.is_dir() else [i])]
        a.output.mkdir(parents=True, exist_ok=True)
        style = Path(a.model).stem
        futures = {client.submit(file_task, a.stylize, a.model, f.resolve(), (a.output / f"{f.stem}-{style}.mp4").resolve(), extra, retries=a.retries, pure=False): f for f in files}
        failed = 0
        for i, fut in enumerate(as_completed(list(futures)), 1):
            try:
                print(f"[{i}/{len(files)}] {fut.result()}", flush=True)
            except Exception as e:  # one broken file does not stop the others
                failed += 1
                print(f"[{i}/{len(files)}] failed: {futures[fut]}: {e}", flush=True)
        print(f"{len(files) - failed} done, {failed} failed in {time.monotonic() - started:.1f} s on {threads} worker threads")
        return 1 if failed else 0

    source = a.inputs[0].resolve()
    n = a.segments or 2 * threads
    plan = json.loads(subprocess.run([a.stylize, "video", "--plan", str(n), "--json", str(source)], capture_output=True, text=True, check=True).stdout)
    count = len(plan["segments"])
    if count < n:
        print(f"note: {source.name} has {plan['keyframes']} keyframes: {count} segments instead of {n}", file=sys.stderr)
    work = a.output.resolve().parent / f".{a.output.name}.segments"
    work.mkdir(parents=True, exist_ok=True)
    futures = [client.submit(segment_task, a.stylize, a.model, source, s["index"], count, work / f"seg-{s['index']:05d}.mp4", extra, retries=a.retries, pure=False, key=f"segment-{source.name}-{s['index']}-{time.time_ns()}") for s in plan["segments"]]
    done = 0
    for fut in as_completed(futures):
        fut.result()
        done += 1
        bar = "#" * (30 * done // count)
        print(f"\rsegments [{bar:<30}] {done}/{count}", end="", flush=True)
    print()
    segs = [f.result() for f in futures]
    joined = subprocess.run([a.stylize, "join", *[s for s in segs if s], "--audio-from", str(source), "-o", str(a.output)], capture_output=True, text=True)
    if joined.returncode != 0:
        print(joined.stderr.strip(), file=sys.stderr)
        return 1
    if not a.keep_segments:
        shutil.rmtree(work, ignore_errors=True)
    wall = time.monotonic() - started
    print(f"{joined.stdout.strip()} ({plan['frames']} frames in {wall:.1f} s: {plan['frames'] / wall:.2f} fps on {threads} worker threads)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
