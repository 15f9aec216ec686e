#!/usr/bin/env bash
# INT8 models (see scripts/quantize.py): sets up the pinned quantizer in a virtual environment once
# (~/.cache/stylize/quant: NNCF, OpenVINO, ONNX, ONNX Runtime from PyPI), then runs it.
#
#   scripts/quantize.sh MODEL.onnx --calibration DIR [--held-out DIR] [-o OUT.onnx]   # see --help
#   scripts/quantize.sh --setup                                                      # only set up
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${XDG_CACHE_HOME:-$HOME/.cache}/stylize/quant"
PINS=(nncf==3.4.0 openvino==2026.4.1 onnx==1.23.2 onnxruntime==1.31.1 pillow==13.0.0)
if ! "$VENV/bin/python" -c 'import nncf, openvino, onnx, onnxruntime, PIL' 2>/dev/null; then
    echo "quantize: setting up ${PINS[*]} in $VENV" >&2
    python3 -m venv "$VENV" || { echo "quantize: error: python3 -m venv failed (apt-get install python3-venv)" >&2; exit 2; }
    "$VENV/bin/pip" install -q --disable-pip-version-check "${PINS[@]}" >&2
fi
[[ "${1:-}" == --setup ]] && exit 0
exec "$VENV/bin/python" "$ROOT/scripts/quantize.py" "$@"
