"""Chapter 2's "Your turn" checks (fcnlib.checks.transposed): right answers in several forms, wrong ones, unsolved
cells, and learner code that raises; the references are PyTorch's own layers and hand-computed sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from torch import nn

from fcnlib import checks

PAIRS = [(3, 2), (4, 2), (5, 2), (6, 4), (8, 4)]


@pytest.fixture(autouse=True)
def english(monkeypatch):
    monkeypatch.delenv("FCNLIB_LANG", raising=False)


def _lines(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


def right_size(n, k, s=1, p=0, op=0, d=1):
    return (n - 1) * s - 2 * p + d * (k - 1) + op + 1


@pytest.mark.parametrize(
    "answer, start",
    [
        (right_size, "Right"),
        (lambda *args, **kw: np.int64(right_size(*args, **kw)), "Right"),  # a numpy int
        (lambda *args, **kw: float(right_size(*args, **kw)), "Right"),  # a whole float
        (lambda n, k, s=1, p=0, op=0, d=1: (n - 1) * s - 2 * p + k + op, "Not quite"),  # forgets the dilation
        (lambda n, k, s=1, p=0, op=0, d=1: None, "Not written yet"),
        (lambda n, k, s=1, p=0, op=0, d=1: 1 // 0, "Not quite"),  # raises: reported, not raised
    ],
)
def test_check_transposed_size(answer, start, capsys):
    reference = checks.check_transposed_size(answer)
    (line,) = _lines(capsys)
    assert line.startswith(start), line
    # The returned reference agrees with PyTorch's layer (and with the hand-computed 320 of d2l's FCN-32s).
    layer = nn.ConvTranspose2d(1, 1, 64, stride=32, padding=16)
    assert reference(10, 64, 32, 16) == layer(torch.zeros(1, 1, 10, 10)).shape[-1] == 320


def test_check_transposed_size_names_a_wrong_setting(capsys):
    checks.check_transposed_size(lambda n, k, s=1, p=0, op=0, d=1: right_size(n, k, s, p, 0, d))  # ignores op
    (line,) = _lines(capsys)
    assert "op=1" in line and "Hint" in line


def test_check_net_output_size_on_d2ls_net(capsys):
    torch.manual_seed(0)
    net = nn.Sequential(*list(torchvision.models.resnet18(weights=None).children())[:-2])
    net.add_module("final_conv", nn.Conv2d(512, 21, kernel_size=1))
    net.add_module("transpose_conv", nn.ConvTranspose2d(21, 21, kernel_size=64, padding=16, stride=32))
    # By hand: 200 -> 100 -> 50 -> 50 -> 25 -> 13 -> 7, and 7 * 32 = 224.
    assert checks.check_net_output_size((224, 224), net, (224, 200)) == (224, 224)
    assert _lines(capsys)[0].startswith("Right")


@pytest.mark.parametrize(
    "answer, start",
    [
        ((5, 3), "Right"),
        ([5, 3], "Right"),
        (torch.Size([5, 3]), "Right"),
        ((np.int64(5), np.int32(3)), "Right"),
        ((9, 6), "Not quite"),
        ((4, 3), "Not quite"),
        (5, "Not quite"),
        ((5, 3, 1), "Not quite"),
        (None, "Not written yet"),
    ],
)
def test_check_net_output_size(answer, start, capsys):
    net = nn.Conv2d(3, 1, 3, stride=2, padding=1)  # by hand: 9 x 6 -> ceil(9 / 2) x ceil(6 / 2) = 5 x 3
    net.train()
    assert checks.check_net_output_size(answer, net, (9, 6)) == (5, 3)
    (line,) = _lines(capsys)
    assert line.startswith(start), line
    assert net.training  # the check leaves the net's mode as it found it


@pytest.mark.parametrize(
    "answer, start",
    [
        ([(4, 2), (8, 4)], "Right"),
        (((8, 4), (4, 2)), "Right"),  # any order, tuples of tuples
        ([[4, 2], [8, 4]], "Right"),  # lists
        ([(np.int64(4), 2), (8, np.int64(4))], "Right"),
        ([(4, 2)], "Not quite"),  # one missing
        ([(4, 2), (8, 4), (6, 4)], "Not quite"),  # one too many
        ([(4, 2), (7, 3)], "Not quite"),  # not offered
        (5, "Not quite"),
        ("ab", "Not quite"),
        (None, "Not written yet"),
    ],
)
def test_check_even_pairs(answer, start, capsys):
    # By hand: a kernel of k ones at stride s gives k // s or k // s + 1 taps per axis, equal only when s divides k.
    assert checks.check_even_pairs(answer, PAIRS) == [(4, 2), (8, 4)]
    (line,) = _lines(capsys)
    assert line.startswith(start), line


def test_check_even_pairs_hints_name_the_counts(capsys):
    checks.check_even_pairs([(4, 2), (8, 4), (5, 2)], PAIRS)
    (line,) = _lines(capsys)
    assert "(5, 2)" in line and "[4, 6, 9]" in line  # by hand: 2 or 3 taps per axis
    checks.check_even_pairs([(4, 2)], PAIRS)
    (line,) = _lines(capsys)
    assert "(8, 4) is missing" in line and "4 taps" in line


def test_every_transposed_message_has_an_english_original():
    keys = [k for k in checks.MESSAGES["en"] if k.split(".")[0] in ("transposed_size", "net_size", "even_pairs")]
    assert len(keys) >= 12
