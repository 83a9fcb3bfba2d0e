"""fcnlib.lessons against PyTorch's own operators, numpy and hand-computed numbers."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from test_upsampling import seed_bilinear_kernel  # the seed's code, copied verbatim into the tests
from torch import nn

import fcnlib
from fcnlib.upsampling import bilinear_kernel


def test_linear_interpolate_matches_numpy_interp():
    values = [3.0, -1.0, 4.0, 1.5, 9.0]
    for x in np.linspace(0, 4, 17):
        assert fcnlib.upsampling.linear_interpolate(values, float(x)) == pytest.approx(np.interp(x, range(5), values))
    assert fcnlib.upsampling.linear_interpolate([10, 20, 40], 1.25) == 25.0  # by hand: 0.75*20 + 0.25*40


def test_linear_interpolate_refuses_to_extrapolate():
    with pytest.raises(ValueError, match="outside"):
        fcnlib.upsampling.linear_interpolate([1, 2], 1.5)


def test_bilinear_interpolate_matches_grid_sample():
    torch.manual_seed(0)
    grid = torch.rand(4, 5, dtype=torch.float64)
    for y, x in [(0.0, 0.0), (1.3, 2.7), (3.0, 4.0), (2.5, 0.25), (0.9, 3.99)]:
        # grid_sample with align_corners=True puts -1 and +1 on the centres of the end pixels.
        g = torch.tensor([[[[2 * x / 4 - 1, 2 * y / 3 - 1]]]], dtype=torch.float64)
        ref = F.grid_sample(grid[None, None], g, mode="bilinear", align_corners=True).item()
        assert fcnlib.upsampling.bilinear_interpolate(grid, y, x) == pytest.approx(ref, abs=1e-12)


def test_bilinear_interpolate_by_hand_numbers():
    grid = torch.tensor([[0.0, 10.0], [20.0, 30.0]])
    # Centre of the four pixels: their mean.
    assert fcnlib.upsampling.bilinear_interpolate(grid, 0.5, 0.5) == pytest.approx(15.0)
    # A quarter of the way down, three quarters across: 0.75*(7.5) + 0.25*(27.5) = 12.5
    assert fcnlib.upsampling.bilinear_interpolate(grid, 0.25, 0.75) == pytest.approx(12.5)


@pytest.mark.parametrize("factor", [1, 2, 3, 4])
def test_bilinear_resize_by_hand_matches_f_interpolate(factor):
    torch.manual_seed(factor)
    grid = torch.rand(3, 4, dtype=torch.float64)
    ref = F.interpolate(grid[None, None], scale_factor=factor, mode="bilinear", align_corners=False)[0, 0]
    torch.testing.assert_close(fcnlib.upsampling.bilinear_resize_by_hand(grid, factor), ref)


def test_bilinear_resize_by_hand_rejects_bad_factor():
    with pytest.raises(TypeError, match="factor must be an int"):
        fcnlib.upsampling.bilinear_resize_by_hand(torch.ones(2, 2), 2.0)
    with pytest.raises(ValueError, match="at least 1"):
        fcnlib.upsampling.bilinear_resize_by_hand(torch.ones(2, 2), 0)


def test_source_coordinate_by_hand():
    assert [fcnlib.upsampling.source_coordinate(i, 2) for i in range(4)] == [-0.25, 0.25, 0.75, 1.25]
    assert fcnlib.upsampling.source_coordinate(0, 4) == -0.375


def test_tent_weights_by_hand_and_outer_product_is_the_seed_kernel():
    assert fcnlib.upsampling.tent_weights(4).tolist() == [0.25, 0.75, 0.75, 0.25]
    assert fcnlib.upsampling.tent_weights(3).tolist() == [0.5, 1.0, 0.5]
    for k in (1, 2, 3, 4, 5, 16, 64):
        t = fcnlib.upsampling.tent_weights(k)
        torch.testing.assert_close(t[:, None] * t[None, :], seed_bilinear_kernel(1, 1, k)[0, 0])


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
    trace = fcnlib.shapes.backbone_size_trace(size)
    assert trace[0] == ("input", size)
    assert trace[1:-1] == _resnet18_stage_sizes(*size)
    up = nn.ConvTranspose2d(1, 1, kernel_size=64, stride=32, padding=16)
    assert trace[-1] == ("transpose_conv", tuple(up(torch.zeros(1, 1, *trace[-2][1])).shape[-2:]))


def test_backbone_size_trace_seed_numbers():
    trace = dict(fcnlib.shapes.backbone_size_trace((320, 480)))
    assert trace["layer4"] == (10, 15) and trace["transpose_conv"] == (320, 480)
    assert dict(fcnlib.shapes.backbone_size_trace((160, 240)))["transpose_conv"] == (160, 256)


def test_pad_to_multiple():
    x = torch.arange(2 * 3 * 5, dtype=torch.float32).reshape(2, 3, 5)
    padded, size = fcnlib.upsampling.pad_to_multiple(x, 4)
    assert padded.shape == (2, 4, 8) and size == (3, 5)
    assert torch.equal(padded[:, :3, :5], x) and padded[:, 3:].abs().sum() == 0 and padded[:, :, 5:].abs().sum() == 0
    same, size = fcnlib.upsampling.pad_to_multiple(torch.ones(1, 1, 64, 96))
    assert same.shape == (1, 1, 64, 96) and size == (64, 96)


def test_pool_and_upsample_three_ways():
    x = torch.tensor([[[1.0, 5.0, 0.0, 2.0], [3.0, 2.0, 7.0, 1.0], [0.0, 0.0, 1.0, 1.0], [4.0, 0.0, 1.0, 3.0]]])
    out = fcnlib.upsampling.pool_and_upsample_three_ways(x, 2)
    assert out["pooled"].tolist() == [[[5.0, 7.0], [4.0, 3.0]]]
    # Max-unpooling by hand: each maximum back in its place, zeros elsewhere.
    assert out["max-unpooling"].tolist() == [[[0, 5, 0, 0], [0, 0, 7, 0], [0, 0, 0, 0], [4, 0, 0, 3]]]
    ref = F.interpolate(out["pooled"][None], scale_factor=2, mode="bilinear", align_corners=False)[0]
    torch.testing.assert_close(out["bilinear interpolation"], ref)
    tconv = F.conv_transpose2d(out["pooled"][None], bilinear_kernel(1, 1, 4), stride=2, padding=1)[0]
    torch.testing.assert_close(out["transposed conv"], tconv)
    with pytest.raises(ValueError, match="multiples"):
        fcnlib.upsampling.pool_and_upsample_three_ways(torch.zeros(1, 5, 4), 2)
