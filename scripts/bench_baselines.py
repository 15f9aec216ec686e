#!/usr/bin/env python3
"""What users would write instead of stylize, timed on the same ONNX file and clip.

(a) python onnxruntime + OpenCV: read a frame, convert, infer, convert back, write it (one thread of
    Python, ONNX Runtime's own intra-op threads);
(b) the same network in PyTorch eager (weights loaded by name from the ONNX file's initializers, which
    use pytorch/examples TransformerNet's state_dict names), same frames, same read/write.

Prints one JSON line per baseline: {"name", "frames", "seconds", "fps", "infer_fps"}.
Run by scripts/bench_all.sh with the venv it makes (onnxruntime, opencv-python-headless, torch, onnx).
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


def torch_infer(model, threads):
    import onnx
    import torch
    from onnx import numpy_helper
    from torch import nn

    torch.set_num_threads(threads)
    state = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in onnx.load(model).graph.initializer if not t.name.startswith("const.")}

    class ConvLayer(nn.Module):
        def __init__(self, cin, cout, k, stride):
            super().__init__()
            self.pad = nn.ReflectionPad2d(k // 2)
            self.conv2d = nn.Conv2d(cin, cout, k, stride)

        def forward(self, x):
            return self.conv2d(self.pad(x))

    class Residual(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.conv1, self.in1 = ConvLayer(c, c, 3, 1), nn.InstanceNorm2d(c, affine=True)
            self.conv2, self.in2 = ConvLayer(c, c, 3, 1), nn.InstanceNorm2d(c, affine=True)

        def forward(self, x):
            return x + self.in2(self.conv2(torch.relu(self.in1(self.conv1(x)))))

    class TransformerNet(nn.Module):
        """pytorch/examples fast_neural_style, widths and blocks read from the weights."""

        def __init__(self):
            super().__init__()
            w0, w1, w2 = (state[f"{n}.conv2d.weight"].shape[0] for n in ("conv1", "conv2", "conv3"))
            k = state["conv1.conv2d.weight"].shape[-1]
            blocks = len({n.split(".")[0] for n in state if n.startswith("res")})
            self.conv1, self.in1 = ConvLayer(3, w0, k, 1), nn.InstanceNorm2d(w0, affine=True)
            self.conv2, self.in2 = ConvLayer(w0, w1, 3, 2), nn.InstanceNorm2d(w1, affine=True)
            self.conv3, self.in3 = ConvLayer(w1, w2, 3, 2), nn.InstanceNorm2d(w2, affine=True)
            for i in range(1, blocks + 1):
                setattr(self, f"res{i}", Residual(w2))
            self.blocks = blocks
            self.deconv1, self.in4 = ConvLayer(w2, w1, 3, 1), nn.InstanceNorm2d(w1, affine=True)
            self.deconv2, self.in5 = ConvLayer(w1, w0, 3, 1), nn.InstanceNorm2d(w0, affine=True)
            self.deconv3 = ConvLayer(w0, 3, k, 1)

        def forward(self, x):
            up = lambda y: nn.functional.interpolate(y, scale_factor=2, mode="nearest")
            y = torch.relu(self.in1(self.conv1(x)))
            y = torch.relu(self.in2(self.conv2(y)))
            y = torch.relu(self.in3(self.conv3(y)))
            for i in range(1, self.blocks + 1):
                y = getattr(self, f"res{i}")(y)
            y = torch.relu(self.in4(self.deconv1(up(y))))
            y = torch.relu(self.in5(self.deconv2(up(y))))
            return self.deconv3(y)

    net = TransformerNet().eval()
    net.load_state_dict(state)

    def infer(x):
        h, w = x.shape[2:]
        ph, pw = -h % 4, -w % 4
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
    ap.add_argument("--only", choices=["onnxruntime", "torch"])
    a = ap.parse_args()
    cv2.setNumThreads(1)
    if a.only in (None, "onnxruntime"):
        loop("python onnxruntime + opencv", a.clip, a.out, onnxruntime_infer(a.model, a.threads))
    if a.only in (None, "torch"):
        loop("pytorch eager + opencv", a.clip, a.out, torch_infer(a.model, a.threads))


if __name__ == "__main__":
    main()
