"""Checks about masks, thresholds and receptive fields (chapter 0's exercises)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from ..shapes import RESNET18_STAGES, conv_output_size, receptive_fields, resnet18_receptive_fields
from ._say import MESSAGES, say

__all__ = ["check_mask_box", "check_otsu", "check_receptive_field", "check_layer4_prediction"]

MESSAGES["en"].update(
    {
        "mask_box.unwritten": "Not written yet: mask_box returns None. Fill it in and run this cell again.",
        "mask_box.right": "Right! The box of the mask is {expected}.",
        "mask_box.wrong": "Not quite: got {answer}, expected {expected} (x = columns, y = rows, both inclusive).",
        "otsu.unwritten": "Not written yet: otsu returns None. The right threshold, {expected}, is used below anyway.",
        "otsu.right": "Right! Otsu's threshold is {expected} of 255.",
        "otsu.wrong": "Not quite: got {answer}; the threshold with the largest between-class variance is {expected}.",
        "receptive_field.unwritten": "Not written yet: receptive_field returns None.",
        "receptive_field.right": "Right! All {count} stacks agree; ResNet-18 ends at (r, j) = {last}.",
        "receptive_field.wrong": "Not quite on {case!r}: got {answer}, expected {expected}.",
        "receptive_field.raised": "Not quite: on {case!r} your function raised {error}.",
        "layer4.unwritten": "Not written yet: {entry!r} is still None. Replace it and run this cell again.",
        "layer4.right": "Right! {jump} pixels apart, {h} x {w} positions, fields of {field} x {field} pixels on a "
        "{H} x {W} image.",
        "layer4.wrong": "Not quite: {entry!r} is {expected}, not {answer!r}.",
    }
)


def _ints(value: Any) -> tuple[int, ...] | None:
    """A tuple of Python ints from a tuple, list, tensor or array of whole numbers; None if it is not one."""
    try:
        items = value.tolist() if hasattr(value, "tolist") else list(value)
        if not isinstance(value, str) and all(not isinstance(v, str) and float(v) == int(v) for v in items):
            return tuple(int(v) for v in items)
    except (TypeError, ValueError):
        pass
    return None


def check_mask_box(answer: Any, mask: Tensor) -> tuple[int, int, int, int]:
    """The learner's ``(x1, y1, x2, y2)`` box of a bool ``[H, W]`` mask (inclusive pixel indices; a tuple, list,
    tensor or array of ints) against ``torchvision.ops.masks_to_boxes``; prints one line, returns the reference."""
    import torchvision

    expected = tuple(int(v) for v in torchvision.ops.masks_to_boxes(mask[None])[0])
    key = "unwritten" if answer is None else "right" if _ints(answer) == expected else "wrong"
    say(f"mask_box.{key}", answer=answer, expected=expected)
    return expected


def _within_class_variance(hist: Tensor, t: int) -> float:
    """Sum over the groups ``< t`` and ``>= t`` of squared distances to the group's mean grey level (inf if one
    group is empty): Otsu's t minimises it, as it maximises the between-class variance (Otsu 1979)."""
    levels, total = torch.arange(len(hist), dtype=torch.float64), 0.0
    for part in (slice(0, t), slice(t, len(hist))):
        n = hist[part].sum()
        if n == 0:
            return float("inf")
        mean = (levels[part] * hist[part]).sum() / n
        total += float(((levels[part] - mean) ** 2 * hist[part]).sum())
    return total


def check_otsu(answer: Any, hist: Tensor) -> int:
    """The learner's threshold for a grey-level histogram ``hist`` (``[256]`` counts) against the ``t`` in 1..255
    of the smallest within-class variance (a tie counts as right); prints one line, returns the reference."""
    hist = hist.double()
    scores = {t: _within_class_variance(hist, t) for t in range(1, len(hist))}
    expected = min(scores, key=scores.get)
    given = _ints([answer]) if answer is not None else None
    right = given is not None and given[0] in scores and scores[given[0]] <= scores[expected] * (1 + 1e-9)
    key = "unwritten" if answer is None else "right" if right else "wrong"
    say(f"otsu.{key}", answer=answer, expected=expected)
    return expected


def check_receptive_field(function: Callable[[list], Any], cases: Mapping[str, list]) -> dict[str, list]:
    """Run the learner's ``receptive_field(layers)`` on each of ``cases`` (name -> ``(kernel_size, stride[,
    dilation])`` tuples) against :func:`fcnlib.shapes.receptive_fields` (the pairs as tuples, lists, or a tensor or
    array ``[n, 2]``); one line: all right, the first case that
    differs, or what the function raised. Returns the reference lists of ``(r, j)`` by case."""
    expected = {name: receptive_fields(layers) for name, layers in cases.items()}
    for name, layers in cases.items():
        try:
            answer = function(list(layers))
        except Exception as err:  # a learner's bug: report it, never raise
            say("receptive_field.raised", case=name, error=f"{type(err).__name__}: {err}")
            return expected
        if answer is None:
            say("receptive_field.unwritten")
            return expected
        rows = answer.tolist() if hasattr(answer, "tolist") else answer  # a tensor or array [n, 2] too
        pairs = [_ints(pair) for pair in rows] if isinstance(rows, Sequence) else None
        if pairs != expected[name]:
            say("receptive_field.wrong", case=name, answer=answer, expected=expected[name])
            return expected
    say("receptive_field.right", count=len(expected), last=list(expected.values())[-1][-1])
    return expected


def check_layer4_prediction(answer: Mapping[str, Any], size: tuple[int, int] = (320, 480)) -> dict[str, Any]:
    """The learner's predictions for ResNet-18's ``layer4`` on a ``size`` image: ``"pixels apart"`` (the jump,
    an int), ``"positions (H, W)"`` (the output size, a tuple or list) and ``"some position sees all of it"`` (a
    bool: the field is at least as large as both sides). One line, about the first entry that is None or wrong;
    returns the reference answers."""
    out = tuple(size)
    for stage in RESNET18_STAGES:
        out = conv_output_size(out, stage.kernel_size, stage.stride, stage.padding)
    field, jump = resnet18_receptive_fields()[-1][1:]
    truth = {"pixels apart": jump, "positions (H, W)": out, "some position sees all of it": field >= max(size)}
    for key, expected in truth.items():
        value = answer.get(key)
        if value is None:
            say("layer4.unwritten", entry=key)
            return truth
        if isinstance(expected, bool):
            ok = not isinstance(value, str) and value == expected
        else:  # an int or a pair of ints
            ok = _ints(value) == expected if isinstance(expected, tuple) else _ints([value]) == (expected,)
        if not ok:
            say("layer4.wrong", entry=key, answer=value, expected=expected)
            return truth
    say("layer4.right", jump=jump, h=out[0], w=out[1], field=field, H=size[0], W=size[1])
    return truth
