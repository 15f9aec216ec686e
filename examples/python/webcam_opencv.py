#!/usr/bin/env python3
"""A webcam (or any video OpenCV opens) stylized live in an OpenCV window: the loop people write with OpenCV,
with stylize doing the network. q or Esc quits; 1-9 switch to the n-th installed model.

    python examples/python/webcam_opencv.py                      # camera 0, the default model
    python examples/python/webcam_opencv.py -m candy-lite --source 1
    python examples/python/webcam_opencv.py --source clip.mp4 --no-window --output out.mp4 --frames 100

Needs opencv-python (or opencv-python-headless with --no-window).
"""
import argparse
import sys
import time

import cv2

import stylize


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", default="mosaic-lite")
    ap.add_argument("--source", default="0", help="camera index, file or URL (default: camera 0)")
    ap.add_argument("--strength", type=float, default=1.0)
    ap.add_argument("--output", help="also write the stylized frames to this video file")
    ap.add_argument("--frames", type=int, default=0, help="stop after this many frames (0: until the end or q)")
    ap.add_argument("--no-window", action="store_true", help="no window (headless machines)")
    a = ap.parse_args()

    source = int(a.source) if a.source.isdigit() else a.source
    cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        print(f"error: cannot open video source {a.source!r} (no camera? try --source FILE)", file=sys.stderr)
        return 1
    try:
        model = stylize.Model(a.model)
    except stylize.Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(model.info["why"], file=sys.stderr)
    names = [m["name"] for m in stylize.models()]
    writer = None
    n, start = 0, time.perf_counter()
    while a.frames == 0 or n < a.frames:
        ok, bgr = cap.read()
        if not ok:
            break
        # OpenCV's BGR as RGB is a view (no copy); stylize reads it as it is.
        rgb = model(bgr[:, :, ::-1], strength=a.strength)
        out = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
        n += 1
        if a.output:
            if writer is None:
                fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
                writer = cv2.VideoWriter(a.output, cv2.VideoWriter_fourcc(*"mp4v"), fps, (out.shape[1], out.shape[0]))
            writer.write(out)
        if not a.no_window:
            cv2.imshow("stylize", out)
            key = cv2.waitKey(1) & 0xFF
            if key in (ord("q"), 27):
                break
            if ord("1") <= key <= ord("9") and key - ord("1") < len(names):
                model = stylize.Model(names[key - ord("1")])
    secs = time.perf_counter() - start
    cap.release()
    if writer is not None:
        writer.release()
    cv2.destroyAllWindows() if not a.no_window else None
    print(f"{n} frames in {secs:.2f} s: {n / max(secs, 1e-9):.2f} fps", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
