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
    checks.check_linear_resize(lambda v, f: unclamped)
    (line,) = said(capsys)
    assert line.startswith("Not quite: expected [1.0, 1.0, 1.333") and "got [0.0, 1.0, 1.333" in line
    assert "Hint: clamp" in line
    checks.check_linear_resize(lambda v, f: RESIZED[:-1])
    assert said(capsys) == [
        "Not quite: <lambda> returned 11 numbers; it should return 12, one per output pixel "
        "(len(values) * factor = 4 * 3)."
    ]
    checks.check_linear_resize(lambda v, f: v[10])
    (line,) = said(capsys)
    assert line.startswith("Not quite: <lambda>([1.0, 2.0, 4.0, 3.0], 3) raised IndexError")


def test_linear_resize_in_a_form_that_is_not_numbers(capsys):
    """Right values in the wrong form (a generator, a map) or no list of numbers at all: the form is blamed and the
    answer is shown as repr shows it, never the clamping hint."""

    def as_generator(values, factor):
        return (v for v in right_resize(values, factor))

    forms = [
        (as_generator, "<generator object"),
        (lambda v, f: map(float, right_resize(v, f)), "<map object at"),
        (lambda v, f: "no", "'no'"),
        (lambda v, f: [[1.0]] * 12, "[[1.0], [1.0],"),
        (lambda v, f: [str(x) for x in RESIZED], "['1', '1', '1.3333"),
        (lambda v, f: torch.ones(12, 2), "tensor([[1., 1.], [1., 1.],"),  # repr's lines joined into one
    ]
    for resize, shown in forms:
        checks.check_linear_resize(resize)
        (line,) = said(capsys)
        assert line.startswith(f"Not quite: {resize.__name__} returned {shown}"), line
        assert "cannot be read as a flat list of numbers. Return a list of 12 floats" in line and "clamp" not in line
    checks.check_linear_resize(lambda v, f: [str(i) for i in range(1000)])  # a long answer is cut, on one line
    (line,) = said(capsys)
    assert "['0', '1'," in line and " ..., which cannot" in line and len(line) < 400


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
    for answer, shown in [
        ({"factor": 8, "taps": TAPS_8}, "factor 8 and taps [0.125, 0.375,"),
        ({"factor": 4, "taps": TAPS_8[:4]}, "factor 4 and taps [0.125, 0.375, 0.625, 0.875]."),
        ({"factor": 4.5, "taps": np.array(TAPS_8)}, "factor 4.5 and taps array([0.125, 0.375,"),
    ]:
        checks.check_tent(answer)
        (line,) = said(capsys)
        assert line.startswith("Not quite: factor = (8 + 1) // 2 = 4") and f"you wrote {shown}" in line
    checks.check_tent({"factor": None, "taps": None})
    checks.check_tent({"factor": 4, "taps": None})
    checks.check_tent([4, TAPS_8])
    assert said(capsys) == [
        "Not written yet: answer['factor'] is still None.",
        "Not written yet: answer['taps'] is still None.",
        'Not quite: answer must be a dict like {"factor": 1, "taps": [...]}, got [4, [0.125, 0.375, 0.625, 0.875, '
        "0.875, 0.625, 0.375, 0.125]].",
    ]


def test_tent_answers_in_a_form_that_is_not_numbers(capsys):
    for factor, shown in [("4", "'4'"), (True, "True"), ([4], "[4]")]:
        checks.check_tent({"factor": factor, "taps": TAPS_8})
        assert said(capsys) == [
            f"Not quite: answer['factor'] cannot be read as a number: you wrote {shown}. Write a whole number such "
            "as 3 (no quotes, no brackets)."
        ]
    for taps, shown in [
        ([str(v) for v in TAPS_8], "['0.125', '0.375',"),
        (torch.tensor(TAPS_8)[None], "tensor([[0.1250, 0.3750,"),
        ("0.125, 0.375", "'0.125, 0.375'"),
    ]:
        checks.check_tent({"factor": 4, "taps": taps})
        (line,) = said(capsys)
        assert line.startswith(f"Not quite: answer['taps'] cannot be read as a flat list of numbers: you wrote {shown}")
        assert line.endswith("Write a list of 8 numbers such as [0.5, 1.0, ...], without quotes or nested brackets.")


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
    for flat, bright, shown in [
        ([3, 6], [3], "[3, 6] and [3]"),
        ([3, 6, 8], [3, 6, 8], "[3, 6, 8] and [3, 6, 8]"),
        ([3, 6, 8], 6, "[3, 6, 8] and 6"),
        ((3, 6), np.array([3, 6]), "(3, 6) and array([3, 6])"),
    ]:
        checks.check_kernel_for_stride(flat, bright)
        (line,) = said(capsys)
        assert line.startswith("Not quite: at stride 2, kernel sizes [3, 6, 8] keep a flat image flat and [3]")
        assert f"(you wrote {shown})" in line
    for flat, bright, name, shown in [
        ("3, 6, 8", [3], "keep_flat", "'3, 6, 8'"),
        (["3", "6", "8"], ["3"], "keep_flat", "['3', '6', '8']"),
        ([3, 6, 8], 3.5, "keep_brightness", "3.5"),
        ([3.5], [3], "keep_flat", "[3.5]"),
        ([3, 6, 8], {"size": 3}, "keep_brightness", "{'size': 3}"),
    ]:
        checks.check_kernel_for_stride(flat, bright)
        assert said(capsys) == [
            f"Not quite: {name} cannot be read as kernel sizes: you wrote {shown}. Write a list of whole numbers "
            "such as [3, 5], without quotes."
        ]
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
