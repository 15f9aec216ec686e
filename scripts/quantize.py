#!/usr/bin/env python3
"""INT8 models for CPUs with VNNI: a stylize ONNX model in, a statically quantized (QDQ) ONNX model out.

Run it through scripts/quantize.sh, which sets up the pinned quantizer (NNCF) in ~/.cache/stylize/quant:

    scripts/quantize.sh onnx/candy-lite.onnx --calibration photos/ --held-out held-out/ [-o onnx/candy-lite-int8.onnx]

What it does, and why (measured on candy-lite, docs/benchmarks.md "INT8"):
1. Equalizes channel ranges through the instance norms (a float rewrite that leaves the function unchanged to
   ~1e-3 grey levels): a norm's scale and shift are multiplied per channel by s and the convolutions that read
   that channel divided by s, so every channel of an activation uses more of the one int8 range it shares.
   The residual stream is one group (its adds tie the channels together). Mean error 1.61 -> 1.43.
2. NNCF's post-training quantization (ONNX backend): per-channel int8 weights, uint8 activations with ranges
   from the mean 99.99th percentiles over the calibration frames, fast bias correction. The first and the last
   convolution stay float (calibrated like the rest, both cost 0.5 grey levels on average for 12% of the work),
   and so do the residual adds (quantizing them costs 0.2 for no speed). Where the check fails, the second
   convolution stays float too, then the second to last.
   Then the first convolution goes int8 on its own terms: it reads the pixels themselves, integer levels that
   uint8 holds exactly at a scale of one level, so only its weights are rounded (0.05 grey levels on candy-lite,
   for frames 7-8% faster on one core). Where the check fails with it, it stays float.
3. Checks the result against the float model on the held-out images (OpenVINO, f32 outside the int8 layers):
   mean and 99.9th percentile of the per-pixel difference in grey levels. Above --max-mean (default 1.5) the
   model is not written (exit 1), unless --force.

The INT8 model keeps the float model's metadata, adds `stylize.precision = int8` and the check's numbers, and
is written next to the float model as NAME-int8.onnx, where `stylize --precision auto` finds it.
"""
import argparse
import glob
import json
import os
import sys
import tempfile

import numpy as np

# The file being written, removed if the run is interrupted.
PARTIAL = None
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
# Ops a per-channel scale passes through unchanged (relu(s x) = s relu(x) for s > 0; padding and nearest
# resizing move values within a channel). SpaceToDepth/DepthToSpace move values between channels: not these.
CHANNEL_WISE = ("Relu", "Pad", "Resize")


def fail(msg):
    print(f"quantize: error: {msg}", file=sys.stderr)
    sys.exit(2)


