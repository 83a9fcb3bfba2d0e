"""Chapter 3's "Your turn" checks: right answers (in other forms too), wrong answers, unsolved cells. References:
hand-counted windows, shapes worked out by hand, and F.interpolate for bilinear upsampling."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from fcnlib import checks

CROSSES = [(3, 4), (14, 20), (8, 25), (17, 6)]


@pytest.fixture(autouse=True)
def english(monkeypatch):
    monkeypatch.delenv("FCNLIB_LANG", raising=False)


def test_cross_detector_right_in_any_order_and_form(capsys):
    found = [[17, 6], [3, 4], [8, 25], [14, 20]]  # lists, as .nonzero().tolist() gives them
    assert checks.check_cross_detector(found, CROSSES) == sorted(CROSSES)
    assert capsys.readouterr().out == "Right: exactly the 4 real crosses are called 'cross'.\n"
    checks.check_cross_detector(torch.tensor(found).numpy(), CROSSES)  # numpy ints
    assert capsys.readouterr().out.startswith("Right")


def test_cross_detector_too_low_and_too_high(capsys):
    extra = CROSSES + [(3, 5), (4, 4)]  # neighbours of a cross
    checks.check_cross_detector(extra, CROSSES)
    out = capsys.readouterr().out
    assert out.startswith("Not quite: windows called 'cross': 6, on a real cross: 4 of 4.") and "too low" in out
    assert out.endswith("other windows pass it as well, 2 overlapping a cross and 0 on noise alone.\n")
    # By hand, the cross at (3, 4) has its pixels at (3, 5), (4, 4), (4, 5), (4, 6) and (5, 5). Windows at offsets
    # (2, 1), (-2, 1) and (1, -2) from it, top-left (5, 5), (1, 5) and (4, 2), contain (5, 5), (3, 5) and (4, 4).
    # At the offsets (2, 2), (-2, -2) and (-2, 2), top-left (5, 6), (1, 2) and (1, 6), a window shares only a blank
    # corner of the cross's 3x3 window: noise alone, like (6, 7), (0, 12) and (21, 29), which share nothing.
    near = [(5, 5), (1, 5), (4, 2)]
    noise = [(5, 6), (1, 2), (1, 6), (6, 7), (0, 12), (21, 29)]
    checks.check_cross_detector(CROSSES[1:] + near + noise, CROSSES)
    out = capsys.readouterr().out
    assert out.startswith("Not quite: windows called 'cross': 12, on a real cross: 3 of 4.")
    assert "too low: other windows pass it as well, 3 overlapping a cross and 6 on noise alone." in out
    checks.check_cross_detector([(17, 6)], CROSSES)
    out = capsys.readouterr().out
    assert out.startswith("Not quite: windows called 'cross': 1, on a real cross: 1 of 4.") and "too high" in out
    checks.check_cross_detector([], CROSSES)
    assert "too high" in capsys.readouterr().out


def test_cross_detector_unsolved(capsys):
    assert checks.check_cross_detector(None, CROSSES) == sorted(CROSSES)
    assert capsys.readouterr().out.startswith("Not written yet")


@pytest.mark.parametrize("answer", [(2, 1000, 7, 7), [2, 1000, 7, 7], torch.Size([2, 1000, 7, 7])])
def test_score_map_shape_right_in_any_form(answer, capsys):
    truth = torch.Size([2, 1000, 7, 7])  # by hand: 1000 ImageNet classes, 224 / 32 = 7
    assert checks.check_score_map_shape(answer, truth, (224, 224)) == (2, 1000, 7, 7)
    assert capsys.readouterr().out == "Right: (2, 1000, 7, 7).\n"
    checks.check_score_map_shape(tuple(np.array(answer)), truth, (224, 224))
    assert capsys.readouterr().out.startswith("Right")


@pytest.mark.parametrize("answer", [(2, 512, 7, 7), (2, 1000, 224, 224), (2, 1000, 7), "2, 1000, 7, 7"])
def test_score_map_shape_wrong(answer, capsys):
    checks.check_score_map_shape(answer, (2, 1000, 7, 7), (224, 224))
    out = capsys.readouterr().out
    assert out.startswith("Not quite: (2, 1000, 7, 7).") and "C = 1000" in out and "H = 224 / 32" in out


def test_score_map_shape_unsolved(capsys):
    assert checks.check_score_map_shape(None, (2, 1000, 7, 7), (224, 224)) == (2, 1000, 7, 7)
    assert capsys.readouterr().out.startswith("Not written yet")


def _upsampler(kernel, padding, bias=False, weight=None):
    def make(factor, channels):
        k = kernel(factor)
        layer = nn.ConvTranspose2d(channels, channels, k, stride=factor, padding=padding(factor), bias=bias)
        with torch.no_grad():
            # The bilinear weight written out here, independently of fcnlib.bilinear_kernel: a tent per axis.
            f = (k + 1) // 2
            c = f - 1 if k % 2 else f - 0.5
            tent = 1 - (torch.arange(k) - c).abs() / f
            w = torch.zeros(channels, channels, k, k)
            w[range(channels), range(channels)] = tent[:, None] * tent[None, :]
            layer.weight.copy_(w if weight is None else weight(w))
        return layer

    return make


def test_bilinear_upsampler_right(capsys):
    right = _upsampler(lambda f: 2 * f - f % 2, lambda f: f // 2)
    reference = checks.check_bilinear_upsampler(right)
    assert capsys.readouterr().out == "Right: bilinear interpolation for factors 2, 3, 4, 8, 16.\n"
    z = torch.randn(1, 3, 5, 4)
    for f, layer in reference.items():  # the returned reference layers are bilinear interpolation too
        with torch.no_grad():
            ref = F.interpolate(z, scale_factor=f, mode="bilinear", align_corners=False)
            torch.testing.assert_close(layer(z)[..., f:-f, f:-f], ref[..., f:-f, f:-f])


def test_bilinear_upsampler_wrong_size_values_type_and_errors(capsys):
    checks.check_bilinear_upsampler(_upsampler(lambda f: 2 * f, lambda f: f // 2))  # even kernel for factor 3
    out = capsys.readouterr().out
    assert out.startswith("Not quite: factor 3 gives (1, 3, 19, 22), expected (1, 3, 18, 21)")
    checks.check_bilinear_upsampler(_upsampler(lambda f: 2 * f - f % 2, lambda f: f // 2, bias=True))
    assert capsys.readouterr().out.startswith("Not quite: factor 2 has the right size but other values")
    checks.check_bilinear_upsampler(_upsampler(lambda f: 2 * f - f % 2, lambda f: f // 2, weight=lambda w: 2 * w))
    assert "other values" in capsys.readouterr().out
    checks.check_bilinear_upsampler(lambda f, c: "a layer")
    assert capsys.readouterr().out.startswith("Not quite: bilinear_upsampler(2, 3) returned an object of type str;")
    checks.check_bilinear_upsampler(lambda f, c: nn.Upsample(scale_factor=f, mode="bilinear"))  # no transposed conv
    assert capsys.readouterr().out.startswith("Not quite: bilinear_upsampler(2, 3) returned an object of type Upsample")

    def broken(factor, channels):
        raise RuntimeError("shape mismatch")

    checks.check_bilinear_upsampler(broken)
    assert capsys.readouterr().out == "Not quite: factor 2 raised RuntimeError: shape mismatch.\n"


def test_bilinear_upsampler_unsolved(capsys):
    reference = checks.check_bilinear_upsampler(lambda factor, channels: None)
    assert capsys.readouterr().out.startswith("Not written yet") and sorted(reference) == [2, 3, 4, 8, 16]
