"""Checks about linear and bilinear interpolation (chapter 1's exercises)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F

from ..shapes import check_int, upsampling_params
from ..upsampling import bilinear_kernel
from ._say import MESSAGES, say

__all__ = ["check_linear_resize", "check_tent", "check_kernel_for_stride"]

MESSAGES["en"].update(
    {
        "linear_resize.unwritten": "Not written yet: {name} returns None. Fill it in and run this cell again.",
        "linear_resize.raised": "Not quite: {name}({signal}, {factor}) raised {error}. Return a list of numbers.",
        "linear_resize.form": "Not quite: {name} returned {got}, which cannot be read as a flat list of numbers. "
        "Return a list of {m} floats (list(...) turns a generator or a map into one).",
        "linear_resize.length": "Not quite: {name} returned {n} numbers; it should return {m}, one per output "
        "pixel (len(values) * factor = {size} * {factor}).",
        "linear_resize.right": "Right! {n} values -> {m}: {values}",
        "linear_resize.wrong": "Not quite: expected {expected}, got {got}. Hint: clamp the position with "
        "min(max(x, 0.0), len(values) - 1) before interpolating.",
        "tent.unwritten": "Not written yet: answer[{missing!r}] is still None.",
        "tent.form": 'Not quite: answer must be a dict like {{"factor": 1, "taps": [...]}}, got {got}.',
        "tent.form_factor": "Not quite: answer['factor'] cannot be read as a number: you wrote {got}. Write a whole "
        "number such as 3 (no quotes, no brackets).",
        "tent.form_taps": "Not quite: answer['taps'] cannot be read as a flat list of numbers: you wrote {got}. "
        "Write a list of {k} numbers such as [0.5, 1.0, ...], without quotes or nested brackets.",
        "tent.right": "Right! bilinear_kernel(1, 1, {k}) is made for factor {factor}; its taps are {taps}.",
        "tent.wrong": "Not quite: factor = ({k} + 1) // 2 = {factor} and the taps 1 - |i - center| / factor are "
        "{taps}; you wrote factor {got_factor} and taps {got_taps}.",
        "kernel_stride.unwritten": "Not written yet: set {missing} to a list of kernel sizes.",
        "kernel_stride.unwritten_both": "Not written yet: set {first} and {second} to a list of kernel sizes.",
        "kernel_stride.form": "Not quite: {name} cannot be read as kernel sizes: you wrote {got}. Write a list of "
        "whole numbers such as [3, 5], without quotes.",
        "kernel_stride.right": "Right! At stride {stride}, kernel sizes {flat} keep a flat image flat, and of those "
        "only {bright} keep its brightness too.",
        "kernel_stride.wrong": "Not quite: at stride {stride}, kernel sizes {flat} keep a flat image flat and {bright} "
        "keep its brightness too (you wrote {got_flat} and {got_bright}). Hint: equal phase sums keep it flat, "
        "phase sums of 1 keep its brightness.",
    }
)


def _shown(value: object, limit: int = 160) -> str:
    """What the learner wrote, as ``repr`` shows it, on one line (cut to about ``limit`` characters)."""
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 4] + " ..."


def _floats(value: object) -> list[float] | None:
    """``value`` (list, tuple, array or tensor of numbers) as a flat list of floats, or None if it is not one."""
    try:
        t = torch.as_tensor(value, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        return None
    return t.tolist() if t.dim() == 1 else None


def _number(value: object) -> float | None:
    """``value`` (an int, float, numpy or tensor scalar; not a bool) as a float, or None if it is not one."""
    if isinstance(value, (bool, str, bytes)):
        return None
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        return None


def _ints(value: object) -> set[int] | None:
    """``value`` (a list, tuple, set, array or tensor of whole numbers, or one whole number) as a set of ints, or
    None if it is not one."""
    if isinstance(value, (str, bytes, Mapping)):
        return None
    number = _number(value) if getattr(value, "ndim", 0) == 0 else None  # one number: a set of one
    if number is not None:
        return {int(number)} if number.is_integer() else None
    numbers = _floats(list(value) if isinstance(value, (set, frozenset)) else value)
    if numbers is None or any(not float(v).is_integer() for v in numbers):
        return None
    return {int(v) for v in numbers}


def check_linear_resize(resize: Callable, signal: Sequence[float] = (1.0, 2.0, 4.0, 3.0), factor: int = 3) -> list:
    """Say whether ``resize(list(signal), factor)`` is 1-D linear upsampling (``F.interpolate``, ``mode="linear"``,
    ``align_corners=False``, to 1e-6); return that reference, a list of ``len(signal) * factor`` floats."""
    x = torch.tensor([[list(signal)]], dtype=torch.float64)
    reference = F.interpolate(x, scale_factor=factor, mode="linear", align_corners=False)[0, 0].tolist()
    name = getattr(resize, "__name__", "your function")
    try:
        answer = resize(list(signal), factor)
    except Exception as err:  # the learner's code: report, never raise
        say("linear_resize.raised", name=name, signal=list(signal), factor=factor, error=f"{type(err).__name__}: {err}")
        return reference
    if answer is None:
        say("linear_resize.unwritten", name=name)
        return reference
    got = _floats(answer)
    rounded = [round(v, 3) for v in reference]
    if got is None:
        say("linear_resize.form", name=name, got=_shown(answer), m=len(reference))
    elif len(got) != len(reference):
        say("linear_resize.length", name=name, n=len(got), m=len(reference), size=len(signal), factor=factor)
    elif all(abs(a - b) < 1e-6 for a, b in zip(got, reference)):
        say("linear_resize.right", n=len(signal), m=len(reference), values=rounded)
    else:
        say("linear_resize.wrong", expected=rounded, got=_shown([round(v, 3) for v in got]))
    return reference


def _interpolation_taps(factor: int) -> list[float]:
    """The weights one input pixel gets in ``F.interpolate(mode="linear", align_corners=False)`` upsampling by
    ``factor``, output pixel by output pixel (its non-zero response to an impulse): the bilinear tent's taps."""
    impulse = torch.zeros(1, 1, 5, dtype=torch.float64)
    impulse[..., 2] = 1.0
    response = F.interpolate(impulse, scale_factor=factor, mode="linear", align_corners=False)[0, 0]
    return response[response > 1e-12].tolist()