def images_in(paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            files += [f for f in sorted(glob.glob(os.path.join(p, "**", "*"), recursive=True)) if f.lower().endswith(IMAGE_EXTS)]
        elif os.path.isfile(p):
            files.append(p)
        else:
            fail(f"{p} does not exist")
    return files


def load_frame(path, width, height, scale):
    """The image resized to cover width x height and centre-cropped, as float NCHW in the model's range."""
    from PIL import Image, ImageOps

    try:
        im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    except Exception as e:  # noqa: BLE001 - any unreadable file is the user's to fix
        fail(f"cannot read {path}: {e}")
    s = max(width / im.width, height / im.height)
    im = im.resize((max(width, round(im.width * s)), max(height, round(im.height * s))), Image.BICUBIC)
    left, top = (im.width - width) // 2, (im.height - height) // 2
    a = np.asarray(im.crop((left, top, left + width, top + height)), dtype=np.float32) * scale
    return a.transpose(2, 0, 1)[None].copy()


def held_out_frame(path, long_side, scale):
    """The whole image at a long side of at most long_side, sides a multiple of 4 (the nets' stride)."""
    from PIL import Image, ImageOps

    im = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    s = min(1.0, long_side / max(im.size))
    w, h = max(4, round(im.width * s / 4) * 4), max(4, round(im.height * s / 4) * 4)
    a = np.asarray(im.resize((w, h), Image.BICUBIC), dtype=np.float32) * scale
    return a.transpose(2, 0, 1)[None].copy()


def metadata(model):
    return {p.key: p.value for p in model.metadata_props}


def feeds_for(model, image_input):
    """Extra inputs (a multi-style model's style weights) at their even default."""
    init = {i.name for i in model.graph.initializer}
    extra = {}
    for i in model.graph.input:
        if i.name == image_input or i.name in init:
            continue
        dims = [max(1, d.dim_value) for d in i.type.tensor_type.shape.dim]
        n = int(np.prod(dims))
        extra[i.name] = np.full(dims, 1.0 / n, dtype=np.float32)
    return extra


def equalize(model, frames, feeds, alpha=0.5):
    """Channel equalization through instance norms (see the module docs). Returns the number of groups."""
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    g = model.graph
    producer = {o: n for n in g.node for o in n.output}
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    parent = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for n in g.node:
        if n.op_type in CHANNEL_WISE:
            parent[find(n.output[0])] = find(n.input[0])
        elif n.op_type == "Add":
            for i in n.input:
                parent[find(i)] = find(n.output[0])
    members = {}
    for t in list(parent):
        members.setdefault(find(t), set()).add(t)
    outputs = {o.name for o in g.output}
    init = {i.name: i for i in g.initializer}
    groups = []
    for tensors in members.values():
        sources, sinks, ok = [], [], True
        for t in tensors:
            p = producer.get(t)
            if p is None or t in outputs:
                ok = False
                break
            if p.op_type == "InstanceNormalization" and all(x in init for x in p.input[1:3]):
                sources.append(p)
            elif p.op_type not in CHANNEL_WISE + ("Add",):
                ok = False
            if p.op_type == "Pad":
                mode = next((a.s for a in p.attribute if a.name == "mode"), b"constant")
                if mode == b"constant" and len(p.input) > 2 and p.input[2]:
                    ok = False  # a non-zero fill value would not scale
            for c in consumers.get(t, []):
                if c.op_type == "Conv" and c.input[0] == t and c.input[1] in init:
                    sinks.append((c, t))
                elif c.op_type == "Add" or (c.op_type in CHANNEL_WISE and c.input[0] == t):
                    pass
                else:
                    ok = False
        if ok and sources and sinks:
            groups.append((sources, sinks))
    if not groups:
        return 0
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    watched = sorted({t for _, sinks in groups for _, t in sinks})
    del probe.graph.output[:]
    for t in watched:
        probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(t))
    session = ort.InferenceSession(probe.SerializeToString(), providers=["CPUExecutionProvider"])
    image_input = g.input[0].name
    ranges = {}
    for x in frames:
        for t, o in zip(watched, session.run(watched, {image_input: x, **feeds})):
            r = np.abs(o[0]).reshape(o.shape[1], -1).max(axis=1)
            ranges[t] = np.maximum(ranges.get(t, 0), r)

    def get(name):
        return numpy_helper.to_array(init[name])

    def put(name, a):
        init[name].CopyFrom(numpy_helper.from_array(a.astype(np.float32), name))

    for sources, sinks in groups:
        r = np.max([ranges[t] for _, t in sinks], axis=0)
        r = np.maximum(r, 1e-3 * r.max() + 1e-12)
        scale = (r.max() / r) ** alpha
        for n in sources:
            put(n.input[1], get(n.input[1]) * scale)
            put(n.input[2], get(n.input[2]) * scale)
        for c, _ in sinks:
            put(c.input[1], get(c.input[1]) / scale[None, :, None, None])
    return len(groups)


def keep_ladder(model):
    """Convolutions left float, tried in turn until the check passes: the first and the last (they see the
    picture itself), then also the second (the most sensitive of the rest on candy-lite: alone in int8 it cost
    as much as any two others), then also the second to last. Graph order is topological in ONNX."""
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    if not convs or any(not c for c in convs):
        fail("the model's convolutions have no names; NNCF's ignored scope needs them")
    steps = [[convs[0], convs[-1]]]
    if len(convs) > 4:
        steps.append([convs[0], convs[1], convs[-1]])
        steps.append([convs[0], convs[1], convs[-2], convs[-1]])
    return steps


