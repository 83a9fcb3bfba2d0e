"""fcnlib.checks.skips: each check says Right, Not quite or Not written yet, never raises, and returns the answer."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from fcnlib import checks, fcn_resnet18


def _first_line(capsys) -> str:
    return capsys.readouterr().out.splitlines()[0]


def _maps(size=(224, 352)):
    net = fcn_resnet18(21, "8s", weights=None).eval()
    with torch.no_grad():
        return net.intermediates(torch.zeros(1, 3, *size))


def test_fusion_shapes_right_in_any_form_wrong_and_unsolved(capsys):
    maps = _maps()
    # by hand: 224 x 352 is 7 x 11 cells of 32 pixels; each fusion doubles the grid; out is the input's size
    truth = {"score32": (1, 21, 7, 11), "fused16": (1, 21, 14, 22), "fused8": (1, 21, 28, 44), "out": (1, 21, 224, 352)}
    assert checks.check_fusion_shapes(dict.fromkeys(truth), maps) == truth
    assert _first_line(capsys).startswith("Not written yet")
    as_lists = {k: [np.int64(v) for v in shape] for k, shape in truth.items()}
    assert checks.check_fusion_shapes(as_lists, maps) == truth
    assert _first_line(capsys).startswith("Right")
    wrong = dict(truth, fused8=(1, 21, 14, 22), out=None)
    checks.check_fusion_shapes(wrong, maps)
    line = _first_line(capsys)
    assert line.startswith("Not quite") and "fused8 = (1, 21, 28, 44)" in line and "out = (1, 21, 224, 352)" in line
    assert "score32" not in line
    checks.check_fusion_shapes(dict(truth, out="big"), maps)
    assert _first_line(capsys).startswith("Not quite")


def _solution(net, layer3, layer4):
    return net.transpose_conv(net.up_layer4(net.final_conv(layer4)) + net.score_layer3(layer3))


def test_fcn16s_scores_right_forgotten_skip_wrong_shape_error_and_unsolved(capsys):
    expected = checks.check_fcn16s_scores(_solution)
    assert _first_line(capsys).startswith("Right")
    assert expected.shape == (2, 21, 64, 96)
    no_skip = lambda net, l3, l4: net.transpose_conv(net.up_layer4(net.final_conv(l4)))  # noqa: E731
    checks.check_fcn16s_scores(no_skip)
    assert _first_line(capsys).startswith("Not quite: the right shape, other values")
    checks.check_fcn16s_scores(lambda net, l3, l4: net.final_conv(l4))
    assert "shape" in _first_line(capsys)
    checks.check_fcn16s_scores(lambda net, l3, l4: l3 + l4)  # 256 and 512 channels: PyTorch refuses
    assert _first_line(capsys).startswith("Not quite: your function raised RuntimeError")
    checks.check_fcn16s_scores(lambda net, l3, l4: None)
    assert _first_line(capsys).startswith("Not written yet")


def test_fcn16s_reference_is_the_sum_of_both_paths():
    """The check's reference against a functional computation of FCN-16s from the same seeded net."""
    expected = checks.check_fcn16s_scores(_solution)
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = fcn_resnet18(21, "16s", weights=None).eval()
    with torch.no_grad():
        net.score_layer3.weight.copy_(0.1 * torch.randn(net.score_layer3.weight.shape, generator=generator))
        x = torch.randn(2, 3, 64, 96, generator=generator)
        t = net.intermediates(x)
        up = F.conv_transpose2d(
            F.conv2d(t["layer4"], net.final_conv.weight, net.final_conv.bias), net.up_layer4.weight, stride=2, padding=1
        )
        fused = up + F.conv2d(t["layer3"], net.score_layer3.weight, net.score_layer3.bias)
        reference = F.conv_transpose2d(fused, net.transpose_conv.weight, stride=16, padding=8)
    torch.testing.assert_close(expected, reference)


def test_band_gap_accepts_synonyms_and_says_the_measured_answer(capsys):
    assert checks.check_band_gap(None, 0.05, 0.10, 8) == "smaller"
    assert _first_line(capsys).startswith("Not written yet")
    assert checks.check_band_gap("Shrink", 0.05, 0.10, 8) == "smaller"
    line = _first_line(capsys)
    assert line.startswith("Right") and "+0.050" in line and "+0.100" in line and "within 8 px" in line
    checks.check_band_gap("larger", 0.05, 0.10, 8)
    assert _first_line(capsys).startswith("Not quite")
    assert checks.check_band_gap("grow", 0.12, 0.10, 1) == "larger"
    assert _first_line(capsys).startswith("Right")
    for guess in ("lower", "Larger.", "higher", "increase", ">", " Smaller! "):  # right answers in other forms
        checks.check_band_gap(guess, 0.12 if guess in ("Larger.", "higher", "increase", ">") else 0.05, 0.10, 1)
        assert _first_line(capsys).startswith("Right"), guess
    checks.check_band_gap("lower", 0.12, 0.10, 1)
    assert _first_line(capsys).startswith("Not quite")
    assert checks.check_band_gap("perhaps", 0.12, 0.10, 1) == "larger"  # an unread word is not marked wrong
    line = _first_line(capsys)
    assert line.startswith("Not written yet") and "'perhaps'" in line
    for guess in ("larger", "smaller"):  # 0.004 apart: a tie, not a ranking
        assert checks.check_band_gap(guess, 0.120, 0.124, 8) == "smaller"
        line = _first_line(capsys)
        assert line.startswith("Right") and "as a tie" in line and "+0.120" in line and "+0.124" in line
    checks.check_band_gap("smaller", 0.120, 0.124, 8, close=0.001)
    assert "as a tie" not in _first_line(capsys)


def test_band_gap_reads_chinese_words(monkeypatch, capsys):
    monkeypatch.delenv("FCNLIB_LANG", raising=False)
    for guess, gap in [("更大", 0.12), ("较大", 0.12), ("大", 0.12), ("更小", 0.05), ("较小。", 0.05), (" 小 ", 0.05)]:
        checks.check_band_gap(guess, gap, 0.10, 8)
        assert _first_line(capsys).startswith("Right"), guess
    checks.check_band_gap("更小", 0.12, 0.10, 8)
    assert _first_line(capsys).startswith("Not quite")
    monkeypatch.setenv("FCNLIB_LANG", "zh")
    assert checks.check_band_gap("较大", 0.12, 0.10, 8) == "larger"
    assert _first_line(capsys).startswith("对了：离边缘 8 像素以内的差距是 +0.120")
