"""fcnlib.explain: the pure computations behind the pictures, checked against PyTorch's own operators."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fcnlib.data import sample_photo
from fcnlib.upsampling import (
    bilinear_kernel,
    bilinear_settings,
    bilinear_upsample,
    checkerboard,
    conv_matrix,
    overlap_map,
    phase_sums,
    resize_conv,
    scatter_step,
    spread,
)

SETTINGS = [
    # size (h, w), kernel (h, w), stride, padding, output_padding, dilation
    ((2, 2), (2, 2), 1, 0, 0, 1),
    ((3, 2), (3, 2), 2, 1, 1, 1),
    ((3, 3), (4, 4), 2, 1, 0, 1),
    ((4, 3), (3, 3), 3, 0, 2, 1),
    ((2, 3), (2, 3), 1, 0, 1, 2),
    ((3, 3), (3, 3), 2, 2, 0, 2),
    ((1, 1), (5, 5), 4, 2, 3, 1),
]


def _torch_conv_transpose(x, kernel, stride, padding, output_padding, dilation):
    return F.conv_transpose2d(
        x[None, None],
        kernel[None, None],
        stride=stride,
        padding=padding,
        output_padding=output_padding,
        dilation=dilation,
    )[0, 0]


@pytest.mark.parametrize("size, ksize, stride, padding, output_padding, dilation", SETTINGS)
def test_scatter_step_every_step_matches_conv_transpose2d_of_the_pixels_so_far(
    size, ksize, stride, padding, output_padding, dilation
):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(*size, generator=g)
    kernel = torch.randn(*ksize, generator=g)
    total = x.numel()
    for step in range(total + 1):
        s = scatter_step(x, kernel, step, stride, padding, output_padding, dilation)
        # Reference: PyTorch's transposed convolution of only the first `step` pixels (reading order).
        mask = (torch.arange(total) < step).reshape(size).float()
        expected = _torch_conv_transpose(x * mask, kernel, stride, padding, output_padding, dilation)
        assert s.output.shape == expected.shape
        torch.testing.assert_close(s.output, expected, rtol=1e-5, atol=1e-5)
        assert s.num_steps == total and s.step == step
    final = scatter_step(x, kernel, None, stride, padding, output_padding, dilation)
    torch.testing.assert_close(
        final.output, _torch_conv_transpose(x, kernel, stride, padding, output_padding, dilation), rtol=1e-5, atol=1e-5
    )


def test_scatter_step_d2l_example():
    # d2l 13.10.1: X = K = [[0, 1], [2, 3]] gives [[0, 0, 1], [0, 4, 6], [4, 12, 9]].
    X = torch.tensor([[0.0, 1.0], [2.0, 3.0]])
    s = scatter_step(X, X.clone())
    assert s.output.tolist() == [[0.0, 0.0, 1.0], [0.0, 4.0, 6.0], [4.0, 12.0, 9.0]]
    # After the first two pixels only 0*K and 1*K (shifted one column) have been added.
    assert scatter_step(X, X.clone(), 2).output.tolist() == [[0.0, 0.0, 1.0], [0.0, 2.0, 3.0], [0.0, 0.0, 0.0]]
    assert scatter_step(X, X.clone(), 0).index is None
    assert scatter_step(X, X.clone(), 3).index == (1, 0)


@pytest.mark.parametrize("size, ksize, stride, padding, output_padding, dilation", SETTINGS)
def test_scatter_step_footprint_matches_pytorch(size, ksize, stride, padding, output_padding, dilation):
    x = torch.ones(*size)
    for step in range(1, x.numel() + 1):
        s = scatter_step(x, torch.ones(*ksize), step, stride, padding, output_padding, dilation)
        top, left, h, w = s.crop
        kept = s.footprint[top : top + h, left : left + w]
        # Independent reference: PyTorch's transposed convolution of a one-hot input with a ones kernel.
        one_hot = torch.zeros(1, 1, *size)
        one_hot[0, 0, s.index[0], s.index[1]] = 1.0
        expected = (
            torch.nn.functional.conv_transpose2d(
                one_hot,
                torch.ones(1, 1, *ksize),
                stride=stride,
                padding=padding,
                output_padding=output_padding,
                dilation=dilation,
            )[0, 0]
            != 0
        )
        assert torch.equal(kept, expected)


def test_scatter_step_refuses_what_pytorch_refuses():
    x, k = torch.ones(2, 2), torch.ones(3, 3)
    for stride, padding, output_padding in [(2, 0, 2), (1, 3, 0), (1, 0, 1)]:
        with pytest.raises(RuntimeError):
            _torch_conv_transpose(x, k, stride, padding, output_padding, 1)
        with pytest.raises(ValueError):
            scatter_step(x, k, None, stride, padding, output_padding)
    with pytest.raises(ValueError, match="step must be"):
        scatter_step(x, k, 5)
    with pytest.raises(ValueError, match="2-D"):
        scatter_step(torch.ones(1, 2, 2), k)


def test_overlap_map_counts_match_a_python_loop():
    # Independent reference: place every tap of every input pixel by hand.
    for n, k, s, p, op, d in itertools.product((1, 3), (1, 2, 3, 4), (1, 2, 3), (0, 1), (0, 1), (1, 2)):
        if op >= max(s, d):
            continue
        out = (n - 1) * s - 2 * p + d * (k - 1) + op + 1
        if out < 1:
            continue
        counts = [[0] * out for _ in range(out)]
        for i, j, a, b in itertools.product(range(n), range(n), range(k), range(k)):
            r, c = i * s + a * d - p, j * s + b * d - p
            if 0 <= r < out and 0 <= c < out:
                counts[r][c] += 1
        assert overlap_map(n, k, s, p, op, d).tolist() == counts


def test_conv_matrix_matches_conv2d_and_its_transpose_matches_conv_transpose2d():
    g = torch.Generator().manual_seed(1)
    for (h, w), k, stride, padding in [((3, 3), 2, 1, 0), ((5, 4), 3, 2, 1), ((6, 6), 4, 2, 1), ((4, 5), 3, 3, 2)]:
        kernel = torch.randn(k, k, generator=g)
        W = conv_matrix((h, w), kernel, stride, padding)
        x = torch.randn(h, w, generator=g)
        y = F.conv2d(x[None, None], kernel[None, None], stride=stride, padding=padding)[0, 0]
        assert W.shape == (y.numel(), h * w)
        torch.testing.assert_close(W @ x.flatten(), y.flatten(), rtol=1e-5, atol=1e-5)
        # W.T maps y's shape back to x's; output_padding picks x's size among the candidates.
        z = torch.randn(*y.shape, generator=g)
        op = ((h + 2 * padding - k) % stride, (w + 2 * padding - k) % stride)
        back = F.conv_transpose2d(z[None, None], kernel[None, None], stride=stride, padding=padding, output_padding=op)[
            0, 0
        ]
        assert back.shape == (h, w)
        torch.testing.assert_close(W.T @ z.flatten(), back.flatten(), rtol=1e-5, atol=1e-5)


def test_conv_matrix_d2l_kernel2matrix():
    # d2l 13.10.3's kernel2matrix for K = [[1, 2], [3, 4]] on a 3x3 input, written out by hand.
    W = conv_matrix((3, 3), torch.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert W.tolist() == [
        [1, 2, 0, 3, 4, 0, 0, 0, 0],
        [0, 1, 2, 0, 3, 4, 0, 0, 0],
        [0, 0, 0, 1, 2, 0, 3, 4, 0],
        [0, 0, 0, 0, 1, 2, 0, 3, 4],
    ]


@pytest.mark.parametrize("factor", range(1, 7))
def test_bilinear_settings_give_exactly_factor_times_the_size_in_pytorch(factor):
    for kernel_size in range(1, 14):
        try:
            stride, padding, output_padding = bilinear_settings(factor, kernel_size)
        except ValueError as err:
            # Only factor 1 with an even kernel is impossible: PyTorch refuses output_padding=1 at stride 1.
            assert factor == 1 and kernel_size % 2 == 0, err
            with pytest.raises(RuntimeError):
                nn.ConvTranspose2d(1, 1, kernel_size, 1, (kernel_size - 1) // 2 + 1, output_padding=1)(
                    torch.ones(1, 1, 3, 3)
                )
            continue
        layer = nn.ConvTranspose2d(1, 1, kernel_size, stride, padding, output_padding=output_padding, bias=False)
        for n in (1, 3, 5):
            assert layer(torch.ones(1, 1, n, n + 1)).shape[-2:] == (n * factor, (n + 1) * factor)


def test_bilinear_upsample_with_any_kernel_matches_the_seeds_layer():
    # The seed's construction: nn.ConvTranspose2d(3, 3, k, ...) with weight = bilinear_kernel(3, 3, k).
    img = sample_photo((12, 10))
    for factor, kernel_size in [(2, 4), (3, 5), (3, 4), (2, 7), (4, 3)]:
        stride, padding, output_padding = bilinear_settings(factor, kernel_size)
        layer = nn.ConvTranspose2d(3, 3, kernel_size, stride, padding, output_padding=output_padding, bias=False)
        layer.weight.data.copy_(bilinear_kernel(3, 3, kernel_size))
        with torch.no_grad():
            expected = layer(img[None])[0]
        got = bilinear_upsample(img, factor, kernel_size)
        assert got.shape == (3, 12 * factor, 10 * factor)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_matched_bilinear_kernel_equals_interpolate_away_from_the_border():
    img = sample_photo((16, 16))
    for factor in (2, 3, 4):
        k = 2 * factor - factor % 2
        up = bilinear_upsample(img, factor, k)
        ref = F.interpolate(img[None], scale_factor=factor, mode="bilinear", align_corners=False)[0]
        m = factor  # skip the border, where the transposed conv sees zeros
        torch.testing.assert_close(up[:, m:-m, m:-m], ref[:, m:-m, m:-m], rtol=1e-5, atol=1e-5)


def test_phase_sums_are_what_a_constant_row_becomes():
    for kernel_size, stride in itertools.product(range(1, 10), range(1, 5)):
        tent = bilinear_kernel(1, 1, kernel_size)[0, 0].diagonal().sqrt()
        sums = phase_sums(tent, stride)
        row = F.conv_transpose1d(torch.ones(1, 1, 12), tent[None, None], stride=stride)[0, 0]
        for q in range(kernel_size, 11 * stride):  # interior: every tap position has an input pixel
            assert abs(row[q].item() - sums[q % stride].item()) < 1e-5
        if kernel_size == 2 * stride - stride % 2:  # the matching kernel: one per phase (hand-derived)
            assert torch.allclose(sums, torch.ones(stride))
    assert phase_sums(torch.tensor([0.25, 0.75, 0.75, 0.25]), 2).tolist() == [1.0, 1.0]
    assert phase_sums(torch.tensor([0.25, 0.75, 0.75, 0.25]), 3).tolist() == [0.5, 0.75, 0.75]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_resize_conv_matches_interpolate_then_conv2d_same(k):
    g = torch.Generator().manual_seed(k)
    x = torch.randn(2, 3, 5, 4, generator=g)
    weight = torch.randn(4, 3, k, k, generator=g)
    for factor in (1, 2, 3):
        ref = F.conv2d(F.interpolate(x, scale_factor=factor, mode="nearest"), weight, padding="same")
        got = resize_conv(x, factor, weight)
        assert got.shape == (2, 4, 5 * factor, 4 * factor)
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)
        # replicate: the same as padding nearest-upsampled x by repeating its edge pixels
        up = F.interpolate(x, scale_factor=factor, mode="nearest")
        padded = F.pad(up, ((k - 1) // 2, k // 2, (k - 1) // 2, k // 2), mode="replicate")
        torch.testing.assert_close(
            resize_conv(x, factor, weight, padding_mode="replicate"), F.conv2d(padded, weight), rtol=1e-4, atol=1e-5
        )
    # a 2-D kernel is applied to each channel on its own
    k2 = torch.randn(k, k, generator=g)
    ref = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), k2.expand(3, 1, k, k), padding="same", groups=3)
    torch.testing.assert_close(resize_conv(x, 2, k2), ref, rtol=1e-4, atol=1e-5)


def _matches_some_window(img, big, period):
    """Whether ``img`` equals a window of ``big`` starting at some phase (r, c) in the interior."""
    n = img.shape[0]
    start = (big.shape[0] - n) // 2 // period * period
    for r, c in itertools.product(range(period), repeat=2):
        window = big[start + r : start + r + n, start + c : start + c + n]
        if window.shape == img.shape and torch.allclose(window, img, atol=1e-5):
            return True
    return False


@pytest.mark.parametrize("kernel_size, stride", [(3, 2), (4, 2), (5, 3), (2, 3), (1, 2), (6, 4), (3, 1)])
@pytest.mark.parametrize("layers", [1, 2])
def test_checkerboard_is_the_middle_of_a_large_constant_image(kernel_size, stride, layers):
    img = checkerboard(kernel_size, stride, layers, size=2)
    assert img.shape == (2 * stride**layers,) * 2
    # Reference: a big constant image through plain conv_transpose2d layers (no tricks), then its middle.
    big = torch.ones(1, 1, 16, 16)
    weight = torch.full((1, 1, kernel_size, kernel_size), (stride / kernel_size) ** 2)
    for _ in range(layers):
        big = F.conv_transpose2d(big, weight, stride=stride)
    assert _matches_some_window(img, big[0, 0], stride**layers)
    if layers == 1:
        # one layer: the overlap counts' pattern, scaled so the mean is 1
        counts = overlap_map(12, kernel_size, stride) * (stride / kernel_size) ** 2
        assert _matches_some_window(img, counts, stride)
    flat = kernel_size % stride == 0
    assert (spread(img)[2] < 1e-6) == flat
    torch.testing.assert_close(
        checkerboard(kernel_size, stride, layers, 2, method="resize"),
        torch.ones(2 * stride**layers, 2 * stride**layers),
    )


def test_checkerboard_artifacts_compound_with_layers():
    assert spread(checkerboard(3, 2, 2, 2))[2] > spread(checkerboard(3, 2, 1, 2))[2] > 0


def test_checkerboard_rejects_bad_input():
    with pytest.raises(ValueError, match="method"):
        checkerboard(3, 2, method="nearest")
    with pytest.raises(ValueError, match="too large"):
        checkerboard(3, 4, layers=6)
    with pytest.raises(ValueError, match="kernel_size"):
        checkerboard(0, 2)


def test_spread_by_hand():
    assert spread(torch.tensor([[1.0, 3.0]])) == (1.0, 3.0, 1.0)
    assert spread(torch.ones(3, 3))[2] == 0.0


def test_sample_photo_is_the_bundled_grace_hopper():
    from matplotlib import cbook
    from PIL import Image

    full = sample_photo(face=False)
    with cbook.get_sample_data("grace_hopper.jpg") as f:
        ref = Image.open(f).convert("RGB")
        assert full.shape == (3, ref.height, ref.width)
        assert abs(full[:, 10, 20] * 255 - torch.tensor(ref.getpixel((20, 10)), dtype=torch.float32)).max() < 1e-3
    small = sample_photo((32, 24))
    assert small.shape == (3, 32, 24) and small.dtype == torch.float32
    assert 0.0 <= small.min() and small.max() <= 1.0
    small[0, 0, 0] = 5.0  # a copy: the cached photo is not changed
    assert sample_photo((32, 24))[0, 0, 0] <= 1.0
    with pytest.raises(ValueError, match="size"):
        sample_photo((0, 4))
