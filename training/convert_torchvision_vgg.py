#!/usr/bin/env python3
"""Converts torchvision's ImageNet VGG16 to the safetensors file stylize-train's --vgg takes.

Usage (needs torch + torchvision, e.g. in the venv of scripts/setup_train.sh plus
`pip install torchvision`; torchvision downloads the weights on first use):

    python training/convert_torchvision_vgg.py vgg16_torchvision.safetensors
    python training/convert_torchvision_vgg.py out.safetensors --state-dict vgg16-397923af.pth

Writes the ten convolutions conv1_1 .. conv4_3 (`features.0` .. `features.21`, float32) and the
metadata `input_range=0-1`, `mean`, `std` so the trainer applies torchvision's normalisation.
"""
import argparse
import json
import struct

import torch

CONVS = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("output")
    ap.add_argument("--state-dict", help="a torchvision vgg16 .pth state dict (default: download via torchvision)")
    a = ap.parse_args()
    if a.state_dict:
        sd = torch.load(a.state_dict, map_location="cpu", weights_only=True)
    else:
        import torchvision

        sd = torchvision.models.vgg16(weights=torchvision.models.VGG16_Weights.IMAGENET1K_V1).state_dict()
    tensors = {}
    for i in CONVS:
        for what in ("weight", "bias"):
            k = f"features.{i}.{what}"
            tensors[k] = sd[k].detach().to(torch.float32).contiguous()
    header, blobs, off = {}, [], 0
    for k in sorted(tensors):
        b = tensors[k].numpy().tobytes()
        header[k] = {"dtype": "F32", "shape": list(tensors[k].shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {
        "architecture": "vgg16 features up to relu4_3 (torchvision layer indices 0..22)",
        "input": "RGB, values 0..1, minus mean, divided by std (torchvision)",
        "input_range": "0-1",
        "mean": "0.485,0.456,0.406",
        "std": "0.229,0.224,0.225",
        "source": "torchvision vgg16 IMAGENET1K_V1",
    }
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(a.output, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    print(f"wrote {a.output}")


if __name__ == "__main__":
    main()