def check_tent(answer: Mapping, kernel_size: int = 8) -> dict:
    """Say whether ``answer = {"factor": f, "taps": [...]}`` gives the factor ``bilinear_kernel(1, 1, kernel_size)``
    is made for and its 1-D taps (within 0.01). The reference comes from ``F.interpolate``: the factor whose
    interpolation weights number ``kernel_size``, and those weights. Returns ``{"factor": int, "taps": list}``.
    ValueError for a ``kernel_size`` no factor's weights fill (only ``2f`` for even ``f``, ``2f - 1`` for odd)."""
    sizes = range(1, check_int(kernel_size, "kernel_size", 1) + 1)
    factors = [f for f in sizes if len(_interpolation_taps(f)) == kernel_size]
    if not factors:
        msg = f"kernel_size={kernel_size} holds the interpolation weights of no factor"
        raise ValueError(f"{msg}: choose 2f for an even factor f or 2f - 1 for an odd one (4, 5, 8, 9, ...)")
    factor = factors[0]
    truth = {"factor": factor, "taps": _interpolation_taps(factor)}
    if not isinstance(answer, Mapping):
        say("tent.form", got=_shown(answer))
        return truth
    missing = [key for key in truth if answer.get(key) is None]
    if missing:
        say("tent.unwritten", missing=missing[0])
        return truth
    got_factor, got_taps = _number(answer["factor"]), _floats(answer["taps"])
    if got_factor is None:
        say("tent.form_factor", got=_shown(answer["factor"]))
        return truth
    if got_taps is None:
        say("tent.form_taps", got=_shown(answer["taps"]), k=kernel_size)
        return truth
    right_taps = len(got_taps) == kernel_size and all(abs(a - b) < 0.01 for a, b in zip(got_taps, truth["taps"]))
    taps = [round(v, 4) for v in truth["taps"]]
    shown = {"got_factor": _shown(answer["factor"]), "got_taps": _shown(answer["taps"])}
    key = "tent.right" if got_factor == factor and right_taps else "tent.wrong"
    say(key, k=kernel_size, factor=factor, taps=taps, **shown)
    return truth


def check_kernel_for_stride(
    keep_flat: object, keep_brightness: object, stride: int = 2, sizes: Sequence[int] = (3, 5, 6, 8)
) -> dict:
    """Say which of ``sizes`` keep a flat image flat at ``stride`` (``keep_flat``) and which also keep its brightness
    (``keep_brightness``), measured on ones upsampled by ``F.conv_transpose2d`` with ``bilinear_kernel``; the kernel made for
    the stride (``upsampling_params``) may be listed too. Returns ``{"flat": [...], "bright": [...]}``."""
    truth: dict[str, list[int]] = {"flat": [], "bright": []}
    for k in sizes:
        up = F.conv_transpose2d(torch.ones(1, 1, 12, 12), bilinear_kernel(1, 1, k), stride=stride)
        inside = up[0, 0, k:-k, k:-k]  # away from the border
        if float(inside.max() - inside.min()) < 1e-5:
            truth["flat"].append(k)
            if abs(float(inside.mean()) - 1) < 1e-5:
                truth["bright"].append(k)
    answers = {"keep_flat": keep_flat, "keep_brightness": keep_brightness}
    missing = [name for name, value in answers.items() if value is None]
    if len(missing) == 2:  # the words between the names belong to the message, in each language
        say("kernel_stride.unwritten_both", first=missing[0], second=missing[1])
        return truth
    if missing:
        say("kernel_stride.unwritten", missing=missing[0])
        return truth
    got = {name: _ints(value) for name, value in answers.items()}
    unreadable = [name for name, value in got.items() if value is None]
    if unreadable:
        say("kernel_stride.form", name=unreadable[0], got=_shown(answers[unreadable[0]]))
        return truth
    matching = upsampling_params(stride)[0]
    right = all(g - {matching} == set(truth[name]) for g, name in zip(got.values(), ("flat", "bright")))
    shown = {"got_flat": _shown(keep_flat), "got_bright": _shown(keep_brightness)}
    say("kernel_stride.right" if right else "kernel_stride.wrong", stride=stride, **truth, **shown)
    return truth
