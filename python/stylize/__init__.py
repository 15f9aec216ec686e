"""stylize: real-time style transfer for images, video and webcams, from Python.

    import stylize
    model = stylize.Model("candy")             # a shipped model, an installed one, or a path to an .onnx
    out = model(frame)                          # HxWx3 uint8 RGB numpy array (or NxHxWx3, or a PIL image)
    stylize.transcode("in.mp4", "out.mp4", model="candy-lite", scale=0.5)   # audio kept
    for frame in stylize.frames("in.mp4"): ...  # decoded frames as arrays

The engine is the `stylize` command's (Rust): ONNX Runtime or OpenVINO, whichever is faster here
(`model.info` says which and why), INT8 models on CPUs with VNNI, tiles for frames of any size. The runtimes'
libraries come from the `onnxruntime` and `openvino` wheels this package depends on; nothing is downloaded
at run time. Errors are `stylize.Error` subclasses with the command's one-line messages.
"""

from __future__ import annotations

import glob
import importlib.util
import os
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Union

from . import _stylize
from ._stylize import (
    DeviceError,
    Error,
    Frames,
    InferenceError,
    InputError,
    ModelError,
    OutputError,
    RuntimeLibraryError,
)

__version__: str = _stylize.__version__
__all__ = [
    "Model", "models", "transcode", "frames", "Frames", "search_path",
    "Error", "ModelError", "RuntimeLibraryError", "DeviceError", "InputError", "OutputError", "InferenceError",
]


def _package_lib(package: str, pattern: str) -> Optional[str]:
    """The first library matching `pattern` inside an installed package, found without importing it."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(glob.glob(os.path.join(folder, pattern)))
        if found:
            return found[0]
    return None


def _configure() -> None:
    # An explicit choice (the variables the command reads too) wins over the wheels' libraries.
    ort = None if os.environ.get("ORT_DYLIB_PATH") else _package_lib("onnxruntime", "capi/libonnxruntime.so*")
    ov = None if os.environ.get("OPENVINO_INSTALL_DIR") else _package_lib("openvino", "libs/libopenvino_c.so*")
    bundled = Path(__file__).parent / "models"
    _stylize.configure(ort, ov, str(bundled) if bundled.is_dir() else None)


_configure()

PathLike = Union[str, "os.PathLike[str]"]


def _is_pil(obj: Any) -> bool:
    return type(obj).__module__.startswith("PIL.") and hasattr(obj, "convert")


class Model:
    """A style network loaded on a device, called on frames.

    Args:
        model: a model's name (``"candy"``, ``"mosaic-lite"``; see :func:`models`) or the path of an ``.onnx``.
        device: ``"auto"`` (TensorRT, CUDA, then the faster of OpenVINO and ONNX Runtime on the CPU), ``"cpu"``
            (ONNX Runtime), ``"openvino"``, ``"cuda"``, ``"tensorrt"``.
        precision: ``"auto"``, ``"fp32"``, ``"fp16"`` (GPUs), ``"bf16"`` (OpenVINO), ``"int8"`` (the model's INT8
            version; auto takes it on OpenVINO where the CPU has VNNI).
        threads: inference threads (default: every core).
        models_dir: a folder searched for models before the others.
        max_memory: memory a frame may use (``"2G"``, or bytes); larger frames run in tiles.

    Calls take turns on one model (it keeps its buffers from frame to frame) and release the GIL while the
    network runs, so other Python threads go on; for frames in parallel, load one model per thread.

    Raises:
        ModelError: the model is missing or not a style network.
        DeviceError: the device is not available.
    """

    def __init__(self, model: PathLike, device: str = "auto", precision: str = "auto", threads: Optional[int] = None,
                 models_dir: Optional[PathLike] = None, max_memory: Union[str, int, None] = None) -> None:
        self._native = _stylize.Model(os.fspath(model), device, precision, threads,
                                      None if models_dir is None else os.fspath(models_dir), max_memory)

    def __call__(self, frame: Any, strength: float = 1.0, preserve_color: bool = False,
                 style_mix: Union[str, Mapping[str, float], None] = None) -> Any:
        """Stylizes a frame.

        Args:
            frame: a numpy array of uint8 RGB, HxWx3 (any size) or a batch NxHxWx3; or a PIL image.
            strength: 0 gives the input back, 1 the full style; in between a blend.
            preserve_color: keep the input's colours, take only the strokes' brightness from the style.
            style_mix: for a multi-style model (``styles4-lite``), the weights of its styles, as a dict
                ``{"candy": 0.7, "mosaic": 0.3}`` or a string ``"candy=0.7,mosaic=0.3"``; None mixes them evenly.

        Returns:
            A new array of the input's shape (a PIL image for a PIL image).

        Raises:
            InputError: the frame is not uint8 RGB of a usable shape, or an argument is out of range.
        """
        if _is_pil(frame):
            import numpy
            from PIL import Image

            out = self._native(numpy.asarray(frame.convert("RGB")), strength, preserve_color, style_mix)
            return Image.fromarray(out)
        return self._native(frame, strength, preserve_color, style_mix)

    @property
    def info(self) -> Dict[str, Any]:
        """Where the model runs and why: model, device, precision, threads, io, why, styles."""
        return self._native.info

    @property
    def styles(self) -> List[str]:
        """A multi-style model's styles (the keys of ``style_mix``); empty for a one-style model."""
        return self._native.styles

    @property
    def path(self) -> Path:
        return Path(self._native.path)

    def __repr__(self) -> str:
        return repr(self._native)


