"""Checks about classifiers turned into fully convolutional networks (chapter 3's exercises)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..shapes import upsampling_params
from ..upsampling import bilinear_kernel
from ._say import MESSAGES, listing, say

__all__ = ["check_cross_detector", "check_score_map_shape", "check_bilinear_upsampler"]

MESSAGES["en"].update(
    {
        "cross_detector.unsolved": "Not written yet: set bias to a number, for example -1.5, and run again.",
        "cross_detector.right": "Right: exactly the {real} real crosses are called 'cross'.",
        "cross_detector.low": "Not quite: windows called 'cross': {found}, on a real cross: {hits} of {real}. The "
        "threshold is too low: other windows pass it as well, {near} overlapping a cross and {noise} on noise alone.",
        "cross_detector.high": "Not quite: windows called 'cross': {found}, on a real cross: {hits} of {real}. The "
        "threshold is too high: real crosses do not score enough to pass it.",
        "score_map_shape.unsolved": "Not written yet: set answer = (N, C, H, W) and run again.",
        "score_map_shape.right": "Right: {truth}.",
        "score_map_shape.wrong": "Not quite: {truth}. One score per ImageNet class (C = {classes}), one cell per "
        "32x32 pixels (H = {height} / 32, W = {width} / 32).",
        "bilinear_upsampler.unsolved": "Not written yet: bilinear_upsampler returns None.",
        "bilinear_upsampler.right": "Right: bilinear interpolation for factors {factors}.",
        "bilinear_upsampler.size": "Not quite: factor {factor} gives {got}, expected {expected}. Check the kernel, "
        "stride and padding (chapter 2: output (n - 1) s - 2p + k).",
        "bilinear_upsampler.values": "Not quite: factor {factor} has the right size but other values than "
        "F.interpolate away from the border. bias=False? Weight from fcnlib.bilinear_kernel of the same k?",
        "bilinear_upsampler.error": "Not quite: factor {factor} raised {error}.",
        "bilinear_upsampler.type": "Not quite: bilinear_upsampler({factor}, {channels}) returned an object of type "
        "{kind}; return an nn.ConvTranspose2d, the layer whose weights FCN learns.",
    }
)


# The pixels of a plus-shaped cross in its 3x3 window, (row, col) from the window's top-left; the corners are blank.
_CROSS_PIXELS = ((0, 1), (1, 0), (1, 1), (1, 2), (2, 1))


def check_cross_detector(found: Sequence[Sequence[int]] | None, crosses: Sequence[Sequence[int]]) -> list:
    """``found``: the top-left ``(row, col)`` of the 3x3 windows a detector called "cross" (None: not run yet);
    ``crosses``: the top-left of the real plus-shaped crosses. Says whether exactly the crosses were found, else how
    many other windows overlap a cross (contain one of its 5 pixels) and how many lie on noise alone (a window
    that shares only a blank corner of a cross's 3x3 window counts as noise); returns the crosses, sorted."""
    real = sorted(tuple(int(v) for v in c) for c in crosses)
    if found is None:
        say("cross_detector.unsolved")
        return real
    found = sorted(tuple(int(v) for v in f) for f in found)
    hits = len(set(found) & set(real))
    if found == real:
        say("cross_detector.right", real=len(real))
    else:
        others = set(found) - set(real)
        near = sum(
            any(0 <= a + i - r <= 2 and 0 <= b + j - c <= 2 for a, b in real for i, j in _CROSS_PIXELS)
            for r, c in others
        )
        key = "cross_detector.low" if others else "cross_detector.high"
        say(key, found=len(found), hits=hits, real=len(real), near=near, noise=len(others) - near)
    return real


def check_score_map_shape(answer: Any, truth: Sequence[int], image_size: Sequence[int]) -> tuple:
    """``answer``: a predicted shape ``(N, C, H, W)`` in any sequence form (None: not answered); ``truth``: the
    shape the network returned for images of ``image_size`` ``(H, W)``. Returns ``truth`` as a tuple of ints."""
    truth = tuple(int(v) for v in truth)
    if answer is None:
        say("score_map_shape.unsolved")
        return truth
    try:
        right = tuple(int(v) for v in answer) == truth
    except (TypeError, ValueError):
        right = False
    if right:
        say("score_map_shape.right", truth=truth)
    else:
        say("score_map_shape.wrong", truth=truth, classes=truth[1], height=image_size[0], width=image_size[1])
    return truth


def _reference_upsampler(factor: int, channels: int) -> nn.ConvTranspose2d:
    k, s, p = upsampling_params(factor)
    layer = nn.ConvTranspose2d(channels, channels, k, stride=s, padding=p, bias=False)
    with torch.no_grad():
        layer.weight.copy_(bilinear_kernel(channels, channels, k))
    return layer


def check_bilinear_upsampler(
    make: Callable[[int, int], Any], factors: Sequence[int] = (2, 3, 4, 8, 16), channels: int = 3
) -> dict:
    """Call ``make(factor, channels)`` for each factor, check that it returns an ``nn.ConvTranspose2d`` and compare
    its output on a random ``[1, channels, 6, 7]`` map with ``F.interpolate(mode="bilinear")`` (sizes everywhere,
    values away from the border). Says the first problem; returns ``{factor: reference nn.ConvTranspose2d}``."""
    z = torch.randn(1, channels, 6, 7, generator=torch.Generator().manual_seed(0))
    reference = {f: _reference_upsampler(f, channels) for f in factors}
    for f in factors:
        try:
            layer = make(f, channels)
            with torch.no_grad():
                y = None if not isinstance(layer, nn.Module) else layer(z)
        except Exception as err:  # a learner's bug: say it instead of stopping the chapter
            say("bilinear_upsampler.error", factor=f, error=f"{type(err).__name__}: {err}")
            return reference
        if layer is None:
            say("bilinear_upsampler.unsolved")
            return reference
        if not isinstance(layer, nn.ConvTranspose2d):
            say("bilinear_upsampler.type", factor=f, channels=channels, kind=type(layer).__name__)
            return reference
        ref = F.interpolate(z, scale_factor=f, mode="bilinear", align_corners=False)
        if y.shape != ref.shape:
            say("bilinear_upsampler.size", factor=f, got=tuple(y.shape), expected=tuple(ref.shape))
            return reference
        if not torch.allclose(y[..., f:-f, f:-f], ref[..., f:-f, f:-f], atol=1e-5):
            say("bilinear_upsampler.values", factor=f)
            return reference
    say("bilinear_upsampler.right", factors=listing(factors))
    return reference
