"""The Python package against the command: same pixels, same messages, clean stops. Run by the README's test
command (scripts/setup.sh test) after the Rust tests, with the package built into .deps/python."""

import glob
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import stylize

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
LITE = "candy-lite"


def stylize_bin() -> Path:
    """The command built from this checkout (the tests' debug build, or a release build), the newest."""
    found = [p for p in (ROOT / "target/debug/stylize", ROOT / "target/release/stylize") if p.is_file()]
    if not found:
        pytest.skip("no stylize binary in target/: run cargo build first")
    return max(found, key=lambda p: p.stat().st_mtime)


def photo(w=203, h=151, seed=1) -> np.ndarray:
    """A picture with edges and gradients (odd sides, to exercise the padding)."""
    y, x = np.mgrid[0:h, 0:w]
    rng = np.random.default_rng(seed)
    img = np.stack([(x * 255 // w), (y * 255 // h), ((x + y) * 3) % 256], -1).astype(np.uint8)
    img[h // 3: h // 2, w // 4: w // 2] = rng.integers(0, 255, 3, dtype=np.uint8)
    return img


def clip(path: Path, seconds=2, size="160x120", audio=True):
    """A test clip with a moving pattern and (optionally) a tone, made by the ffmpeg CLI."""
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"testsrc2=size={size}:rate=24:duration={seconds}"]
    if audio:
        cmd += ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-c:a", "aac", "-shortest"]
    cmd += ["-c:v", "libx264", "-pix_fmt", "yuv420p", str(path)]
    subprocess.run(cmd, check=True)
    return path


def streams(path: Path):
    out = subprocess.run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", str(path)], check=True, capture_output=True, text=True)
    return [s["codec_type"] for s in json.loads(out.stdout)["streams"]]


@pytest.fixture(scope="module")
def model():
    return stylize.Model(LITE, device="cpu")


# --- the same pixels as the command ---------------------------------------------------------------------


@pytest.mark.parametrize("device,precision", [("cpu", "auto"), ("openvino", "fp32")])
def test_output_equals_stylize_image(tmp_path, device, precision):
    # A PNG, so both read the same pixels (JPEG decoders differ by a level here and there).
    jpg = SHARED / "content" / "amber.jpg"
    frame = np.asarray(Image.open(jpg).convert("RGB")) if jpg.is_file() else photo()
    src = tmp_path / "in.png"
    Image.fromarray(frame).save(src)
    out = tmp_path / "out.png"
    subprocess.run([str(stylize_bin()), "image", "-q", "-m", LITE, "--device", device, "--precision", precision, str(src), "-o", str(out)], check=True, cwd=ROOT)
    want = np.asarray(Image.open(out).convert("RGB")).astype(int)
    got = stylize.Model(LITE, device=device, precision=precision)(frame).astype(int)
    assert got.shape == want.shape
    diff = np.abs(got - want)
    assert diff.max() <= 1 and diff.mean() < 0.01, f"max {diff.max()}, mean {diff.mean():.4f}"


# --- shapes, types, batches -----------------------------------------------------------------------------


def test_shapes_dtypes_and_any_size(model):
    for h, w in [(151, 203), (64, 64), (37, 18)]:
        out = model(photo(w, h))
        assert out.shape == (h, w, 3) and out.dtype == np.uint8
        assert out.std() > 5, "a stylized picture is not flat"


def test_batch_equals_frame_by_frame(model):
    frames = np.stack([photo(seed=s) for s in range(3)])
    batch = model(frames)
    assert batch.shape == frames.shape
    for k in range(3):
        assert np.array_equal(batch[k], model(frames[k]))


def test_pil_in_pil_out(model):
    frame = photo()
    out = model(Image.fromarray(frame))
    assert isinstance(out, Image.Image) and out.size == (frame.shape[1], frame.shape[0])
    assert np.array_equal(np.asarray(out), model(frame))
    # Other modes are converted to RGB first, as the command reads them.
    grey = Image.fromarray(frame).convert("L")
    assert np.asarray(model(grey)).shape == frame.shape


def test_strided_input_equals_its_copy(model):
    bgr = photo()[..., ::-1]  # OpenCV's BGR turned into RGB: a view with negative strides
    assert not bgr.flags["C_CONTIGUOUS"]
    assert np.array_equal(model(bgr), model(np.ascontiguousarray(bgr)))


def test_strength_and_preserve_color(model):
    frame = photo()
    assert np.array_equal(model(frame, strength=0.0), frame)
    full, half = model(frame).astype(int), model(frame, strength=0.5).astype(int)
    assert np.abs(half - (frame.astype(int) + full) / 2).max() <= 1
    kept = model(frame, preserve_color=True).astype(float)
    # The input's chroma survives: R-G and B-G differences follow the input, not the style.
    chroma = lambda a: np.stack([a[..., 0] - a[..., 1], a[..., 2] - a[..., 1]])
    assert np.abs(chroma(kept) - chroma(frame.astype(float))).mean() < np.abs(chroma(full) - chroma(frame.astype(float))).mean() / 2


def test_style_mix():
    multi = stylize.Model("styles4-lite", device="cpu")
    assert len(multi.styles) == 4
    frame = photo()
    a, b = multi.styles[:2]
    only_a = multi(frame, style_mix={a: 1.0})
    assert np.array_equal(only_a, multi(frame, style_mix=f"{a}=1"))
    assert not np.array_equal(only_a, multi(frame, style_mix={b: 1.0}))
    # None goes back to the even mix.
    assert np.array_equal(multi(frame), multi(frame, style_mix={s: 0.25 for s in multi.styles}))
    with pytest.raises(stylize.InputError, match="nonesuch"):
        multi(frame, style_mix={"nonesuch": 1.0})


def test_info_and_models(model):
    info = model.info
    assert info["device"] == "cpu" and info["precision"] == "fp32" and info["model"].name == f"{LITE}.onnx"
    assert "model" in info["why"] and info["io"].startswith("io:")
    names = {m["name"]: m for m in stylize.models()}
    assert {"candy", "mosaic-lite", "styles4-lite"} <= names.keys()
    assert names["candy"]["summary"] and names["candy-lite"]["int8"] and names["candy"]["broken"] is None


# --- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("frame,match", [
    (np.zeros((32, 32, 3), np.float32), "uint8.*astype"),
    (np.zeros((32, 32), np.uint8), "HxWx3"),
    (np.zeros((32, 32, 4), np.uint8), "alpha"),
    (np.zeros((0, 32, 3), np.uint8), "empty"),
    ([[1, 2, 3]], "numpy array"),
])
def test_bad_frames_raise_input_error(model, frame, match):
    with pytest.raises(stylize.InputError, match=match):
        model(frame)


def test_bad_arguments(model, tmp_path):
    with pytest.raises(stylize.InputError, match="strength"):
        model(photo(), strength=2.0)
    with pytest.raises(stylize.InputError, match="device"):
        stylize.Model(LITE, device="tpu")
    with pytest.raises(stylize.InputError, match="one style"):
        model(photo(), style_mix="candy=1")


def test_missing_and_corrupt_models(tmp_path):
    with pytest.raises(stylize.ModelError, match="not found"):
        stylize.Model("no-such-model")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not a protobuf" * 10)
    with pytest.raises(stylize.ModelError, match="broken.onnx"):
        stylize.Model(broken)
    assert issubclass(stylize.ModelError, stylize.Error)


def test_no_gpu_is_an_error_not_a_crash():
    # This machine's ONNX Runtime has no CUDA provider (the CPU wheel); a GPU machine would load it instead.
    try:
        m = stylize.Model(LITE, device="cuda")
    except stylize.DeviceError as e:
        assert "cuda" in str(e).lower()
    else:
        assert m.info["device"] == "cuda"


# --- threads --------------------------------------------------------------------------------------------


def test_threads_give_the_same_results(model):
    frames = [photo(seed=s) for s in range(6)]
    want = [model(f) for f in frames]
    other = stylize.Model(LITE, device="cpu")
    got = [None] * len(frames)

    def work(k):
        m = model if k % 2 else other  # one model shared by threads, and one of its own
        got[k] = m(frames[k])

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(frames))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(got, want):
        assert np.array_equal(a, b)


