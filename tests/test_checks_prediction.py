"""Chapter 5's "Your turn" checks: right answers in any form, wrong answers, unanswered cells."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from fcnlib.checks.prediction import check_margin_guess, check_padding, check_tile_starts


def _line(capsys) -> str:
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1, out
    return out[0]


@pytest.mark.parametrize("padded", [(160, 192), [160, 192], np.array([160, 192]), torch.tensor([160, 192])])
def test_padding_right_in_any_form(padded, capsys):
    truth = check_padding({"padded size (H, W)": padded, "rows above": np.int64(14)}, (131, 185))
    assert _line(capsys).startswith("Right: 131x185 is padded to (160, 192), with 14 rows above and 15 below")
    assert truth == {"padded size (H, W)": (160, 192), "rows above": 14}  # 131 + 29 = 160 = 5 * 32; 29 // 2


@pytest.mark.parametrize(
    "answer",
    [
        {"padded size (H, W)": (160, 192), "rows above": 15},  # the odd row on top
        {"padded size (H, W)": (131, 185), "rows above": 14},
        {"padded size (H, W)": (160.5, 192), "rows above": 14},
        {"padded size (H, W)": "160, 192", "rows above": 14},
    ],
)
def test_padding_wrong_says_the_rule(answer, capsys):
    check_padding(answer, (131, 185))
    line = _line(capsys)
    assert line.startswith("Not quite: 131x185 is padded to (160, 192)") and "29 missing rows" in line


def test_padding_unanswered(capsys):
    truth = check_padding({"padded size (H, W)": None, "rows above": None}, (64, 65))
    assert _line(capsys) == "Not written yet: answer['padded size (H, W)'] is still None."
    assert truth == {"padded size (H, W)": (64, 96), "rows above": 0}
    check_padding((160, 192), (131, 185))
    assert _line(capsys).startswith('Not quite: keep answer a dict: {"padded size (H, W)": (H, W), "rows above": n}')


def _reference(size, crop, stride):  # written out independently of fcnlib
    if size <= crop:
        return [0]
    starts = []
    position = 0
    while position < size - crop:
        starts.append(position)
        position += stride
    return starts + [size - crop]


def test_tile_starts_right_in_any_form(capsys):
    assert check_tile_starts(_reference) == [0, 20]
    assert _line(capsys) == "Right on all 261 cases! tile_starts(500, 480, 240) = [0, 20]"
    check_tile_starts(lambda *args: np.array(_reference(*args)))
    assert _line(capsys).startswith("Right on all 261 cases!")
    check_tile_starts(lambda *args: tuple(_reference(*args)))
    assert _line(capsys).startswith("Right")


def test_tile_starts_wrong_names_the_first_case(capsys):
    check_tile_starts(lambda size, crop, stride: list(range(0, size - crop, stride)))  # no window flush with the end
    assert _line(capsys) == "Not quite: for size 1, crop 32, stride 16 expected [0], got []."
    check_tile_starts(lambda size, crop, stride: _reference(size, crop, stride)[:-1] if size > crop else [0])
    assert _line(capsys).startswith("Not quite: for size 36, crop 32, stride 16 expected [0, 4], got [0].")


def test_tile_starts_unsolved_or_raising(capsys):
    assert check_tile_starts(lambda size, crop, stride: None) == [0, 20]
    assert _line(capsys).startswith("Not written yet: tile_starts returns None.")
    check_tile_starts(lambda size, crop, stride: 1 / 0)
    assert _line(capsys) == "Not quite: tile_starts(1, 32, 16) raised ZeroDivisionError: division by zero."


@pytest.mark.parametrize("guess", ["smaller", " Lower ", "less", "smaller.", "Small!", "'small'"])
def test_margin_guess_right(guess, capsys):
    assert check_margin_guess(guess, 0.5, 5.25) == "smaller"
    assert (
        _line(capsys)
        == "Right: where pad and tile disagree the median margin is 0.50, smaller than the 5.25 where they agree."
    )


def test_margin_guess_wrong_unanswered_and_nothing_to_compare(capsys):
    assert check_margin_guess("larger", 0.5, 5.25) == "smaller"
    assert _line(capsys).startswith("Not quite: where pad and tile disagree the median margin is 0.50, smaller")
    assert check_margin_guess("smaller", 6.0, 5.0) == "larger"
    assert _line(capsys).startswith("Not quite:")
    assert check_margin_guess(None, 0.5, 5.25) == "smaller"
    assert _line(capsys).startswith("Not written yet")
    assert check_margin_guess("large.", 0.5, 5.25) == "smaller"
    assert _line(capsys).startswith("Not quite: where pad and tile disagree")
    check_margin_guess("tiny", 0.5, 5.25)
    assert _line(capsys) == 'Not quite: write guess = "smaller" or guess = "larger", not \'tiny\'.'
    check_margin_guess(3, 0.5, 5.25)
    assert _line(capsys) == 'Not quite: write guess = "smaller" or guess = "larger", not 3.'
    assert check_margin_guess("smaller", float("nan"), 5.0) is None
    assert _line(capsys).startswith("Nothing to compare")


def test_margin_guess_reads_chinese_words(monkeypatch, capsys):
    monkeypatch.delenv("FCNLIB_LANG", raising=False)
    for guess, near in [("更小", 0.5), ("较小", 0.5), (" 小。", 0.5), ("更大", 6.0), ("较大", 6.0), ("大！", 6.0)]:
        check_margin_guess(guess, near, 5.25)
        assert _line(capsys).startswith("Right: where pad and tile disagree"), guess
    check_margin_guess("更大", 0.5, 5.25)
    assert _line(capsys).startswith("Not quite: where pad and tile disagree the median margin is 0.50, smaller")
    monkeypatch.setenv("FCNLIB_LANG", "zh")
    assert check_margin_guess("更小", 0.5, 5.25) == "smaller"
    assert _line(capsys) == "对了：填充和图块不一致处，top-2 分差的中位数是 0.50，比两者一致处的 5.25 更小。"
    check_margin_guess("也许", 0.5, 5.25)
    assert (
        _line(capsys)
        == '还不对：请写 guess = "smaller" 或 guess = "larger"（也可以写“更小”/“更大”），而不是 \'也许\'。'
    )