def models(models_dir: Optional[PathLike] = None) -> List[Dict[str, Any]]:
    """The installed models: dicts with name, path, summary (the first line of its card), int8 (the path of its
    INT8 version or None) and broken (why it cannot be used, or None); looked for in `models_dir`, an installed
    `stylize`, your models folder (``~/.local/share/stylize/models``), ``./onnx`` and the models in this package."""
    return _stylize.models(None if models_dir is None else os.fspath(models_dir))


def search_path(models_dir: Optional[PathLike] = None) -> List[tuple]:
    """Where models are looked for, in order: (what, folder) pairs."""
    return _stylize.search_path(None if models_dir is None else os.fspath(models_dir))


def transcode(src: PathLike, dst: PathLike, model: PathLike = "mosaic",
              progress: Optional[Callable[[int, int], Any]] = None, **options: Any) -> Dict[str, Any]:
    """Stylizes a video (a file, a stream URL or an image sequence) into `dst` with the command's pipeline:
    audio, frame rate, rotation and metadata kept; the output appears only when complete.

    Args:
        src, dst: paths (or URLs, ``frames/%05d.png`` sequences).
        model: a model's name or path.
        progress: called as ``progress(done, total)`` about ten times a second (total is 0 when unknown).
        **options: ``stylize video``'s options by their Python names: ``scale=0.5``, ``size=(640, 360)``,
            ``crf=20``, ``codec="libx264"``, ``preset="veryfast"``, ``frames=100``, ``duration=5.0``,
            ``temporal=False``, ``strength=0.8``, ``preserve_color=True``, ``style_mix="candy=0.7,mosaic=0.3"``,
            ``device="openvino"``, ``precision="int8"``, ``threads=2``, ``parallel_frames=1``, ...

    Returns:
        A dict: output, frames, width, height, seconds, fps, codec, notes, line (the command's summary line).

    Raises:
        InputError, OutputError, ModelError: with the command's messages. Ctrl-C (KeyboardInterrupt), or an
        exception raised by `progress`, stops the job, removes the unfinished output and is raised again.
    """
    return _stylize.transcode(os.fspath(src), os.fspath(dst), os.fspath(model), progress, **options)


def frames(src: PathLike, scale: Optional[float] = None, size: Optional[tuple] = None) -> Frames:
    """The frames of a video as HxWx3 uint8 RGB arrays, decoded on a thread of their own. The iterator has
    width, height, fps and count (None when unknown); ``scale=0.5`` or ``size=(w, h)`` resize as the command does.
    A corrupt input raises InputError at the frame where it breaks."""
    return _stylize.frames(os.fspath(src), scale, size)
