#!/usr/bin/env bash
# Installs stylize into a prefix, so that `stylize` works from any folder:
#   PREFIX/bin/stylize (and stylize-train, when the trainer was built)
#   PREFIX/lib/stylize/libonnxruntime.so.*            the ONNX Runtime it was built against
#   PREFIX/lib/stylize/openvino/                      OpenVINO (`--device openvino`), when scripts/setup.sh put it in .deps/
#   PREFIX/share/stylize/models/                      the shipped models with their cards
#   PREFIX/share/stylize/bigbuckbunny.mp4             the demo clip (`stylize demo`)
#   PREFIX/share/man/man1/, bash/zsh/fish completions
#   the GStreamer element (libgststylize.so, when built beside the binary): PREFIX/lib/MULTIARCH/gstreamer-1.0 for
#   /usr, else PREFIX/share/gstreamer-1.0/plugins (which GStreamer scans by itself for ~/.local)
# The binary finds the library and the models relative to itself. A list of what was installed
# (PREFIX/share/stylize/install-manifest.txt) lets --uninstall remove exactly that, and a new install
# replace an older one cleanly.
#
#   scripts/install.sh [--prefix DIR] [--bin PATH] [--no-manifest]    (default prefix: ~/.local)
#   scripts/install.sh --uninstall [--prefix DIR]
# scripts/setup.sh install|uninstall [--prefix DIR] builds the release binary first and calls this.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PREFIX="$HOME/.local" BIN="" UNINSTALL=0 MANIFEST=1
while (($#)); do
    case "$1" in
        --prefix) PREFIX=${2:?--prefix needs a folder}; shift ;;
        --prefix=*) PREFIX=${1#*=} ;;
        --bin) BIN=${2:?--bin needs a path}; shift ;;
        --uninstall) UNINSTALL=1 ;;
        --no-manifest) MANIFEST=0 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "install: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
die() { echo "install: $*" >&2; exit 1; }
[[ "$PREFIX" = /* ]] || PREFIX="$PWD/$PREFIX"
LIST="share/stylize/install-manifest.txt"

# Removes what the manifest lists: files, then the folders the install created if they are empty.
uninstall() {
    local manifest="$PREFIX/$LIST"
    [[ -f "$manifest" ]] || return 1
    local dirs=()
    while IFS=' ' read -r kind path; do
        case "$kind" in
            f) rm -f "$PREFIX/$path" ;;
            d) dirs+=("$path") ;;
        esac
    done <"$manifest"
    rm -f "$manifest"
    # Deepest first.
    for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do rmdir "$PREFIX/${dirs[i]}" 2>/dev/null || true; done
}

if ((UNINSTALL)); then
    uninstall || die "nothing to uninstall: no $PREFIX/$LIST"
    echo "install: removed stylize from $PREFIX" >&2
    exit 0
fi

BIN=${BIN:-$ROOT/target/release/stylize}
[[ -x "$BIN" ]] || die "no stylize binary at $BIN: run cargo build --release (or scripts/setup.sh install)"
ORT_DIR="$ROOT/.deps/onnxruntime/lib"
ls "$ORT_DIR"/libonnxruntime.so.* >/dev/null 2>&1 || die "no ONNX Runtime in $ORT_DIR: run scripts/setup.sh"
mkdir -p "$PREFIX" 2>/dev/null && [[ -w "$PREFIX" ]] ||
    die "cannot write to $PREFIX: choose another --prefix (e.g. ~/.local) or run as a user who may write there"

# An older install goes first, so nothing of it is left behind.
uninstall || true

STAGE=$(mktemp -d); trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,lib/stylize,share/stylize/models,share/man/man1,share/bash-completion/completions,share/zsh/site-functions,share/fish/vendor_completions.d}
cp "$BIN" "$STAGE/bin/stylize"
TRAIN_BIN="$(dirname "$BIN")/stylize-train"
[[ -x "$TRAIN_BIN" ]] && cp "$TRAIN_BIN" "$STAGE/bin/stylize-train"
cp -P "$ORT_DIR"/libonnxruntime*.so* "$STAGE/lib/stylize/"
# OpenVINO is optional at run time (stylize falls back to ONNX Runtime's CPU), so an install without it works.
if [[ -e "$ROOT/.deps/openvino/lib/libopenvino_c.so" ]]; then
    mkdir -p "$STAGE/lib/stylize/openvino" && cp -P "$ROOT"/.deps/openvino/lib/* "$STAGE/lib/stylize/openvino/"
fi
cp -r "$ROOT"/onnx/. "$STAGE/share/stylize/models/"
GST_PLUGIN="$(dirname "$BIN")/libgststylize.so" GST_DIR=""
if [[ -f "$GST_PLUGIN" ]]; then
    case "$PREFIX" in
        */usr) GST_DIR="lib/$(uname -m)-linux-gnu/gstreamer-1.0" ;;
        *) GST_DIR="share/gstreamer-1.0/plugins" ;;
    esac
    mkdir -p "$STAGE/$GST_DIR"
    # Without its debug info: 80 MB -> a tenth of that.
    strip --strip-debug -o "$STAGE/$GST_DIR/libgststylize.so" "$GST_PLUGIN"
    chmod 0644 "$STAGE/$GST_DIR/libgststylize.so"
