"""Checks about skip connections (chapter 6's exercises)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from ..model import fcn_resnet18
from ._say import MESSAGES, comparison, listing, say, word

__all__ = ["check_fusion_shapes", "check_fcn16s_scores", "check_band_gap"]

MESSAGES["en"].update(
    {
        "fusion_shapes.unsolved": "Not written yet: fill in answer with the shapes (N, C, H, W) and run again.",
        "fusion_shapes.right": "Right: {truth}.",
        "fusion_shapes.wrong": "Not quite: {wrong}. Each fusion doubles the grid of the one before; every map after "
        "a score layer has one channel per class.",
        "fcn16s.unsolved": "Not written yet: fcn16s_scores returns None. Fill it in and run this cell again.",
        "fcn16s.right": "Right: your FCN-16s gives the same scores as the net's own forward pass.",
        "fcn16s.error": "Not quite: your function raised {error}.",
        "fcn16s.shape": "Not quite: expected a tensor of shape {expected}, got {got}. Hint: the last step is "
        "net.transpose_conv.",
        "fcn16s.values": "Not quite: the right shape, other values. Hint: add score_layer3(layer3) to the 2x "
        "upsampled scores before the last upsampling.",
        "band_gap.unsolved": 'Not written yet: set guess = "larger" or "smaller" and run again.',
        "band_gap.unknown": 'Not written yet in a form this check reads: {guess}; set guess = "larger" or "smaller" '
        "and run again.",
        "band_gap.right": "Right: the gap within {width} px of an edge is {gap:+.3f}, {answer} than the {gap3:+.3f} "
        "within {width3} px.",
        "band_gap.wrong": "Not quite: the gap within {width} px of an edge is {gap:+.3f}, {answer} than the "
        "{gap3:+.3f} within {width3} px.",
        "band_gap.close": "Right, or as good as: the gap within {width} px of an edge is {gap:+.3f}, the one within "
        "{width3} px {gap3:+.3f}; the check counts a difference this small as a tie.",
    }
)


def check_fusion_shapes(answer: Mapping[str, Any], maps: Mapping[str, torch.Tensor]) -> dict[str, tuple]:
    """``answer``: map name -> a predicted shape ``(N, C, H, W)`` in any sequence form, None where not answered;
    ``maps``: the maps the net computed (``FCN.intermediates``). Says whether every shape is right, else the right
    shapes of the wrong or missing ones; returns ``{name: true shape}`` for the names of ``answer``."""
    truth = {name: tuple(int(v) for v in maps[name].shape) for name in answer}
    if all(guess is None for guess in answer.values()):
        say("fusion_shapes.unsolved")
        return truth

    def right(guess: Any, shape: tuple) -> bool:
        try:
            return guess is not None and tuple(int(v) for v in guess) == shape
        except (TypeError, ValueError):
            return False

    wrong = [f"{name} = {shape}" for name, shape in truth.items() if not right(answer[name], shape)]
    if wrong:
        say("fusion_shapes.wrong", wrong=listing(wrong))
    else:
        say("fusion_shapes.right", truth=listing(f"{name} {shape}" for name, shape in truth.items()))
    return truth


def check_fcn16s_scores(fn: Callable, num_classes: int = 21, size: tuple[int, int] = (64, 96)) -> torch.Tensor:
    """Call ``fn(net, layer3, layer4)`` on a seeded FCN-16s whose skip layer is not zero (a forgotten skip shows) and
    compare with the net's forward pass on two random images of ``size``; says the first problem (an exception is
    reported, not raised). Returns the reference scores ``[2, num_classes, *size]``."""
    generator = torch.Generator().manual_seed(0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = fcn_resnet18(num_classes, "16s", weights=None).eval()
    with torch.no_grad():
        net.score_layer3.weight.copy_(0.1 * torch.randn(net.score_layer3.weight.shape, generator=generator))
        maps = net.intermediates(torch.randn(2, 3, *size, generator=generator))
        try:
            yours = fn(net, maps["layer3"], maps["layer4"])
        except Exception as err:  # a learner's bug: say it instead of stopping the chapter
            say("fcn16s.error", error=f"{type(err).__name__}: {err}")
            return maps["out"]
    expected = maps["out"]
    if yours is None:
        say("fcn16s.unsolved")
    elif not isinstance(yours, torch.Tensor) or yours.shape != expected.shape:
        got = tuple(yours.shape) if isinstance(yours, torch.Tensor) else type(yours).__name__
        say("fcn16s.shape", expected=tuple(expected.shape), got=got)
    else:
        say("fcn16s.right" if torch.allclose(yours, expected, atol=1e-5) else "fcn16s.values")
    return expected


def check_band_gap(guess: Any, gap: float, gap3: float, width: int, width3: int = 3, close: float = 0.01) -> str:
    """``guess``: ``"larger"`` or ``"smaller"`` (or ``"higher"``, ``">"``, ``"更小"``, ...: :func:`._say.comparison`; None: not answered; any
    other word is reported as unread, not as wrong), the learner's
    prediction of the FCN-8s - FCN-32s gap in boundary mIoU within ``width`` pixels of an edge against the gap
    ``gap3`` within ``width3``; ``gap``: the measured one. Gaps less than ``close`` apart count as a tie (either
    guess is right). Returns the measured answer, ``"larger"`` or ``"smaller"``."""
    answer = "larger" if gap > gap3 else "smaller"
    if guess is None:
        say("band_gap.unsolved")
        return answer
    given = comparison(guess)
    if given is None:  # a word the check does not know is not a wrong answer
        say("band_gap.unknown", guess=repr(guess))
        return answer
    tie = abs(gap - gap3) < close
    key = "band_gap.close" if tie else "band_gap.right" if given == answer else "band_gap.wrong"
    say(key, width=width, width3=width3, gap=gap, gap3=gap3, answer=word(answer))
    return answer
