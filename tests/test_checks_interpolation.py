"""Chapter 1's "Your turn" checks (fcnlib.checks.interpolation): right answers in several forms, wrong answers and
unsolved cells, against hand-computed references."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import fcnlib
from fcnlib import checks

# [1, 2, 4, 3] enlarged 3 times by hand: positions (i + 0.5) / 3 - 0.5, clamped to [0, 3], read off the lines.
RESIZED = [1, 1, 4 / 3, 5 / 3, 2, 8 / 3, 10 / 3, 4, 11 / 3, 10 / 3, 3, 3]
TAPS_8 = [0.125, 0.375, 0.625, 0.875, 0.875, 0.625, 0.375, 0.125]  # 1 - |i - 3.5| / 4


@pytest.fixture(autouse=True)
def english(monkeypatch):
    monkeypatch.delenv("FCNLIB_LANG", raising=False)


def said(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


def right_resize(values, factor):
    n = len(values)
    positions = [min(max((i + 0.5) / factor - 0.5, 0.0), n - 1) for i in range(n * factor)]
    return np.interp(positions, range(n), values)  # an array: another form of the right answer


def test_linear_resize_right_in_several_forms(capsys):
    for resize in (
        right_resize,
        lambda v, f: right_resize(v, f).tolist(),
        lambda v, f: torch.tensor(right_resize(v, f)),
    ):
        assert checks.check_linear_resize(resize) == pytest.approx(RESIZED)
        (line,) = said(capsys)
        assert line.startswith("Right! 4 values -> 12")


def test_linear_resize_unwritten_wrong_and_raising(capsys):
    def linear_resize_by_hand(values, factor):
        return None

    assert checks.check_linear_resize(linear_resize_by_hand) == pytest.approx(RESIZED)
    assert said(capsys) == ["Not written yet: linear_resize_by_hand returns None. Fill it in and run this cell again."]
    unclamped = [float(np.interp((i + 0.5) / 3 - 0.5, range(4), [1, 2, 4, 3], left=0.0)) for i in range(12)]
    for wrong in (lambda v, f: unclamped, lambda v, f: RESIZED[:-1], lambda v, f: "no", lambda v, f: [[1.0]] * 12):
        checks.check_linear_resize(wrong)
        (line,) = said(capsys)
        assert line.startswith("Not quite: expected [1.0, 1.0, 1.333") and "Hint: clamp" in line
    checks.check_linear_resize(lambda v, f: v[10])
    (line,) = said(capsys)
    assert line.startswith("Not quite: <lambda>([1.0, 2.0, 4.0, 3.0], 3) raised IndexError")


def test_tent_reference_is_the_hand_computed_taps_and_kernel():
    truth = checks.check_tent({"factor": None, "taps": None}, kernel_size=8)
    assert truth["factor"] == 4 and truth["taps"] == pytest.approx(TAPS_8)
    for k in [k for k in range(1, 25) if k % 4 in (0, 1)]:  # 2f for even f, 2f - 1 for odd f: F.interpolate's
        truth = checks.check_tent({"factor": None, "taps": None}, kernel_size=k)
        assert truth["factor"] == (k + 1) // 2
        torch.testing.assert_close(
            torch.tensor(truth["taps"]).float(), fcnlib.bilinear_kernel(1, 1, k)[0, 0].diagonal().sqrt()
        )


def test_tent_refuses_kernels_that_hold_no_factors_weights():
    for k in (2, 3, 6, 7):
        with pytest.raises(ValueError, match=f"kernel_size={k} holds the interpolation weights of no factor"):
            checks.check_tent({"factor": None, "taps": None}, kernel_size=k)


def test_tent_answers(capsys):
    for factor, taps in [(4, TAPS_8), (np.int64(4), np.array(TAPS_8)), (4.0, tuple(TAPS_8)), (4, torch.tensor(TAPS_8))]:
        checks.check_tent({"factor": factor, "taps": taps})
        (line,) = said(capsys)
        assert line.startswith("Right! bilinear_kernel(1, 1, 8) is made for factor 4")
    checks.check_tent({"factor": 4, "taps": [round(v, 2) for v in TAPS_8]})  # 0.12 for 0.125: within 0.01
    assert said(capsys)[0].startswith("Right!")
    for answer in ({"factor": 8, "taps": TAPS_8}, {"factor": 4, "taps": TAPS_8[:4]}, {"factor": True, "taps": TAPS_8}):
        checks.check_tent(answer)
        (line,) = said(capsys)
        assert line.startswith("Not quite: factor = (8 + 1) // 2 = 4")
    checks.check_tent({"factor": None, "taps": None})
    checks.check_tent({"factor": 4, "taps": None})
    checks.check_tent([4, TAPS_8])
    assert said(capsys) == [
        "Not written yet: answer['factor'] is still None.",
        "Not written yet: answer['taps'] is still None.",
        'Not quite: answer must be a dict like {"factor": 1, "taps": [...]}, got [4, [0.125, 0.375, 0.625, 0.875, '
        "0.875, 0.625, 0.375, 0.125]].",
    ]


def test_kernel_for_stride_reference_by_hand_phase_sums():
    # At stride 2 the tents' phase sums are: k=3 [1, 1]; k=5 [5/3, 4/3]; k=6 [1.5, 1.5]; k=8 [2, 2].
    truth = checks.check_kernel_for_stride(None, None, stride=2)
    assert truth == {"flat": [3, 6, 8], "bright": [3]}
    assert checks.check_kernel_for_stride(None, None, stride=3, sizes=(5, 6, 4)) == {"flat": [5, 6], "bright": [5, 6]}


def test_kernel_for_stride_answers(capsys):
    for flat, bright in [
        ([3, 6, 8], [3]),
        ((8, 6, 3), (3,)),
        ({3, 6, 8}, {3}),
        ([3, 4, 6, 8], [3, 4]),
        (np.array([3, 6, 8]), [3.0]),
        ([3, 6, 8], 3),  # one size on its own, as a number
        ([3, 6, 8], np.int64(3)),
        ([3, 6, 8], torch.tensor(3)),
    ]:
        checks.check_kernel_for_stride(flat, bright)
        (line,) = said(capsys)
        assert (
            line
            == "Right! At stride 2, kernel sizes [3, 6, 8] keep a flat image flat, and of those only [3] keep its brightness too."
        )
    for flat, bright in [
        ([3, 6], [3]),
        ([3, 6, 8], [3, 6, 8]),
        ("3, 6, 8", [3]),
        ([3, 6, 8], 6),
        ([3, 6, 8], 3.5),
        ([3.5], [3]),
    ]:
        checks.check_kernel_for_stride(flat, bright)
        (line,) = said(capsys)
        assert line.startswith("Not quite: at stride 2, kernel sizes [3, 6, 8] keep a flat image flat and [3]")
    checks.check_kernel_for_stride(None, None)
    checks.check_kernel_for_stride([3, 6, 8], None)
    assert said(capsys) == [
        "Not written yet: set keep_flat and keep_brightness to a list of kernel sizes.",
        "Not written yet: set keep_brightness to a list of kernel sizes.",
    ]


def test_kernel_made_for_the_factor_with_the_other_parity_is_linear_on_a_shifted_grid():
    """Chapter 1's claim for k = 3 at 2x: every other output pixel copies an input pixel, half a pixel off
    F.interpolate's grid (which puts output pixel 2i at input position i - 0.25)."""
    x = torch.rand(1, 1, 6, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    up = fcnlib.bilinear_upsample(x, 2, kernel_size=3)[0, 0]
    torch.testing.assert_close(up[::2, ::2], x[0, 0])  # output 2i copies input i
    torch.testing.assert_close(up[1:-1:2, ::2], (x[0, 0, :-1] + x[0, 0, 1:]) / 2)  # output 2i + 1: the midpoint
    ref = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)[0, 0]
    assert (up[2:-2, 2:-2] - ref[2:-2, 2:-2]).abs().max() > 0.01