def int8_first_conv(model, image_input, range_max):
    """A copy of `model` with its first convolution in int8, or None where that convolution does not read the
    picture itself. Its input is pixel levels moved around (by SpaceToDepth, Transpose, reflection or edge
    padding), so uint8 with a scale of one level holds it exactly and only the weights are rounded (per output
    channel, symmetric int8). The instance norm after it takes out the mean shift that rounding leaves, so no bias
    correction. On candy-lite: 0.05 grey levels more than with the convolution float, for 7-8% faster frames on
    one core (docs/benchmarks.md)."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    producer = {o: n for n in g.node for o in n.output}
    conv = next((n for n in g.node if n.op_type == "Conv"), None)
    if conv is None:
        return None
    x = conv.input[0]
    while x != image_input:
        n = producer.get(x)
        mode = next((a.s for a in n.attribute if a.name == "mode"), b"constant") if n is not None else None
        if n is None or not (n.op_type in ("SpaceToDepth", "Transpose") or (n.op_type == "Pad" and mode in (b"reflect", b"edge"))):
            return None
        x = n.input[0]
    weights = {t.name: t for t in g.initializer}
    if conv.input[1] not in weights:
        return None
    w = numpy_helper.to_array(weights[conv.input[1]]).astype(np.float32)
    s = np.maximum(np.abs(w).reshape(w.shape[0], -1).max(axis=1) / 127.0, 1e-12).astype(np.float32)
    q = np.clip(np.rint(w / s[:, None, None, None]), -127, 127).astype(np.int8)
    name = conv.name or "conv_first"
    g.initializer.extend([
        numpy_helper.from_array(np.array(range_max / 255.0, np.float32), f"{name}.pixels.scale"),
        numpy_helper.from_array(np.array(0, np.uint8), f"{name}.pixels.zero"),
        numpy_helper.from_array(q, f"{name}.weight.int8"),
        numpy_helper.from_array(s, f"{name}.weight.scale"),
        numpy_helper.from_array(np.zeros(w.shape[0], np.int8), f"{name}.weight.zero"),
    ])
    nodes = [
        helper.make_node("QuantizeLinear", [conv.input[0], f"{name}.pixels.scale", f"{name}.pixels.zero"], [f"{name}.pixels.q"], name=f"QuantizeLinear_{name}.pixels"),
        helper.make_node("DequantizeLinear", [f"{name}.pixels.q", f"{name}.pixels.scale", f"{name}.pixels.zero"], [f"{name}.pixels.dq"], name=f"DequantizeLinear_{name}.pixels"),
        helper.make_node("DequantizeLinear", [f"{name}.weight.int8", f"{name}.weight.scale", f"{name}.weight.zero"], [f"{name}.weight.dq"], name=f"DequantizeLinear_{name}.weight", axis=0),
    ]
    float_weight = conv.input[1]
    at = list(g.node).index(conv)
    for k, n in enumerate(nodes):
        g.node.insert(at + k, n)
    conv.input[0], conv.input[1] = f"{name}.pixels.dq", f"{name}.weight.dq"
    if not any(float_weight in n.input for n in g.node):
        g.initializer.remove(weights[float_weight])
    return m


def run_openvino(model_bytes, frames, feeds, precision="f32"):
    import openvino as ov

    core = ov.Core()
    with tempfile.NamedTemporaryFile(suffix=".onnx") as f:
        f.write(model_bytes)
        f.flush()
        m = core.read_model(f.name)
    compiled = {}
    outs = []
    for x in frames:
        key = x.shape
        if key not in compiled:
            compiled[key] = core.compile_model(m, "CPU", {"INFERENCE_PRECISION_HINT": precision})
        names = [i.get_any_name() for i in compiled[key].inputs]
        feed = {n: (x if i == 0 else feeds[n]) for i, n in enumerate(names)}
        outs.append(compiled[key](feed)[0])
    return outs


def compare(ref, test, range_max):
    """Per-image (mean, p99.9, max) of |a - b| in grey levels, after the engine's clamp and rounding."""
    rows = []
    for a, b in zip(ref, test):
        a = np.clip(np.rint(a * 255 / range_max), 0, 255)
        b = np.clip(np.rint(b * 255 / range_max), 0, 255)
        d = np.abs(a - b)
        rows.append((float(d.mean()), float(np.percentile(d, 99.9)), float(d.max())))
    return rows


