"""Can FFmpeg decoder motion vectors (export_mvs) replace DIS optical flow?

Measures, per clip, on the temporal stage's small grey frames (BT.601 luma,
area-averaged by k = ceil(max(w, h) / 192), in square-root levels as the stage
compares them):
  * photometric warp error  mean |now(p) - bilinear(prev, p + flow(p))|  for
    zero flow, OpenCV DIS (ULTRAFAST, finest scale 1, 5 variational iters, as in
    the stage) and the decoder's motion vectors made dense (backward flow);
    "explained" = share of pixels with error < 3 grey levels. Both are taken
    over pixels whose source p + flow(p) lies inside the frame.
  * endpoint difference between the MV flow and the DIS flow (small-grid px,
    mean / median over all pixels of frames that carry vectors).
  * cost: ms per frame of DIS and of densifying the vectors, and whole-clip
    decode ms per frame without / with export_mvs (best of 2, one thread).

Motion vectors carry only a direction (source -1 past / +1 future), not which
reference frame. We use source < 0 vectors only and assume they point to the
most recent I/P frame before the current one in display order, at display
distance d; the vector is divided by d (linear motion) to get the flow to the
immediately previous frame. Frames without vectors (intra) get zero flow; so
do pixels no past-referencing block covers. Both are counted and printed.

Run:   python scripts/bench_flow.py [--frames 60] [CLIP ...]
       (default clips: OpenCV's vtest.avi and Megamind.avi as scripts/bench_temporal.sh caches them, ../shared's
       bikes.mp4, the demo clip)
Needs: PyAV (pip install av), numpy, opencv-python(-headless), e.g. in a venv of its own:
       python3 -m venv /tmp/flowvenv && /tmp/flowvenv/bin/pip install av numpy opencv-python-headless
"""
import argparse
import functools
import math
import os
import time

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # single-threaded timings
os.environ.setdefault("OMP_NUM_THREADS", "1")
import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
from av.video.frame import PictureType  # noqa: E402

# scripts/bench_temporal.sh caches OpenCV's sample clips; bikes.mp4 comes from ../shared, the demo clip with the project.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIPS = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "stylize", "clips")
DEFAULT_CLIPS = [
    os.path.join(CLIPS, "vtest.avi"),
    os.path.join(CLIPS, "Megamind.avi"),
    os.path.join(ROOT, "..", "shared", "data", "video", "bikes.mp4"),
    os.path.join(ROOT, "assets", "bigbuckbunny.mp4"),
]
CELL = 4  # all MPEG-4 / H.264 partitions are multiples of 4 px and 4-aligned


def small_grey(rgb, k):
    """BT.601 integer luma, area-averaged by k to (w//k, h//k), in square-root levels (the stage's SQRT_TONE), uint8."""
    rgb = rgb.astype(np.uint32)
    y = (77 * rgb[..., 0] + 150 * rgb[..., 1] + 29 * rgb[..., 2]) >> 8
    h, w = y.shape[0] // k, y.shape[1] // k
    y = np.round(y[: h * k, : w * k].reshape(h, k, w, k).mean(axis=(1, 3)))
    return np.floor(255.0 * np.sqrt(y / 255.0) + 0.5).astype(np.uint8)


