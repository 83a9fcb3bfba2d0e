"""Checks about predicting whole images (chapter 5's exercises)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..inference import tile_starts
from ._say import MESSAGES, comparison, say, word

__all__ = ["check_padding", "check_tile_starts", "check_margin_guess"]

MESSAGES["en"].update(
    {
        "padding.unsolved": "Not written yet: answer[{name!r}] is still None.",
        "padding.form": 'Not quite: keep answer a dict: {{"padded size (H, W)": (H, W), "rows above": n}}, not {got}.',
        "padding.right": "Right: {h}x{w} is padded to {padded}, with {above} rows above and {below} below.",
        "padding.wrong": "Not quite: {h}x{w} is padded to {padded} (the next multiples of 32), with {above} rows "
        "above and {below} below (half of the {missing} missing rows, rounded down, on top); you wrote {got}.",
        "tile_starts.unsolved": "Not written yet: tile_starts returns None. Hint: list(range(0, size - crop, "
        "stride)) and one more.",
        "tile_starts.right": "Right on all {n} cases! tile_starts(500, 480, 240) = {example}",
        "tile_starts.wrong": "Not quite: for size {size}, crop {crop}, stride {stride} expected {expected}, got {got}.",
        "tile_starts.error": "Not quite: tile_starts({size}, {crop}, {stride}) raised {error}.",
        "margin_guess.unsolved": 'Not written yet: set guess to "smaller" or "larger" and run again.',
        "margin_guess.form": 'Not quite: write guess = "smaller" or guess = "larger", not {got}.',
        "margin_guess.none": "Nothing to compare: pad and tile agree on every pixel of these images.",
        "margin_guess.right": "Right: where pad and tile disagree the median margin is {near:.2f}, {word} than "
        "the {far:.2f} where they agree.",
        "margin_guess.wrong": "Not quite: where pad and tile disagree the median margin is {near:.2f}, {word} than "
        "the {far:.2f} where they agree.",
    }
)


def _ints(value: Any) -> tuple[int, ...] | int | None:
    """A whole number or a sequence of them (list, tuple, array, tensor) as an int or a tuple of ints, else None."""
    try:
        if hasattr(value, "tolist"):
            value = value.tolist()
        if isinstance(value, (list, tuple)):
            out = tuple(int(v) for v in value)
            return out if all(float(v) == o for v, o in zip(value, out)) else None
        return int(value) if float(value) == int(value) and not isinstance(value, (bool, str)) else None
    except (TypeError, ValueError, OverflowError):
        return None


def check_padding(answer: Mapping[str, Any], size: Sequence[int]) -> dict[str, Any]:
    """``answer``: ``{"padded size (H, W)": (H2, W2), "rows above": top}`` (None where not answered) for an image
    of ``size`` ``(H, W)`` padded to the next multiples of 32, centred. Returns the right answer."""
    h, w = (int(v) for v in size)
    truth = {"padded size (H, W)": (h + -h % 32, w + -w % 32), "rows above": (-h % 32) // 2}
    if not isinstance(answer, Mapping):
        say("padding.form", got=repr(answer))
        return truth
    missing = [key for key in truth if answer.get(key) is None]
    values = dict(h=h, w=w, padded=truth["padded size (H, W)"], above=truth["rows above"])
    values.update(below=-h % 32 - truth["rows above"], missing=-h % 32)
    if missing:
        say("padding.unsolved", name=missing[0])
    elif all(_ints(answer[key]) == value for key, value in truth.items()):
        say("padding.right", **values)
    else:
        say("padding.wrong", got={key: answer[key] for key in truth}, **values)
    return truth


def check_tile_starts(candidate: Callable[[int, int, int], Any]) -> list[int]:
    """Compare ``candidate(size, crop, stride)`` with :func:`fcnlib.inference.tile_starts` on sizes 1..197, crops
    32, 64, 96 and strides 16, 32, 48 (lists, tuples, arrays of ints all accepted); name the first case that differs.
    Returns the reference ``tile_starts(500, 480, 240)``."""
    cases = [(size, crop, stride) for size in range(1, 200, 7) for crop in (32, 64, 96) for stride in (16, 32, 48)]
    example = tile_starts(500, 480, 240)
    for size, crop, stride in cases:
        try:
            got = candidate(size, crop, stride)
        except Exception as error:  # noqa: BLE001 (the learner's code: any error is reported, none raised)
            say("tile_starts.error", size=size, crop=crop, stride=stride, error=f"{type(error).__name__}: {error}")
            return example
        if got is None:
            say("tile_starts.unsolved")
            return example
        expected = tile_starts(size, crop, stride)
        if _ints(got) != tuple(expected):
            say("tile_starts.wrong", size=size, crop=crop, stride=stride, expected=expected, got=got)
            return example
    say("tile_starts.right", n=len(cases), example=list(_ints(candidate(500, 480, 240)) or ()))
    return example


def check_margin_guess(guess: Any, near: float, far: float) -> str | None:
    """``guess``: "smaller" or "larger" (or small, lower, higher, 更小, 较大 ...: :func:`._say.comparison`; None: not
    answered), the learner's prediction of the margin where two predictions disagree; ``near``, ``far``: the median
    margins where they disagree and where they agree (``near`` NaN: they never disagree). Returns the measured
    answer, or None when there is none."""
    measured = None if near != near else ("smaller" if near < far else "larger")
    given = comparison(guess)
    if measured is None:
        say("margin_guess.none")
    elif guess is None:
        say("margin_guess.unsolved")
    elif given is None:
        say("margin_guess.form", got=repr(guess))
    else:
        key = "margin_guess.right" if given == measured else "margin_guess.wrong"
        say(key, near=near, far=far, word=word(measured))
    return measured