# --- video ----------------------------------------------------------------------------------------------


def test_transcode_keeps_audio_and_reports_progress(tmp_path):
    src = clip(tmp_path / "in.mp4")
    dst = tmp_path / "out.mp4"
    seen = []
    summary = stylize.transcode(src, dst, model=LITE, progress=lambda done, total: seen.append((done, total)), device="cpu", temporal=False)
    assert dst.is_file() and summary["frames"] == 48 and summary["output"] == dst
    assert streams(dst) == ["video", "audio"]
    assert seen and seen[-1][0] == 48 and seen[-1][1] == 48
    assert all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))


def test_transcode_options_and_errors(tmp_path):
    src = clip(tmp_path / "in.mp4", audio=False)
    out = stylize.transcode(src, tmp_path / "half.mp4", model=LITE, scale=0.5, frames=5, device="cpu")
    assert (out["width"], out["height"], out["frames"]) == (80, 60, 5)
    with pytest.raises(stylize.InputError, match="not found"):
        stylize.transcode(tmp_path / "missing.mp4", tmp_path / "x.mp4", model=LITE)
    with pytest.raises(stylize.InputError, match="unexpected argument 'no_such_option'"):
        stylize.transcode(src, tmp_path / "x.mp4", model=LITE, no_such_option=1)
    with pytest.raises(stylize.OutputError):
        stylize.transcode(src, tmp_path / "no-such-folder" / "x.mp4", model=LITE, device="cpu")
    assert not (tmp_path / "x.mp4").exists()


