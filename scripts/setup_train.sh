#!/usr/bin/env bash
# Installs libtorch for the trainer (`stylize-train`, crate training/, on tch 0.24) and tells cargo
# where it is. Idempotent: a second run finds the venv and only refreshes the links.
#
#   scripts/setup_train.sh            # install (once, ~5 GB download) + write .deps/libtorch*
#   eval "$(scripts/setup_train.sh --env)"   # the same, then export LIBTORCH etc. into this shell
#
# What it does:
#   1. A Python venv with PyPI torch==2.11.0 (the libtorch that tch =0.24.0 is written against; it is
#      also the PyTorch of the lent GPU machines) in a cache OUTSIDE the repository:
#        ${STYLIZE_TORCH_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/stylize/torch-2.11}
#      PyPI's torch 2.11 is a CUDA build: the same libtorch runs on CPU-only machines and uses CUDA
#      where a GPU is present.
#   2. The link .deps/libtorch -> <venv>/lib/python3.X/site-packages/torch (include/ + lib/), and
#      .deps/libtorch.env with the environment cargo needs:
#        LIBTORCH=<repo>/.deps/libtorch  LIBTORCH_BYPASS_VERSION_CHECK=1  (LIBTORCH_CXX11_ABI=1)
#      training/build.rs embeds an rpath to $LIBTORCH/lib (and the venv's nvidia/*/lib), so the
#      binary and the tests run with no LD_LIBRARY_PATH.
set -euo pipefail

TORCH_VERSION="2.11.0"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/stylize"
VENV="${STYLIZE_TORCH_VENV:-$CACHE/torch-2.11}"
PYTHON="${PYTHON:-python3}"
ENV_ONLY=0
[[ "${1:-}" == "--env" ]] && ENV_ONLY=1

log() { echo "setup_train: $*" >&2; }

have_torch() {
    [[ -x "$VENV/bin/python" ]] &&
        "$VENV/bin/python" - "$TORCH_VERSION" <<'EOF' 2>/dev/null
import sys, importlib.metadata as m
v = m.version("torch")
sys.exit(0 if v.split("+")[0] == sys.argv[1] else 1)
EOF
}

if have_torch; then
    log "torch $TORCH_VERSION already in $VENV"
else
    log "installing torch==$TORCH_VERSION into $VENV (about 5 GB, a few minutes)"
    mkdir -p "$(dirname "$VENV")"
    [[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "torch==$TORCH_VERSION" >&2
    have_torch || { log "torch==$TORCH_VERSION did not install"; exit 1; }
fi

TORCH_DIR="$("$VENV/bin/python" - <<'EOF'
import importlib.util, os
print(os.path.dirname(importlib.util.find_spec("torch").origin))
EOF
)"
[[ -f "$TORCH_DIR/lib/libtorch_cpu.so" && -d "$TORCH_DIR/include" ]] ||
    { log "no libtorch_cpu.so / include in $TORCH_DIR"; exit 1; }
# The C++ ABI the wheel was built with (torch-sys cannot ask python when LIBTORCH is set).
ABI="$("$VENV/bin/python" -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))' 2>/dev/null || echo 1)"

mkdir -p "$ROOT/.deps"
ln -sfn "$TORCH_DIR" "$ROOT/.deps/libtorch"
cat > "$ROOT/.deps/libtorch.env" <<EOF
# written by scripts/setup_train.sh: the environment cargo needs to build stylize-train
export LIBTORCH="$ROOT/.deps/libtorch"
export LIBTORCH_BYPASS_VERSION_CHECK=1
export LIBTORCH_CXX11_ABI=$ABI
EOF
log "libtorch: $TORCH_DIR"
log "linked $ROOT/.deps/libtorch; environment in $ROOT/.deps/libtorch.env"
if [[ $ENV_ONLY == 1 ]]; then
    cat "$ROOT/.deps/libtorch.env"
else
    log "before cargo build/test -p stylize-train:  source .deps/libtorch.env"
fi
