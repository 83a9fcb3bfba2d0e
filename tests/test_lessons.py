"""fcnlib.lessons against PyTorch's own operators, numpy and hand-computed numbers."""

import pytest
import torch
import torchvision
import torchvision.transforms.v2.functional  # noqa: F401 (torchvision.transforms.v2 below)
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


class RecordingNet(nn.Module):
    """Scores = its normalised input; keeps the batch it was given in ``seen``."""

    def forward(self, x):
        self.seen = x
        return x


def test_pad_mode_pads_with_zeros_to_multiples_of_32_and_crops_back():
    img = torch.randint(0, 256, (3, 45, 70), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    x = torchvision.transforms.v2.functional.normalize(img.float() / 255, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    net = RecordingNet()
    scores = fcnlib.inference.full_scores(net, img, pad_mode="constant")
    assert net.seen.shape == (1, 3, 64, 96) and scores.shape == (3, 45, 70)  # padded to multiples; size kept
    top, left = (64 - 45) // 2, (96 - 70) // 2
    assert torch.allclose(net.seen[0, :, top : top + 45, left : left + 70], x, atol=1e-6)
    assert torch.allclose(scores, x, atol=1e-6)
    outside = torch.ones(64, 96, dtype=torch.bool)
    outside[top : top + 45, left : left + 70] = False
    assert net.seen[0][:, outside].abs().sum() == 0
    fcnlib.inference.full_scores(net, torch.zeros(3, 64, 96, dtype=torch.uint8), pad_mode="constant")
    assert net.seen.shape == (1, 3, 64, 96)  # already multiples of 32: nothing added