def crops_image(ref, test, path, range_max):
    """fp32 | int8 | difference x8, a 256 px crop from the middle of the first held-out image."""
    from PIL import Image

    def rgb(x):
        return np.clip(np.rint(x[0] * 255 / range_max), 0, 255).astype(np.uint8).transpose(1, 2, 0)

    a, b = rgb(ref), rgb(test)
    h, w = a.shape[:2]
    s = min(256, h, w)
    t, l = (h - s) // 2, (w - s) // 2
    a, b = a[t : t + s, l : l + s], b[t : t + s, l : l + s]
    d = np.clip(np.abs(a.astype(np.int16) - b.astype(np.int16)) * 8, 0, 255).astype(np.uint8)
    gap = np.full((s, 8, 3), 255, np.uint8)
    Image.fromarray(np.concatenate([a, gap, b, gap, d], axis=1)).save(path, quality=92)


def main():
    ap = argparse.ArgumentParser(description="Make a statically quantized INT8 (QDQ) stylize model.")
    ap.add_argument("model", help="the float ONNX model")
    ap.add_argument("--calibration", nargs="+", required=True, help="folders or files of images the model will see (200 or so is plenty)")
    ap.add_argument("--held-out", nargs="*", default=[], help="images not used for calibration, for the quality check (default: every 4th calibration image, left out of calibration)")
    ap.add_argument("-o", "--output", help="default: MODEL-int8.onnx beside the model")
    ap.add_argument("--size", default="640x360", help="calibration frame size WxH (default 640x360)")
    ap.add_argument("--max-mean", type=float, default=1.5, help="largest mean difference to the float model, in grey levels (default 1.5)")
    ap.add_argument("--keep-float", nargs="*", help="convolutions left in float (default: the first and the last, then more until the check passes)")
    ap.add_argument("--no-equalize", action="store_true", help="skip the channel equalization")
    ap.add_argument("--alpha", type=float, default=0.5, help="equalization strength, 0..1 (default 0.5)")
    ap.add_argument("--crops", help="write fp32 | int8 | difference x8 crops of the first held-out image here (.jpg)")
    ap.add_argument("--force", action="store_true", help="write the model even when it fails the check")
    ap.add_argument("--json", help="write the check's numbers here")
    args = ap.parse_args()

    import nncf
    import onnx
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    if not os.path.isfile(args.model):
        fail(f"{args.model} does not exist")
    try:
        model = onnx.load(args.model)
    except Exception as e:  # noqa: BLE001
        fail(f"{args.model} is not an ONNX model: {str(e).splitlines()[0]}")
    meta = metadata(model)
    if meta.get("stylize.precision") == "int8" or any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node):
        fail(f"{args.model} is already quantized")
    range_max = 1.0 if meta.get("stylize.range") == "0-1" else 255.0
    scale = range_max / 255.0
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        fail(f"--size {args.size}: expected WxH, e.g. 640x360")
    image_input = model.graph.input[0].name
    feeds = feeds_for(model, image_input)

    calibration = images_in(args.calibration)
    held = images_in(args.held_out)
    if not held:
        held = calibration[3::4]
        calibration = [f for i, f in enumerate(calibration) if i % 4 != 3]
        print(f"quantize: no --held-out: checking on {len(held)} of the calibration images, left out of calibration", file=sys.stderr)
    if len(calibration) < 4:
        fail(f"{len(calibration)} calibration images: give at least 4 (a few hundred frames like the ones the model will see are best)")
    if not held:
        fail("no held-out images to check the INT8 model on")
    frames = [load_frame(p, width, height, scale) for p in calibration]

    work = onnx.ModelProto()
    work.CopyFrom(model)
    groups = 0 if args.no_equalize else equalize(work, frames, feeds, args.alpha)
    ladder = [args.keep_float] if args.keep_float is not None else keep_ladder(model)
    convs = [n.name for n in model.graph.node if n.op_type == "Conv"]
    adv = AdvancedQuantizationParameters(activations_range_estimator_params=RangeEstimatorParametersSet.MEAN_QUANTILE)
    dataset = nncf.Dataset(frames, lambda x: {image_input: x, **feeds})
    tests = [held_out_frame(p, 640, scale) for p in held]
    ref = run_openvino(model.SerializeToString(), tests, feeds)
    for step, keep in enumerate(ladder):
        quantized = nncf.quantize(
            work,
            dataset,
            preset=nncf.QuantizationPreset.MIXED,
            subset_size=len(frames),
            fast_bias_correction=True,
            ignored_scope=nncf.IgnoredScope(names=keep, types=["Add"]),
            advanced_parameters=adv,
        )
        # The first convolution in int8 on its exact pixels where that passes the check, else float as NNCF left it.
        exact = int8_first_conv(quantized, image_input, range_max)
        for candidate in [m for m in (exact, quantized) if m is not None]:
            out = run_openvino(candidate.SerializeToString(), tests, feeds)
            rows = compare(ref, out, range_max)
            mean = float(np.mean([r[0] for r in rows]))
            if mean <= args.max_mean:
                break
            if candidate is exact:
                print(f"quantize: {mean:.2f} grey levels with the first convolution in int8: above {args.max_mean}; trying it float", file=sys.stderr)
        first_int8 = candidate is exact
        quantized = candidate
        keep = [k for k in keep if not (first_int8 and k == convs[0])]
        if mean <= args.max_mean or step == len(ladder) - 1:
            break
        print(f"quantize: {mean:.2f} grey levels with {', '.join(keep)} float: above {args.max_mean}; trying with one more float layer", file=sys.stderr)
    p999 = float(np.max([r[1] for r in rows]))
    worst = max(range(len(rows)), key=lambda i: rows[i][0])
    for p, (m, q, x) in zip(held, rows):
        print(f"  {os.path.basename(p):28s} mean {m:5.2f}  p99.9 {q:5.1f}  max {x:4.0f}")
    verdict = "passes" if mean <= args.max_mean else "FAILS"
    print(f"quantize: INT8 against float on {len(held)} held-out images: mean {mean:.2f} grey levels (worst image "
          f"{rows[worst][0]:.2f}, {os.path.basename(held[worst])}), p99.9 up to {p999:.0f}; {verdict} the check (mean <= {args.max_mean}); "
          f"{'first convolution int8 on exact pixels; ' if first_int8 else ''}float: {', '.join(keep)}")
    numbers = {
        "mean": round(mean, 3), "p99.9": p999, "worst_image_mean": round(rows[worst][0], 3), "worst_image": os.path.basename(held[worst]),
        "held_out": len(held), "calibration": len(calibration), "kept_float": keep, "first_conv_int8": first_int8, "equalized_groups": groups,
        "passes": mean <= args.max_mean, "max_mean": args.max_mean,
    }
    if args.json:
        with open(args.json, "w") as f:
            json.dump(numbers, f, indent=1)
    if args.crops:
        crops_image(ref[0], out[0], args.crops, range_max)
    if mean > args.max_mean and not args.force:
        print("quantize: not written (use --force to write it anyway, or --keep-float more layers)", file=sys.stderr)
        sys.exit(1)

    def set_meta(key, value):
        for p in quantized.metadata_props:
            if p.key == key:
                p.value = value
                return
        quantized.metadata_props.add(key=key, value=value)

    set_meta("stylize.precision", "int8")
    set_meta("stylize.int8_from", os.path.basename(args.model))
    set_meta("stylize.int8_check", json.dumps({k: numbers[k] for k in ("mean", "p99.9", "worst_image_mean", "held_out", "calibration")}))
    set_meta("stylize.int8_recipe", f"nncf {nncf.__version__}; channel equalization alpha {args.alpha if groups else 0} ({groups} groups); "
             f"mixed preset, mean-quantile activation ranges, fast bias correction; "
             f"{'first convolution int8 on exact pixels; ' if first_int8 else ''}float: {', '.join(keep)} and the adds")
    output = args.output or os.path.splitext(args.model)[0] + "-int8.onnx"
    tmp = output + ".part"
    global PARTIAL
    PARTIAL = tmp
    try:
        onnx.save(quantized, tmp)
        os.replace(tmp, output)
    except OSError as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        fail(f"cannot write {output}: {e}")
    print(f"quantize: wrote {output} ({os.path.getsize(output) / 1e6:.2f} MB)")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        # Nothing half-written stays: the model is written to NAME.part and renamed at the very end.
        if PARTIAL and os.path.exists(PARTIAL):
            os.remove(PARTIAL)
        print("quantize: interrupted; nothing written", file=sys.stderr)
        sys.exit(130)
