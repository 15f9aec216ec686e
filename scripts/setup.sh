#!/usr/bin/env bash
# Sets up a fresh Debian 12 / Ubuntu machine for stylize, then optionally runs something. Idempotent and
# cache-friendly: every step is skipped when its result is already there.
#
#   scripts/setup.sh              # system packages, Rust, the ONNX Runtime and OpenVINO libraries (CPU) into .deps/
#   scripts/setup.sh demo         # ... then build and run `stylize demo` (writes demo_out.mp4)
#   scripts/setup.sh test         # ... plus the trainer's libtorch, then `cargo test --workspace`
#   scripts/setup.sh --train      # ... plus libtorch for the trainer (scripts/setup_train.sh)
#   scripts/setup.sh --gpu        # ... plus the CUDA build of ONNX Runtime and its CUDA libraries
#   scripts/setup.sh --dask       # ... plus Dask (a Python environment in .deps/dask) for scripts/dask_transcode.py
#   scripts/setup.sh --quant      # ... plus the INT8 quantizer (NNCF) for scripts/quantize.sh
#   scripts/setup.sh python       # ... then build the Python package (python/) and install it into .deps/python
#   scripts/setup.sh gst          # ... then build the GStreamer element into target/gstreamer-1.0 (GST_PLUGIN_PATH)
#   scripts/setup.sh install [--prefix DIR]   # ... then build and install stylize into DIR (default ~/.local)
#   scripts/setup.sh uninstall [--prefix DIR] # remove exactly what install put there
set -euo pipefail

ORT_VERSION=1.31.1
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/stylize"
cd "$ROOT"

GPU=0 TRAIN=0 DASK=0 QUANT=0 PYTHON=0 ACTION="" PREFIX_ARGS=()
while (($#)); do
    case "$1" in
        --gpu) GPU=1 ;;
        --train) TRAIN=1 ;;
        --dask) DASK=1 ;;
        --quant) QUANT=1 ;;
        --prefix) PREFIX_ARGS=(--prefix "${2:?--prefix needs a folder}"); shift ;;
        --prefix=*) PREFIX_ARGS=(--prefix "${1#*=}") ;;
        demo|test|install|uninstall|python|gst) ACTION="$1" ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "setup: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [[ "$ACTION" == uninstall ]]; then
    exec bash scripts/install.sh --uninstall "${PREFIX_ARGS[@]}"
fi
[[ "$ACTION" == test ]] && TRAIN=1 && DASK=1 && QUANT=1 && PYTHON=1
[[ "$ACTION" == python ]] && PYTHON=1
log() { echo "setup: $*" >&2; }

# 1. Debian packages: FFmpeg's libraries and CLI, clang for the bindings, OpenCV's video module (optical flow for
#    --temporal), X11/Xvfb tools for the live window tests, GStreamer 1.22 for the element (gst/) and its tests.
PACKAGES=(pkg-config clang libclang-dev libavcodec-dev libavformat-dev libavutil-dev libswscale-dev
    libswresample-dev libavfilter-dev libavdevice-dev ffmpeg xvfb xauth imagemagick xdotool libopencv-video-dev
    unzip curl ca-certificates python3 python3-pip python3-venv time
    libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools gstreamer1.0-plugins-base
    gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly)
missing=()
for p in "${PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    log "installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The tests also drive `stylize serve`'s page in headless Chromium; without it that test skips with a message,
# so a failed install is not fatal.
if [[ "$ACTION" == test ]] && ! dpkg -s chromium >/dev/null 2>&1; then
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    log "installing chromium (for the browser test)"
    { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; } ||
        log "could not install chromium: the browser test will skip"
fi

# 2. Rust (rustup) when there is no cargo.
[[ -f "$HOME/.cargo/env" ]] && . "$HOME/.cargo/env"
if ! command -v cargo >/dev/null; then
    log "installing Rust with rustup"
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal >&2
    . "$HOME/.cargo/env"
fi

