#!/usr/bin/env python3
"""Cross-check: a stylize-train checkpoint loads strictly into pytorch/examples TransformerNet
(full arch) and the exported ONNX matches it under onnxruntime.
Usage: python training/check_export.py RUN_DIR/checkpoint.safetensors model.onnx
(needs torch, numpy, onnxruntime; e.g. the venv of scripts/setup_train.sh + pip install numpy onnxruntime)"""
import json, struct, sys, numpy as np, torch, torch.nn as nn, onnxruntime as ort
torch.set_num_threads(1)
# pytorch/examples fast_neural_style TransformerNet, verbatim structure
class ConvLayer(nn.Module):
    def __init__(s, i, o, k, st):
        super().__init__(); s.reflection_pad = nn.ReflectionPad2d(k // 2); s.conv2d = nn.Conv2d(i, o, k, st)
    def forward(s, x): return s.conv2d(s.reflection_pad(x))
class Res(nn.Module):
    def __init__(s, c):
        super().__init__(); s.conv1 = ConvLayer(c, c, 3, 1); s.in1 = nn.InstanceNorm2d(c, affine=True)
        s.conv2 = ConvLayer(c, c, 3, 1); s.in2 = nn.InstanceNorm2d(c, affine=True); s.relu = nn.ReLU()
    def forward(s, x): return s.in2(s.conv2(s.relu(s.in1(s.conv1(x))))) + x
class Up(nn.Module):
    def __init__(s, i, o, k, st, upsample=None):
        super().__init__(); s.upsample = upsample; s.reflection_pad = nn.ReflectionPad2d(k // 2); s.conv2d = nn.Conv2d(i, o, k, st)
    def forward(s, x):
        if s.upsample: x = nn.functional.interpolate(x, mode='nearest', scale_factor=s.upsample)
        return s.conv2d(s.reflection_pad(x))
class TransformerNet(nn.Module):
    def __init__(s):
        super().__init__()
        s.conv1 = ConvLayer(3, 32, 9, 1); s.in1 = nn.InstanceNorm2d(32, affine=True)
        s.conv2 = ConvLayer(32, 64, 3, 2); s.in2 = nn.InstanceNorm2d(64, affine=True)
        s.conv3 = ConvLayer(64, 128, 3, 2); s.in3 = nn.InstanceNorm2d(128, affine=True)
        for i in range(1, 6): setattr(s, f"res{i}", Res(128))
        s.deconv1 = Up(128, 64, 3, 1, 2); s.in4 = nn.InstanceNorm2d(64, affine=True)
        s.deconv2 = Up(64, 32, 3, 1, 2); s.in5 = nn.InstanceNorm2d(32, affine=True)
        s.deconv3 = ConvLayer(32, 3, 9, 1); s.relu = nn.ReLU()
    def forward(s, X):
        y = s.relu(s.in1(s.conv1(X))); y = s.relu(s.in2(s.conv2(y))); y = s.relu(s.in3(s.conv3(y)))
        for i in range(1, 6): y = getattr(s, f"res{i}")(y)
        y = s.relu(s.in4(s.deconv1(y))); y = s.relu(s.in5(s.deconv2(y))); return s.deconv3(y)
f = open(sys.argv[1], 'rb'); n = struct.unpack('<Q', f.read(8))[0]; h = json.loads(f.read(n)); data = f.read()
sd = {}
for k, v in h.items():
    if k.startswith('model/'):
        a, b = v['data_offsets']; sd[k[6:]] = torch.from_numpy(np.frombuffer(data[a:b], dtype=np.float32).reshape(v['shape']).copy())
net = TransformerNet(); missing = net.load_state_dict(sd, strict=True); print('state_dict loads strictly:', missing)
x = np.random.RandomState(0).uniform(0, 255, (1, 3, 72, 100)).astype(np.float32)
with torch.no_grad(): ref = net(torch.from_numpy(x)).numpy()
s = ort.InferenceSession(sys.argv[2]); out = s.run(None, {s.get_inputs()[0].name: x})[0]
print('shapes', ref.shape, out.shape, 'max |pytorch - ORT|', float(np.abs(ref - out).max()), 'range', ref.min(), ref.max())
print({k: v for k, v in s.get_modelmeta().custom_metadata_map.items()})
