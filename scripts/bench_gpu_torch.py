#!/usr/bin/env python3
"""PyTorch baselines for scripts/bench_gpu.sh, on the same ONNX weights, on one CUDA GPU.

  eager-u8-host   PyTorch eager fp32: uint8 HxWx3 frame in host memory -> GPU -> float NCHW -> net ->
                  clamp/round -> uint8 -> host (what a user's transcode loop does); ms per frame
  eager-gpu       PyTorch eager fp32, float frame already on the GPU (engine time)
  compile-fp16    torch.compile(mode="max-autotune-no-cudagraphs"), fp16, channels-last, frame on the GPU
                  (the anchor of the GPU issue; the compile takes a minute or two per shape)

Prints one JSON line per measurement: {"name", "model", "size", "ms", "fps"}.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from johnson_torch import from_onnx  # noqa: E402


def gpu_ms(fn, frames):
    """Mean GPU time per call (CUDA events), after the caller's warm-up."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(frames):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / frames


def report(name, model, size, ms):
    print(json.dumps({"name": name, "model": os.path.basename(model), "size": size, "ms": round(ms, 3), "fps": round(1000 / ms, 1)}), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--sizes", default="1280x720,1920x1080")
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--modes", default="eager-u8-host,eager-gpu,compile-fp16")
    a = ap.parse_args()
    modes = a.modes.split(",")
    dev = torch.device("cuda")
    net = from_onnx(a.model).to(dev)
    m = net.multiple
    for size in a.sizes.split(","):
        w, h = map(int, size.split("x"))
        ph, pw = -h % m, -w % m
        frame = np.random.RandomState(0).randint(0, 256, (h, w, 3), dtype=np.uint8)
        with torch.inference_mode():
            if "eager-u8-host" in modes:
                def round_trip():
                    x = torch.from_numpy(frame).to(dev).permute(2, 0, 1)[None].float()
                    if ph or pw:
                        x = nn.functional.pad(x, (0, pw, 0, ph), mode="reflect")
                    y = net(x)[:, :, :h, :w].clamp(0, 255).round().to(torch.uint8)
                    return y[0].permute(1, 2, 0).cpu().numpy()
                for _ in range(5):
                    round_trip()
                t = time.perf_counter()
                for _ in range(a.frames):
                    round_trip()
                report("pytorch eager fp32, uint8 host round trip", a.model, size, (time.perf_counter() - t) * 1000 / a.frames)
            x = torch.rand(1, 3, h + ph, w + pw, device=dev) * 255
            if "eager-gpu" in modes:
                for _ in range(5):
                    net(x)
                report("pytorch eager fp32, frame on GPU", a.model, size, gpu_ms(lambda: net(x), a.frames))
            if "compile-fp16" in modes:
                cnet = torch.compile(net.half().to(memory_format=torch.channels_last), mode="max-autotune-no-cudagraphs")
                xh = x.half().contiguous(memory_format=torch.channels_last)
                t = time.perf_counter()
                for _ in range(3):
                    cnet(xh)
                torch.cuda.synchronize()
                print(f"# compile took {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
                report("torch.compile max-autotune fp16 channels-last, frame on GPU", a.model, size, gpu_ms(lambda: cnet(xh), a.frames))
                net.float().to(memory_format=torch.contiguous_format)


if __name__ == "__main__":
    main()
