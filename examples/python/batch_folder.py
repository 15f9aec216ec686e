#!/usr/bin/env python3
"""Every image of a folder stylized into another folder, with Pillow (PNG, JPEG, WebP, ...).

    python examples/python/batch_folder.py photos/ out/ -m candy --strength 0.8

One model load for all; a file that cannot be read is reported and the others go on (exit status 1 then).
"""
import argparse
import sys
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

import stylize

EXTENSIONS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("input", type=Path)
    ap.add_argument("output", type=Path)
    ap.add_argument("-m", "--model", default="mosaic")
    ap.add_argument("--strength", type=float, default=1.0)
    ap.add_argument("--preserve-color", action="store_true")
    a = ap.parse_args()
    if not a.input.is_dir():
        print(f"error: {a.input} is not a folder", file=sys.stderr)
        return 2
    files = sorted(p for p in a.input.iterdir() if p.suffix.lower() in EXTENSIONS)
    try:
        model = stylize.Model(a.model)
    except stylize.Error as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    a.output.mkdir(parents=True, exist_ok=True)
    failed = 0
    for k, path in enumerate(files, 1):
        dest = a.output / f"{path.stem}-{a.model}{path.suffix}"
        try:
            with Image.open(path) as img:
                styled = model(ImageOps.exif_transpose(img), strength=a.strength, preserve_color=a.preserve_color)
            # Written beside, then renamed: no half-written image if interrupted.
            part = dest.with_name(dest.name + ".part")
            styled.save(part, format=Image.registered_extensions()[path.suffix.lower()])
            part.replace(dest)
            print(f"[{k}/{len(files)}] {path.name} -> {dest}")
        except (OSError, UnidentifiedImageError, stylize.Error) as e:
            failed += 1
            print(f"failed: {path}: {e}", file=sys.stderr)
    print(f"{len(files) - failed} stylized, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
