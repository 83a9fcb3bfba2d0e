"""Checks about transposed convolution and output sizes (chapter 2's exercises)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..shapes import conv_transpose_output_size
from ._say import MESSAGES, say

__all__ = ["check_transposed_size", "check_net_output_size", "check_even_pairs"]

MESSAGES["en"].update(
    {
        "transposed_size.unwritten": "Not written yet: transposed_size returns None.",
        "transposed_size.right": "Right: the same size as PyTorch's transposed convolution for all {total} settings.",
        "transposed_size.wrong": (
            "Not quite: wrong for {wrong} of {total} settings, e.g. n={n} k={k} s={s} p={p} op={op} d={d} gives "
            "{truth}, yours {got}. Hint: the canvas is (n - 1) * s + d * (k - 1) + 1 wide, then padding trims p "
            "from each side and output_padding adds op."
        ),
        "transposed_size.raised": "Not quite: transposed_size{args} raised {error}.",
        "net_size.unanswered": "Not written yet: set answer = (height, width) and run again.",
        "net_size.right": "Right: the net returns {truth} for a {size} image.",
        "net_size.wrong": "Not quite: the net returns {truth} for a {size} image. Hint: each halving rounds up.",
        "net_size.malformed": "Not quite: answer must be two ints (height, width), got {answer!r}.",
        "even_pairs.unanswered": "Not written yet: set answer to a list of (kernel_size, stride) pairs.",
        "even_pairs.right": "Right: {pairs} give every interior pixel the same count.",
        "even_pairs.missing": "Not quite: {pair} is missing: its interior pixels all get {count} taps.",
        "even_pairs.extra": (
            "Not quite: {pair} gives interior pixels {counts} taps, not one count. "
            "Hint: compare each kernel size with its stride."
        ),
        "even_pairs.unknown": "Not quite: {pair} is not one of the pairs to try, {pairs}.",
        "even_pairs.malformed": "Not quite: answer must be a list of (kernel_size, stride) pairs, got {answer!r}.",
    }
)


def _ints(values: Any, length: int) -> tuple[int, ...] | None:
    """``values`` as a tuple of ``length`` ints (numpy and torch ints, whole floats too), else None."""
    try:
        items = tuple(values)
        if len(items) == length and all(float(v) == int(v) for v in items):
            return tuple(int(v) for v in items)
    except (TypeError, ValueError, OverflowError):
        pass
    return None


def check_transposed_size(transposed_size: Callable[..., Any], trials: int = 200, seed: int = 0) -> Callable:
    """Compare ``transposed_size(n, k, s, p, op, d)`` with the size ``F.conv_transpose2d`` returns for ``trials``
    random valid settings; print one line. Returns the reference, ``fcnlib.conv_transpose_output_size``."""
    rng, wrong = random.Random(seed), []
    for trial in range(trials):
        n, k, s, d = rng.randint(1, 9), rng.randint(1, 6), rng.randint(1, 4), rng.randint(1, 2)
        p, op = rng.randint(0, (k - 1) // 2), rng.randint(0, max(s, d) - 1)
        x, w = torch.zeros(1, 1, n, n), torch.zeros(1, 1, k, k)
        truth = F.conv_transpose2d(x, w, stride=s, padding=p, output_padding=op, dilation=d).shape[-1]
        try:
            got = transposed_size(n, k, s, p, op, d)
        except Exception as err:  # the learner's code: report it, never raise
            say("transposed_size.raised", args=(n, k, s, p, op, d), error=f"{type(err).__name__}: {err}")
            return conv_transpose_output_size
        if got is None and trial == 0:
            say("transposed_size.unwritten")
            return conv_transpose_output_size
        if _ints([got], 1) != (truth,):
            wrong.append(dict(n=n, k=k, s=s, p=p, op=op, d=d, truth=truth, got=got))
    if wrong:
        say("transposed_size.wrong", wrong=len(wrong), total=trials, **wrong[0])
    else:
        say("transposed_size.right", total=trials)
    return conv_transpose_output_size


def check_net_output_size(answer: Any, net: nn.Module, size: Sequence[int]) -> tuple[int, int]:
    """Compare ``answer`` (height, width) with the output size ``net`` returns for a ``[1, 3, *size]`` input of
    zeros (run in eval mode without gradients); print one line. Returns the true ``(height, width)``."""
    was_training = net.training
    with torch.no_grad():
        truth = tuple(net.eval()(torch.zeros(1, 3, *size)).shape[-2:])
    net.train(was_training)
    if answer is None:
        say("net_size.unanswered")
    elif _ints(answer, 2) is None:
        say("net_size.malformed", answer=answer)
    else:
        say("net_size.right" if _ints(answer, 2) == truth else "net_size.wrong", truth=truth, size=tuple(size))
    return truth


def _interior_counts(kernel_size: int, stride: int, size: int = 5) -> list[int]:
    """The distinct numbers of taps on the output pixels at least ``kernel_size`` from the border."""
    ones = F.conv_transpose2d(torch.ones(1, 1, size, size), torch.ones(1, 1, kernel_size, kernel_size), stride=stride)
    return ones[0, 0, kernel_size:-kernel_size, kernel_size:-kernel_size].unique().int().tolist()


def check_even_pairs(answer: Any, pairs: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Compare ``answer``, the ``(kernel_size, stride)`` pairs of ``pairs`` that give every interior output pixel of
    a transposed convolution the same number of taps (counted with ``F.conv_transpose2d`` on ones), with the truth;
    print one line. Returns the right pairs, in the order of ``pairs``."""
    offered = [tuple(p) for p in pairs]
    right = [p for p in offered if len(_interior_counts(*p)) == 1]
    if answer is None:
        say("even_pairs.unanswered")
        return right
    try:
        given = [_ints(p, 2) for p in answer]  # an int is not iterable: TypeError
    except TypeError:
        given = [None]
    if None in given:
        say("even_pairs.malformed", answer=answer)
    elif not set(given) <= set(offered):
        say("even_pairs.unknown", pair=next(p for p in given if p not in offered), pairs=offered)
    elif set(given) == set(right):
        say("even_pairs.right", pairs=right)
    else:
        pair = next(p for p in [*right, *given] if (p in right) != (p in given))
        counts = _interior_counts(*pair)
        say("even_pairs.missing" if pair in right else "even_pairs.extra", pair=pair, counts=counts, count=counts[0])
    return right