# 3. The ONNX Runtime shared library from its PyPI wheel (pinned), into .deps/ (cargo finds it through
#    .cargo/config.toml; the binary also looks beside itself and in .deps/).
fetch_wheel() { # name version -> path of the cached wheel
    local name=$1 version=$2 dir="$CACHE/wheels"
    mkdir -p "$dir"
    local whl; whl=$(ls "$dir/${name//-/_}-$version-"*.whl 2>/dev/null | head -n1 || true)
    if [[ -z "$whl" ]]; then
        log "downloading $name==$version from PyPI"
        python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 \
            --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
            -d "$dir" "$name==$version" >&2
        whl=$(ls "$dir/${name//-/_}-$version-"*.whl | head -n1)
    fi
    echo "$whl"
}
ORT_LIB=".deps/onnxruntime/lib/libonnxruntime.so.$ORT_VERSION"
if [[ ! -f "$ORT_LIB" ]]; then
    whl=$(fetch_wheel onnxruntime "$ORT_VERSION")
    mkdir -p .deps/onnxruntime/lib
    unzip -q -o -j "$whl" 'onnxruntime/capi/libonnxruntime*' -d .deps/onnxruntime/lib
    log "ONNX Runtime $ORT_VERSION (CPU) in .deps/onnxruntime/lib"
fi

# 3b. The OpenVINO runtime (`--device openvino`) from its PyPI wheel (pinned), into .deps/openvino/lib: only
#     the C API, the core, the ONNX frontend, TBB and the CPU, GPU and NPU plugins (~145 MB of the wheel's ~230;
#     the GPU/NPU plugins are a quarter of that but are what makes `openvino:GPU`/`NPU` work on a laptop at all).
#     The wheel's libraries find each other through $ORIGIN and their plugins beside libopenvino, so no
#     plugins.xml; the unversioned links are the names the `openvino` crate looks for.
OV_VERSION=2026.4.1
OV_DIR=.deps/openvino/lib
if [[ ! -e "$OV_DIR/libopenvino_c.so" ]]; then
    whl=$(fetch_wheel openvino "$OV_VERSION")
    rm -rf .deps/openvino.tmp && mkdir -p .deps/openvino.tmp/lib
    unzip -q -o -j "$whl" 'openvino/libs/libopenvino.so.*' 'openvino/libs/libopenvino_c.so.*' \
        'openvino/libs/libopenvino_onnx_frontend.so.*' 'openvino/libs/libopenvino_intel_*_plugin.so' \
        'openvino/libs/libtbb.so.*' -d .deps/openvino.tmp/lib
    for lib in libopenvino_c libopenvino; do
        ln -sf "$(basename "$(ls .deps/openvino.tmp/lib/$lib.so.* | head -n1)")" ".deps/openvino.tmp/lib/$lib.so"
    done
    rm -rf .deps/openvino && mv .deps/openvino.tmp .deps/openvino
    log "OpenVINO $OV_VERSION (CPU, GPU and NPU plugins) in $OV_DIR"
fi

# 4. GPU: the CUDA build of ONNX Runtime plus the CUDA 13 runtime, cuBLAS and cuDNN 9 from PyPI (no system CUDA).
if ((GPU)); then
    if ! [[ -e /proc/driver/nvidia/version ]] && ! command -v nvidia-smi >/dev/null; then
        log "no NVIDIA driver found (no /proc/driver/nvidia/version, no nvidia-smi): install the NVIDIA driver first; stylize keeps running on the CPU"
        exit 1
    fi
    GPU_LIB=".deps/onnxruntime-gpu/lib/libonnxruntime.so.$ORT_VERSION"
    if [[ ! -f "$GPU_LIB" ]]; then
        whl=$(fetch_wheel onnxruntime-gpu "$ORT_VERSION")
        mkdir -p .deps/onnxruntime-gpu/lib
        unzip -q -o -j "$whl" 'onnxruntime/capi/libonnxruntime*' -d .deps/onnxruntime-gpu/lib
    fi
    if [[ ! -d .deps/nvidia ]]; then
        log "installing the CUDA 13 runtime, cuBLAS and cuDNN 9 (PyPI nvidia-* packages) into .deps/nvidia"
        python3 -m pip install -q --target .deps/nvidia-tmp "nvidia-cuda-runtime==13.*" "nvidia-cublas==13.*" "nvidia-cudnn-cu13==9.*" "nvidia-cufft==12.*" "nvidia-curand==10.*" >&2
        mv .deps/nvidia-tmp/nvidia .deps/nvidia && rm -rf .deps/nvidia-tmp
    fi
    libdirs=$(find "$ROOT/.deps/nvidia" -name 'lib*.so*' -printf '%h\n' | sort -u | tr '\n' ':')
    cat > .deps/gpu.env <<EOF
# written by scripts/setup.sh --gpu: source it to run stylize on the GPU
export ORT_DYLIB_PATH="$ROOT/$GPU_LIB"
export LD_LIBRARY_PATH="$ROOT/.deps/onnxruntime-gpu/lib:${libdirs}\${LD_LIBRARY_PATH:-}"
EOF
    log "GPU libraries ready: source .deps/gpu.env, then stylize info lists CUDA"
