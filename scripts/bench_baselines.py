#!/usr/bin/env python3
"""What users would write instead of stylize, timed on the same ONNX file and clip.

(a) python onnxruntime + OpenCV: read a frame, convert, infer, convert back, write it (one thread of
    Python, ONNX Runtime's own intra-op threads);
(b) the same network in PyTorch eager (weights loaded by name from the ONNX file's initializers, which
    use pytorch/examples TransformerNet's state_dict names), same frames, same read/write;
(c) python OpenVINO on the same ONNX file (LATENCY hint, same threads, reshaped to the frame size once), at
    f32 and at OpenVINO's default precision on this CPU (bf16 where the CPU has it natively).

Prints one JSON line per baseline: {"name", "frames", "seconds", "fps", "infer_fps"}.
Run by scripts/bench_all.sh with the venv it makes (onnxruntime, opencv-python-headless, torch, onnx, openvino).
"""
import argparse
import json
import time

import cv2
import numpy as np


def frames_of(path):
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise SystemExit(f"error: cannot open {path}")
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    return cap, fps, (w, h)


def to_input(bgr):
    return np.ascontiguousarray(bgr[:, :, ::-1].transpose(2, 0, 1)[None].astype(np.float32))


def to_frame(y, h, w):
    return np.clip(y[0, :, :h, :w], 0, 255).round().astype(np.uint8).transpose(1, 2, 0)[:, :, ::-1].copy()


def loop(name, clip, out, infer):
    cap, fps, (w, h) = frames_of(clip)
    writer = cv2.VideoWriter(out, cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    n, infer_s, start = 0, 0.0, time.perf_counter()
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        t = time.perf_counter()
        y = infer(to_input(bgr))
        infer_s += time.perf_counter() - t
        writer.write(to_frame(y, h, w))
        n += 1
    writer.release()
    secs = time.perf_counter() - start
    print(json.dumps({"name": name, "frames": n, "seconds": round(secs, 3), "fps": round(n / secs, 3), "infer_fps": round(n / infer_s, 3)}), flush=True)


def onnxruntime_infer(model, threads):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    sess = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    return lambda x: sess.run(["output"], {"input": x})[0]


def openvino_infer(model, clip, threads, precision=None):
    """`precision` None: OpenVINO's own default for the CPU. Compiled for the clip's frame size before the loop
    (as stylize compiles before its timed frames). Returns (infer, the precision it runs at)."""
    import openvino as ov

    core = ov.Core()
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads}
    if precision:
        config["INFERENCE_PRECISION_HINT"] = precision
    net = core.read_model(model)
    cap, _, (w, h) = frames_of(clip)
    cap.release()
    # Johnson nets take multiples of 4 (lite: 8): pad like the others.
    ph, pw = -h % 8, -w % 8
    net.reshape({net.inputs[0]: [1, 3, h + ph, w + pw]})
    compiled = core.compile_model(net, "CPU", config)
    request = compiled.create_infer_request()

    def infer(x):
        if ph or pw:
            x = np.pad(x, ((0, 0), (0, 0), (0, ph), (0, pw)), mode="edge")
        return request.infer({0: x})[0]

    return infer, compiled.get_property("INFERENCE_PRECISION_HINT").to_string()  # f32, bf16


def torch_infer(model, threads):
    import torch
    from torch import nn

    from johnson_torch import from_onnx

    torch.set_num_threads(threads)
    net = from_onnx(model)

    def infer(x):
        h, w = x.shape[2:]
        ph, pw = -h % net.multiple, -w % net.multiple
        with torch.inference_mode():
            t = torch.from_numpy(x)
            if ph or pw:
                t = nn.functional.pad(t, (0, pw, 0, ph), mode="replicate")
            return net(t).numpy()

    return infer


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--clip", required=True)
    ap.add_argument("--out", required=True, help="scratch output video path")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", choices=["onnxruntime", "torch", "openvino"])
    a = ap.parse_args()
    cv2.setNumThreads(1)
    if a.only in (None, "onnxruntime"):
        loop("python onnxruntime + opencv", a.clip, a.out, onnxruntime_infer(a.model, a.threads))
    if a.only in (None, "torch"):
        loop("pytorch eager + opencv", a.clip, a.out, torch_infer(a.model, a.threads))
    if a.only in (None, "openvino"):
        infer, _ = openvino_infer(a.model, a.clip, a.threads, "f32")
        loop("python openvino f32 + opencv", a.clip, a.out, infer)
        infer, precision = openvino_infer(a.model, a.clip, a.threads)
        loop(f"python openvino default ({precision}) + opencv", a.clip, a.out, infer)


if __name__ == "__main__":
    main()
