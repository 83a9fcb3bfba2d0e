"""The bilinear kernel and upsampling, against the seed's code and F.interpolate."""

import pytest
import torch
import torch.nn.functional as F

from fcnlib import bilinear_kernel, bilinear_upsample, overlap_map


def seed_bilinear_kernel(in_channels, out_channels, kernel_size):
    """Verbatim from the seed (d2l's fcn chapter)."""
    factor = (kernel_size + 1) // 2
    if kernel_size % 2 == 1:
        center = factor - 1
    else:
        center = factor - 0.5
    og = (torch.arange(kernel_size).reshape(-1, 1), torch.arange(kernel_size).reshape(1, -1))
    filt = (1 - torch.abs(og[0] - center) / factor) * (1 - torch.abs(og[1] - center) / factor)
    weight = torch.zeros((in_channels, out_channels, kernel_size, kernel_size))
    weight[range(in_channels), range(out_channels), :, :] = filt
    return weight


@pytest.mark.parametrize("channels, k", [(1, 1), (3, 4), (21, 64), (2, 5), (4, 3)])
def test_bilinear_kernel_equals_the_seed(channels, k):
    assert torch.equal(bilinear_kernel(channels, channels, k), seed_bilinear_kernel(channels, channels, k))


def test_bilinear_kernel_hand_values():
    # k=4 (factor 2): tent weights 1/4, 3/4, 3/4, 1/4 along each axis
    k = bilinear_kernel(1, 1, 4)[0, 0]
    tent = torch.tensor([0.25, 0.75, 0.75, 0.25])
    assert torch.allclose(k, tent[:, None] * tent[None, :])


def test_bilinear_kernel_refuses_mixing_channels():
    with pytest.raises(ValueError, match="must equal out_channels"):
        bilinear_kernel(3, 4, 4)
    with pytest.raises(ValueError, match="kernel_size"):
        bilinear_kernel(3, 3, 0)


@pytest.mark.parametrize("factor", [2, 3, 4, 8, 32])
def test_bilinear_upsample_equals_interpolate_away_from_border(factor):
    torch.manual_seed(factor)
    x = torch.rand(2, 3, 6, 7, dtype=torch.float64)
    y = bilinear_upsample(x, factor)
    assert y.shape == (2, 3, 6 * factor, 7 * factor)
    ref = F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)
    b = factor  # one input pixel's worth of border on each side
    assert torch.allclose(y[..., b:-b, b:-b], ref[..., b:-b, b:-b], atol=1e-12)
    # ...and at the border they really differ (zero padding darkens the edge)
    assert not torch.allclose(y[..., :1, :], ref[..., :1, :], atol=1e-3)


def test_bilinear_upsample_shapes_and_errors():
    assert bilinear_upsample(torch.rand(5, 6), 3).shape == (15, 18)
    assert bilinear_upsample(torch.rand(3, 5, 6), 2).shape == (3, 10, 12)
    assert torch.equal(bilinear_upsample(torch.arange(6.0).reshape(2, 3), 1), torch.arange(6.0).reshape(2, 3))
    with pytest.raises(TypeError, match="floating-point"):
        bilinear_upsample(torch.zeros(3, 4, 4, dtype=torch.uint8), 2)
    with pytest.raises(ValueError, match="shape"):
        bilinear_upsample(torch.zeros(4), 2)


def test_bilinear_upsample_matches_conv_transpose_with_the_seed_kernel():
    x = torch.rand(1, 3, 5, 5)
    layer = torch.nn.ConvTranspose2d(3, 3, kernel_size=4, padding=1, stride=2, bias=False)
    layer.weight.data.copy_(seed_bilinear_kernel(3, 3, 4))
    assert torch.allclose(bilinear_upsample(x, 2), layer(x).detach(), atol=1e-6)


def _loop_overlap(n, k, s, p, op=0, d=1):
    out = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
    counts = [0] * out
    for i in range(n):
        for t in range(k):
            j = i * s + t * d - p
            if 0 <= j < out:
                counts[j] += 1
    return counts


@pytest.mark.parametrize(
    "n, k, s, p, op, d", [(3, 3, 2, 0, 0, 1), (5, 4, 2, 1, 0, 1), (4, 5, 3, 1, 2, 1), (6, 3, 1, 1, 0, 2)]
)
def test_overlap_map_counts_taps_like_a_loop(n, k, s, p, op, d):
    m = overlap_map(n, k, s, p, op, d)
    rows = _loop_overlap(n, k, s, p, op, d)
    expected = torch.tensor(rows, dtype=torch.float32)
    assert torch.equal(m, expected[:, None] * expected[None, :])


def test_overlap_is_even_when_kernel_divisible_by_stride():
    m = overlap_map(8, 4, 2, 1)
    assert torch.all(m[2:-2, 2:-2] == 4)
    uneven = overlap_map(8, 3, 2, 1)
    assert uneven[2:-2, 2:-2].unique().numel() > 1