fi
cp "$ROOT/assets/bigbuckbunny.mp4" "$STAGE/share/stylize/"
"$STAGE/bin/stylize" man "$STAGE/share/man/man1"
"$STAGE/bin/stylize" completions bash >"$STAGE/share/bash-completion/completions/stylize"
"$STAGE/bin/stylize" completions zsh >"$STAGE/share/zsh/site-functions/_stylize"
"$STAGE/bin/stylize" completions fish >"$STAGE/share/fish/vendor_completions.d/stylize.fish"
gzip -9n "$STAGE"/share/man/man1/*.1

# Record the folders this install creates (removed again by --uninstall when empty), then copy.
record=()
while IFS= read -r d; do
    [[ -d "$PREFIX/$d" ]] || record+=("d $d")
done < <(cd "$STAGE" && find . -mindepth 1 -type d | sed 's|^\./||' | sort)
(cd "$STAGE" && find . -type d | sed 's|^\./||') | while IFS= read -r d; do mkdir -p "$PREFIX/$d"; done
while IFS= read -r f; do
    # Temporary name, then rename: a running stylize never sees half a file.
    cp -P "$STAGE/$f" "$PREFIX/$f.tmp-install" && mv -f "$PREFIX/$f.tmp-install" "$PREFIX/$f"
    record+=("f $f")
done < <(cd "$STAGE" && find . \( -type f -o -type l \) | sed 's|^\./||' | sort)
if ((MANIFEST)); then
    printf '%s\n' "${record[@]}" >"$PREFIX/$LIST"
fi
version=$("$PREFIX/bin/stylize" --version) || die "the installed stylize does not run: $version"
models=("$PREFIX"/share/stylize/models/*.onnx) int8=("$PREFIX"/share/stylize/models/*-int8.onnx)
[[ -e ${int8[0]} ]] || int8=()
echo "install: ${version%%$'\n'*} in $PREFIX ($((${#models[@]} - ${#int8[@]})) models, ${#int8[@]} INT8 versions)" >&2
if [[ -n "$GST_DIR" && "$PREFIX" != */usr && "$PREFIX" != "$HOME/.local" ]]; then
    echo "install: GStreamer looks for the stylize element with GST_PLUGIN_PATH=$PREFIX/$GST_DIR" >&2
fi
case ":$PATH:" in
    *":$PREFIX/bin:"*) ;;
    *) echo "install: $PREFIX/bin is not on your PATH; add it, e.g. echo 'export PATH=\"$PREFIX/bin:\$PATH\"' >> ~/.bashrc" >&2 ;;
esac
