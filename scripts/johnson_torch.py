"""The Johnson transformer net in PyTorch, built from one of our ONNX files (for baselines only).

The ONNX initializers carry pytorch/examples TransformerNet's state_dict names, so the widths, the
residual-block count, the end kernel and the space-to-depth ends (lite nets: conv1 takes 12 channels)
are read from the weights themselves.
"""
import onnx
import torch
from onnx import numpy_helper
from torch import nn


def load_state(model_path):
    graph = onnx.load(model_path).graph
    return {t.name: torch.from_numpy(numpy_helper.to_array(t).copy()) for t in graph.initializer if not t.name.startswith("const.")}


class ConvLayer(nn.Module):
    def __init__(self, cin, cout, k, stride):
        super().__init__()
        self.pad = nn.ReflectionPad2d(k // 2)
        self.conv2d = nn.Conv2d(cin, cout, k, stride)

    def forward(self, x):
        return self.conv2d(self.pad(x))


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1, self.in1 = ConvLayer(c, c, 3, 1), nn.InstanceNorm2d(c, affine=True)
        self.conv2, self.in2 = ConvLayer(c, c, 3, 1), nn.InstanceNorm2d(c, affine=True)

    def forward(self, x):
        return x + self.in2(self.conv2(torch.relu(self.in1(self.conv1(x)))))


def space_to_depth(x):
    """ONNX SpaceToDepth(blocksize 2) ordering (not pixel_unshuffle's)."""
    n, c, h, w = x.shape
    return x.reshape(n, c, h // 2, 2, w // 2, 2).permute(0, 3, 5, 1, 2, 4).reshape(n, 4 * c, h // 2, w // 2)


def depth_to_space(x):
    """ONNX DepthToSpace(blocksize 2, DCR)."""
    n, c, h, w = x.shape
    return x.reshape(n, 2, 2, c // 4, h, w).permute(0, 3, 4, 1, 5, 2).reshape(n, c // 4, 2 * h, 2 * w)


class TransformerNet(nn.Module):
    def __init__(self, state):
        super().__init__()
        w0, w1, w2 = (state[f"{n}.conv2d.weight"].shape[0] for n in ("conv1", "conv2", "conv3"))
        cin = state["conv1.conv2d.weight"].shape[1]
        k = state["conv1.conv2d.weight"].shape[-1]
        self.s2d = cin == 12
        blocks = len({n.split(".")[0] for n in state if n.startswith("res")})
        self.conv1, self.in1 = ConvLayer(cin, w0, k, 1), nn.InstanceNorm2d(w0, affine=True)
        self.conv2, self.in2 = ConvLayer(w0, w1, 3, 2), nn.InstanceNorm2d(w1, affine=True)
        self.conv3, self.in3 = ConvLayer(w1, w2, 3, 2), nn.InstanceNorm2d(w2, affine=True)
        for i in range(1, blocks + 1):
            setattr(self, f"res{i}", Residual(w2))
        self.blocks = blocks
        self.deconv1, self.in4 = ConvLayer(w2, w1, 3, 1), nn.InstanceNorm2d(w1, affine=True)
        self.deconv2, self.in5 = ConvLayer(w1, w0, 3, 1), nn.InstanceNorm2d(w0, affine=True)
        self.deconv3 = ConvLayer(w0, cin, k, 1)
        self.load_state_dict(state)
        self.multiple = 8 if self.s2d else 4

    def forward(self, x):
        up = lambda y: nn.functional.interpolate(y, scale_factor=2, mode="nearest")
        if self.s2d:
            x = space_to_depth(x)
        y = torch.relu(self.in1(self.conv1(x)))
        y = torch.relu(self.in2(self.conv2(y)))
        y = torch.relu(self.in3(self.conv3(y)))
        for i in range(1, self.blocks + 1):
            y = getattr(self, f"res{i}")(y)
        y = torch.relu(self.in4(self.deconv1(up(y))))
        y = torch.relu(self.in5(self.deconv2(up(y))))
        y = self.deconv3(y)
        return depth_to_space(y) if self.s2d else y


def from_onnx(model_path):
    return TransformerNet(load_state(model_path)).eval()