@functools.lru_cache(maxsize=None)
def area_matrix(n_small, k, n_cells):
    """(n_small, n_cells) weights: small pixel j = mean of full-res px j*k..j*k+k-1."""
    m = np.zeros((n_small, n_cells), np.float32)
    px = np.arange(n_small * k)
    np.add.at(m, (px // k, px // CELL), 1.0 / k)
    return m


def mv_flow(mvs, d, full_hw, k):
    """Past-referencing vectors -> dense backward flow on the small grid.
    Returns (flow HxWx2 float32, covered share of the small grid)."""
    H, W = full_hw
    a = mvs[mvs["source"] < 0]
    nw, nh = a["w"].astype(np.int64) // CELL, a["h"].astype(np.int64) // CELL
    x0 = (a["dst_x"].astype(np.int64) - a["w"] // 2) // CELL
    y0 = (a["dst_y"].astype(np.int64) - a["h"] // 2) // CELL
    scale = a["motion_scale"].astype(np.float32) * d
    # motion = src - dst: where the block was in the reference = backward flow
    fx, fy = a["motion_x"] / scale, a["motion_y"] / scale
    n = nw * nh  # expand every block into its CELL x CELL cells
    idx = np.repeat(np.arange(len(a)), n)
    local = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    cx, cy = x0[idx] + local % nw[idx], y0[idx] + local // nw[idx]
    Hc, Wc = -(-H // CELL), -(-W // CELL)
    ok = (cx >= 0) & (cx < Wc) & (cy >= 0) & (cy < Hc)
    vals = np.stack([fx, fy, np.ones_like(fx)], 1).astype(np.float32)  # per block
    grid = np.zeros((Hc * Wc, 3), np.float32)  # fx, fy, covered; on the cell grid
    grid[(cy * Wc + cx)[ok]] = vals[idx[ok]]
    my, mx = area_matrix(H // k, k, Hc), area_matrix(W // k, k, Wc)
    sm = mx @ (my @ grid.reshape(Hc, -1)).reshape(-1, Wc, 3)  # exact area mean
    return sm[..., :2] / k, float((sm[..., 2] > 0.5).mean())


def warp_err(now, prev, flow):
    """Mean abs error and explained share over pixels whose source is inside."""
    h, w = now.shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = gx + flow[..., 0], gy + flow[..., 1]
    warped = cv2.remap(prev.astype(np.float32), mx, my, cv2.INTER_LINEAR)
    valid = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    e = np.abs(now.astype(np.float32) - warped)[valid]
    return float(e.mean()), float((e < 3).mean())


def decode_ms(path, export, reps=2):
    best = math.inf
    for _ in range(reps):
        with av.open(path) as c:
            s = c.streams.video[0]
            s.thread_type, s.codec_context.thread_count = "SLICE", 1
            if export:
                s.codec_context.options = {"flags2": "+export_mvs"}
            t, n = time.perf_counter(), 0
            for f in c.decode(s):
                if export:
                    f.side_data.get("MOTION_VECTORS")
                n += 1
            best = min(best, (time.perf_counter() - t) * 1000 / n)
    return best


def bench(path, frames):
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
    dis.setFinestScale(1)
    dis.setVariationalRefinementIterations(5)
    c = av.open(path)
    s = c.streams.video[0]
    s.thread_type, s.codec_context.thread_count = "SLICE", 1
    s.codec_context.options = {"flags2": "+export_mvs"}
    codec, W, H = s.codec_context.name, s.codec_context.width, s.codec_context.height
    k = math.ceil(max(W, H) / 192)  # the stage's FLOW_SIDE
    prev, last_anchor = None, None
    R = {key: [] for key in "ez ed em xz xd xm epe t_dis t_mv cov".split()}
    cnt = {"intra": 0, "scaled": 0, "types": ""}
    for i, f in enumerate(c.decode(s)):
        if i >= frames:
            break
        ptype = PictureType(int(f.pict_type)).name  # I, P, B, S (MPEG-4 GMC), ...
        cnt["types"] += ptype[0]
        now = small_grey(f.to_ndarray(format="rgb24"), k)
        if prev is not None:
            t = time.perf_counter()
            fd = dis.calc(now, prev, None)
            R["t_dis"].append(time.perf_counter() - t)
            t = time.perf_counter()
            sd = f.side_data.get("MOTION_VECTORS")
            d = i - last_anchor if last_anchor is not None else 1
            if sd is None or ptype in ("I", "SI", "BI"):
                fm, cov = np.zeros_like(fd), 0.0
                cnt["intra"] += 1
            else:
                fm, cov = mv_flow(sd.to_ndarray(), d, (H, W), k)
                R["t_mv"].append(time.perf_counter() - t)
                R["cov"].append(cov)
                R["epe"].append(np.hypot(*(fm - fd).transpose(2, 0, 1)).ravel())
                cnt["scaled"] += d > 1
            for tag, fl in (("z", np.zeros_like(fd)), ("d", fd), ("m", fm)):
                e, x = warp_err(now, prev, fl)
                R["e" + tag].append(e)
                R["x" + tag].append(x)
        if ptype != "B":  # I/P/S frames are the anchors B-frames refer to
            last_anchor = i
        prev = now
    c.close()
    epe = np.concatenate(R["epe"]) if R["epe"] else np.array([np.nan])
    m = lambda key, mul=1: mul * float(np.mean(R[key])) if R[key] else float("nan")
    row = (f"{os.path.basename(path):<17}{codec:<10}{len(cnt['types']):>4}  "
           f"{m('ez'):5.2f} {m('ed'):5.2f} {m('em'):5.2f}   "
           f"{m('xz', 100):4.0f}% {m('xd', 100):4.0f}% {m('xm', 100):4.0f}%  "
           f"{epe.mean():5.2f} {np.median(epe):5.2f}  "
           f"{m('t_dis', 1000):6.2f} {m('t_mv', 1000):6.2f}  "
           f"{decode_ms(path, False):6.2f} {decode_ms(path, True):6.2f}")
    info = (f"    {W}x{H} k={k} -> {W // k}x{H // k}; pairs={len(R['ez'])}, "
            f"no-vector (intra) frames={cnt['intra']}, MV frames scaled by 1/d (d>1)="
            f"{cnt['scaled']}, pixels uncovered on MV frames={100 - m('cov', 100):.1f}%, "
            f"display order types: {cnt['types']}")
    return row, info


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("clips", nargs="*", default=DEFAULT_CLIPS)
    args = ap.parse_args()
    cv2.setNumThreads(1)
    print(f"PyAV {av.__version__}, libavcodec {av.library_versions['libavcodec']}, "
          f"OpenCV {cv2.__version__}")
    print(f"{'clip':<17}{'codec':<10}{'frm':>4}  {'warp err zero/DIS/MV':<21} "
          f"{'explained zero/DIS/MV':<22}{'EPE mean/med':<13} "
          f"{'ms DIS / MV':<14}{'decode ms plain/mvs'}")
    for path in args.clips:
        if not os.path.exists(path):
            print(f"{path}: missing, skipped")
            continue
        row, info = bench(path, args.frames)
        print(row)
        print(info)


if __name__ == "__main__":
    main()
