#!/usr/bin/env python3
"""The Python package's benchmarks (issue targets): frames in and out of Python, in interleaved rounds (shared
CPUs swing by 20% between runs: compare the medians).

1. overhead: the wall time of `model(frame)` from Python against the time spent inside those calls in the
   engine itself (`Engine::stylize`, summed by `Model._engine_seconds`): checks, copies in and out, the new
   array and the GIL are the difference;
2. against the loops a Python user writes today on the same ONNX file and frames, frame in, frame out:
   onnxruntime + numpy (float32 NCHW in, clip/round/uint8 out) and OpenVINO at its default precision on this CPU
   (LATENCY hint, compiled for the frame size once, same pre/post), against stylize.Model with precision auto
   and with the float model;
3. memory (--calls N): resident memory after N/8 and after N calls of one model on one frame size.

Run with the package's environment: .deps/python/bin/python scripts/bench_python.py [--rounds 5] [--model candy-lite]
"""
import argparse
import statistics
import time

import numpy as np

import stylize


def rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def frames_for(w, h, n=8):
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, (x + y) % 256], -1).astype(np.uint8)
    return [np.clip(base.astype(int) + rng.integers(-20, 20, base.shape), 0, 255).astype(np.uint8) for _ in range(n)]


def timed(fn, frames, n, warm=True):
    if warm:
        fn(frames[0])
    start = time.perf_counter()
    for k in range(n):
        fn(frames[k % len(frames)])
    return (time.perf_counter() - start) / n


def onnxruntime_loop(path, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name

    def run(frame):
        h, w = frame.shape[:2]
        ph, pw = -h % 8, -w % 8
        x = frame.transpose(2, 0, 1)[None].astype(np.float32)
        if ph or pw:
            x = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="reflect")
        y = sess.run(None, {name: x})[0]
        return np.clip(y[0, :, :h, :w], 0, 255).round().astype(np.uint8).transpose(1, 2, 0)

    return run


def openvino_loop(path, threads, w, h):
    import openvino as ov

    core = ov.Core()
    net = core.read_model(path)
    ph, pw = -h % 8, -w % 8
    net.reshape({net.inputs[0]: [1, 3, h + ph, w + pw]})
    compiled = core.compile_model(net, "CPU", {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads})
    request = compiled.create_infer_request()

    def run(frame):
        x = frame.transpose(2, 0, 1)[None].astype(np.float32)
        if ph or pw:
            x = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="reflect")
        y = request.infer({0: x})[0]
        return np.clip(y[0, :, :h, :w], 0, 255).round().astype(np.uint8).transpose(1, 2, 0)

    return run, compiled.get_property("INFERENCE_PRECISION_HINT").to_string()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="candy-lite")
    ap.add_argument("--size", default="640x360")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--frames", type=int, default=60, help="calls per round and contender")
    ap.add_argument("--threads", type=int, default=None, help="default: every core")
    ap.add_argument("--calls", type=int, default=0, help="memory: calls for the 8x measure (e.g. 10000)")
    a = ap.parse_args()
    w, h = (int(v) for v in a.size.split("x"))
    import os

    threads = a.threads or os.cpu_count()
    frames = frames_for(w, h)
    auto = stylize.Model(a.model, threads=a.threads)
    on_ov = auto.info["device"] == "openvino"
    floats = stylize.Model(a.model, threads=a.threads, device=auto.info["device"], precision="bf16" if on_ov else "fp32")
    path = str(floats.path)
    print(f"model {a.model} {w}x{h}, {threads} threads; auto: {auto.info['why']}")
    print(f"float: {floats.info['why']}")
    ort_run = onnxruntime_loop(path, threads)
    ov_run, ov_precision = openvino_loop(path, threads, w, h)
    results = {k: [] for k in ["python call", "engine in it", "float model", "onnxruntime+numpy", f"openvino {ov_precision}+numpy"]}
    for r in range(a.rounds):
        auto(frames[0])
        before = auto._native._engine_seconds()
        results["python call"].append(timed(auto, frames, a.frames, warm=False))
        results["engine in it"].append((auto._native._engine_seconds() - before) / a.frames)
        results["float model"].append(timed(floats, frames, a.frames))
        results["onnxruntime+numpy"].append(timed(ort_run, frames, a.frames))
        results[f"openvino {ov_precision}+numpy"].append(timed(ov_run, frames, a.frames))
        print(f"round {r + 1}: " + ", ".join(f"{k} {1000 * v[-1]:.2f} ms" for k, v in results.items()), flush=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\nmedians of {a.rounds} rounds, {a.frames} frames each ({a.model}, {w}x{h}):")
    for k, v in med.items():
        print(f"  {k:28s} {1000 * v:8.2f} ms  {1 / v:8.2f} fps")
    over = [(p - e) / e for p, e in zip(results["python call"], results["engine in it"])]
    print(f"  overhead of the Python call over the engine: median of the rounds {100 * statistics.median(over):+.2f}% "
          f"({1e6 * statistics.median(p - e for p, e in zip(results['python call'], results['engine in it'])):.0f} us a call)")
    best_user = min(med["onnxruntime+numpy"], med[f"openvino {ov_precision}+numpy"])
    print(f"  stylize.Model auto vs the faster user loop: {best_user / med['python call']:.2f}x; "
          f"float model: {best_user / med['float model']:.2f}x")
    if a.calls:
        n1 = a.calls // 8
        for k in range(n1):
            auto(frames[k % len(frames)])
        one = rss_mb()
        for k in range(a.calls - n1):
            auto(frames[k % len(frames)])
        eight = rss_mb()
        print(f"  resident memory after {n1} calls: {one:.1f} MB, after {a.calls}: {eight:.1f} MB ({eight - one:+.1f} MB)")


if __name__ == "__main__":
    main()