fi

# 5. Dask for the cluster driver (scripts/dask_transcode.py) and its tests: a virtual environment in the cache,
#    linked as .deps/dask (pinned; nothing system-wide).
DASK_VERSION=2026.8.0
if ((DASK)) && [[ ! -x .deps/dask/bin/dask ]]; then
    venv="$CACHE/dask-$DASK_VERSION"
    if [[ ! -x "$venv/bin/dask" ]]; then
        log "installing Dask $DASK_VERSION into $venv"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q "dask[distributed]==$DASK_VERSION" >&2
    fi
    mkdir -p .deps && ln -sfn "$venv" .deps/dask
fi

# 6. The trainer's libtorch.
if ((TRAIN)); then
    bash scripts/setup_train.sh
fi

# 7. The INT8 quantizer (NNCF and friends, pinned, in a virtual environment in the cache; scripts/quantize.sh).
if ((QUANT)); then
    bash scripts/quantize.sh --setup
fi

# 8. The Python package (python/, PyO3): a virtual environment in the cache with the tools below (pinned),
#    linked as .deps/python; the wheel is built with the release profile (cargo's incremental
#    build makes a rebuild quick) and installed into it with its dependencies, the onnxruntime and openvino wheels.
PY_VENV="$CACHE/python-3"
# Build and test tools, and what the examples' tests use (examples/python/): OpenCV and Gradio.
# Pillow 12: Gradio 6.31 wants Pillow < 13.
PY_TOOLS=("maturin==1.16.0" "numpy==2.4.6" "pytest==9.2.0" "pillow==12.3.0" "opencv-python-headless==5.1.0.95" "gradio==6.31.0")
if ((PYTHON)); then
    if [[ "$(cat "$PY_VENV/.tools" 2>/dev/null)" != "${PY_TOOLS[*]}" ]]; then
        log "installing ${PY_TOOLS[*]} into $PY_VENV"
        [[ -x "$PY_VENV/bin/pip" ]] || python3 -m venv "$PY_VENV"
        "$PY_VENV/bin/pip" install -q "${PY_TOOLS[@]}" >&2
        echo "${PY_TOOLS[*]}" > "$PY_VENV/.tools"
    fi
    mkdir -p .deps && ln -sfn "$PY_VENV" .deps/python
    log "building the Python package (target/wheels)"
    rm -f target/wheels/stylize-*.whl
    (cd python && "$PY_VENV/bin/maturin" build --release --strip --compatibility linux -i "$PY_VENV/bin/python" \
        -o ../target/wheels -q >&2)
    "$PY_VENV/bin/pip" install -q --force-reinstall --no-deps target/wheels/stylize-*.whl >&2
    # Its dependencies, once (pip skips what is there); and all its wheels in a wheelhouse, so the test that
    # installs the package into a fresh environment runs offline.
    "$PY_VENV/bin/pip" install -q target/wheels/stylize-*.whl >&2
    if ! ls "$CACHE"/wheelhouse/openvino-2026.4.1-*.whl >/dev/null 2>&1; then
        "$PY_VENV/bin/pip" download -q -d "$CACHE/wheelhouse" target/wheels/stylize-*.whl >&2
        rm -f "$CACHE"/wheelhouse/stylize-*.whl
    fi
    log "Python package installed: .deps/python/bin/python -c 'import stylize; print(stylize.models())'"
fi

case "$ACTION" in
    demo)
        cargo build --release --bin stylize
        exec ./target/release/stylize demo
        ;;
    test)
        cargo test --workspace
        exec .deps/python/bin/python -m pytest -q python/tests
        ;;
    gst)
        cargo build --release -p gst-stylize
        mkdir -p target/gstreamer-1.0 && ln -sfn ../release/libgststylize.so target/gstreamer-1.0/
        log "GStreamer element built: GST_PLUGIN_PATH=$ROOT/target/gstreamer-1.0 gst-inspect-1.0 stylize"
        ;;
    install)
        cargo build --release --bin stylize
        cargo build --release -p gst-stylize
        # The trainer too, when its libtorch is set up (scripts/setup.sh --train).
        if [[ -e .deps/libtorch ]]; then cargo build --release -p stylize-train; fi
        exec bash scripts/install.sh "${PREFIX_ARGS[@]}"
        ;;
esac
log "ready: cargo run --release -- --help"