def test_ctrl_c_stops_a_transcode_and_leaves_nothing(tmp_path):
    src = clip(tmp_path / "in.mp4", seconds=20, size="320x240")
    dst = tmp_path / "out.mp4"
    sent = []

    def progress(done, total):
        if done > 0 and not sent:
            sent.append(done)
            os.kill(os.getpid(), signal.SIGINT)  # what Ctrl-C does: Python's handler raises KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stylize.transcode(src, dst, model=LITE, progress=progress, device="cpu")
    assert sent and not dst.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mp4"], "no temporary output left"
    # The process goes on, and the next transcode runs in full.
    assert stylize.transcode(src, dst, model=LITE, frames=3, device="cpu")["frames"] == 3


def test_an_exception_in_progress_stops_the_job(tmp_path):
    src = clip(tmp_path / "in.mp4", seconds=10)
    dst = tmp_path / "out.mp4"

    def progress(done, total):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        stylize.transcode(src, dst, model=LITE, progress=progress, device="cpu")
    assert not dst.exists()


def test_frames(tmp_path):
    src = clip(tmp_path / "in.mp4")
    with stylize.frames(src) as frames:
        assert (frames.width, frames.height, frames.fps, frames.count) == (160, 120, 24.0, 48)
        got = list(frames)
    assert len(got) == 48 and got[0].shape == (120, 160, 3) and got[0].dtype == np.uint8
    assert not np.array_equal(got[0], got[-1]), "the pattern moves"
    half = next(iter(stylize.frames(src, scale=0.5)))
    assert half.shape == (60, 80, 3)
    with pytest.raises(stylize.InputError, match="not found"):
        stylize.frames(tmp_path / "missing.mp4")
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(b"\x00" * 4096)
    with pytest.raises(stylize.InputError):
        list(stylize.frames(corrupt))


# --- the wheel ------------------------------------------------------------------------------------------


def test_wheel_installs_into_a_fresh_environment(tmp_path):
    wheels = sorted(glob.glob(str(ROOT / "target/wheels/stylize-*.whl")))
    if not wheels:
        pytest.skip("no wheel in target/wheels: scripts/setup.sh python builds it")
    # Offline: its dependencies from the wheelhouse scripts/setup.sh python fills, the package from the wheel.
    house = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "stylize" / "wheelhouse"
    if not list(house.glob("onnxruntime-*.whl")):
        pytest.skip(f"no wheelhouse in {house}: scripts/setup.sh python fills it")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin/pip"), "install", "-q", "--no-index", "--find-links", str(house), wheels[-1]], check=True, timeout=900)
    code = "import stylize, numpy; ms = stylize.models(); m = stylize.Model('candy-lite'); " \
           "print(len(ms), m(numpy.zeros((32, 48, 3), numpy.uint8)).shape, m.info['device'])"
    # From another folder, so only the package's own models are there to find.
    out = subprocess.run([str(venv / "bin/python"), "-c", code], check=True, capture_output=True, text=True, cwd=tmp_path, env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)})
    count, rest = out.stdout.split(" ", 1)
    assert int(count) >= 13 and rest.startswith("(32, 48, 3)"), out.stdout


def test_a_missing_runtime_says_what_to_install(tmp_path):
    # A fresh interpreter whose ONNX Runtime path points nowhere: the message names the pip package.
    code = "import stylize\ntry:\n    stylize.Model('candy-lite', device='cpu')\nexcept stylize.RuntimeLibraryError as e:\n    print(e)\n"
    env = dict(os.environ, ORT_DYLIB_PATH=str(tmp_path / "libonnxruntime.so.1.31.1"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert "pip install onnxruntime" in out.stdout, out.stdout + out.stderr
