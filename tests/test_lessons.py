"""fcnlib.lessons against PyTorch's own operators, numpy and hand-computed numbers."""

import pytest
import torch
import torchvision
from test_taught_in_the_open import chapter_definitions
from torch import nn

import fcnlib

backbone_size_trace = chapter_definitions("02_transposed_conv.ipynb", "backbone_size_trace")["backbone_size_trace"]


def test_border_and_interior_difference():
    a = torch.zeros(6, 6)
    b = torch.zeros(6, 6)
    b[0, 3] = 0.5  # on the border
    b[2, 2] = 0.125  # inside
    assert fcnlib.upsampling.border_and_interior_difference(a, b, 1) == (0.125, 0.5)
    with pytest.raises(ValueError, match="same shape"):
        fcnlib.upsampling.border_and_interior_difference(a, torch.zeros(5, 6), 1)
    with pytest.raises(ValueError, match="no interior"):
        fcnlib.upsampling.border_and_interior_difference(a, b, 3)


def _resnet18_stage_sizes(h, w):
    """Reference: run torchvision's ResNet-18 and record every stage's output size."""
    resnet = torchvision.models.resnet18(weights=None).eval()
    x = torch.zeros(1, 3, h, w)
    sizes = []
    with torch.no_grad():
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"):
            x = getattr(resnet, name)(x)
            if name not in ("bn1", "relu"):
                sizes.append((name, tuple(x.shape[-2:])))
    return sizes


@pytest.mark.parametrize("size", [(64, 96), (160, 240), (33, 70)])
def test_backbone_size_trace_matches_resnet18(size):
    trace = backbone_size_trace(size)
    assert trace[0] == ("input", size)
    assert trace[1:-1] == _resnet18_stage_sizes(*size)
    up = nn.ConvTranspose2d(1, 1, kernel_size=64, stride=32, padding=16)
    assert trace[-1] == ("transpose_conv", tuple(up(torch.zeros(1, 1, *trace[-2][1])).shape[-2:]))


def test_backbone_size_trace_seed_numbers():
    trace = dict(backbone_size_trace((320, 480)))
    assert trace["layer4"] == (10, 15) and trace["transpose_conv"] == (320, 480)
    assert dict(backbone_size_trace((160, 240)))["transpose_conv"] == (160, 256)


def test_pad_to_multiple():
    x = torch.arange(2 * 3 * 5, dtype=torch.float32).reshape(2, 3, 5)
    padded, size = fcnlib.upsampling.pad_to_multiple(x, 4)
    assert padded.shape == (2, 4, 8) and size == (3, 5)
    assert torch.equal(padded[:, :3, :5], x) and padded[:, 3:].abs().sum() == 0 and padded[:, :, 5:].abs().sum() == 0
    same, size = fcnlib.upsampling.pad_to_multiple(torch.ones(1, 1, 64, 96))
    assert same.shape == (1, 1, 64, 96) and size == (64, 96)
