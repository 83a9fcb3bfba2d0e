"""Checks about data, losses, training and metrics (chapter 4's exercises)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from ._say import MESSAGES, say

__all__ = ["check_training_step", "check_dice"]

MESSAGES["en"].update(
    {
        "training_step.unwritten": "Not written yet: {entry!r} is still None. Replace it and run this cell again.",
        "training_step.right": "Right! {steps} steps per epoch, and scores of shape {shape}.",
        "training_step.wrong": "Not quite: {entry!r} is {expected}, not {answer!r}.",
        "dice.unwritten": "Not written yet: dice returns None. Hint: n.diagonal(), n.sum(1) and n.sum(0) are the "
        "three counts.",
        "dice.right": "Right! Dice per class: {expected}.",
        "dice.wrong": "Not quite: got {answer}, expected {expected}. Dice is 2 n_ii / (t_i + predicted_i).",
        "dice.raised": "Not quite: your dice raised {error}.",
    }
)


def _as_tuple(value: Any) -> Any:
    """A tuple of Python numbers from a tuple, list, tensor, array or torch.Size; anything else as it is."""
    if isinstance(value, (str, bytes)):
        return value
    try:
        return tuple(
            v.item() if hasattr(v, "item") else v for v in (value.tolist() if hasattr(value, "tolist") else value)
        )
    except TypeError:
        return value.item() if hasattr(value, "item") else value


def check_training_step(answer: Mapping[str, Any], train_iter: Any) -> dict[str, Any]:
    """The learner's ``{"steps per epoch": int, "shape of scores": 4 ints}`` for one epoch over ``train_iter`` (a
    DataLoader of a cropped dataset, or one cut by ``StepLimit``) against its ``len`` and
    ``(batch_size, num_classes, *crop_size)``; prints one line, returns the reference."""
    dataset = train_iter.dataset
    expected = {
        "steps per epoch": len(train_iter),
        "shape of scores": (train_iter.batch_size, dataset.num_classes, *dataset.crop_size),
    }
    for key, value in expected.items():
        given = answer.get(key)
        if given is None:
            say("training_step.unwritten", entry=key)
            return expected
        if _as_tuple(given) != _as_tuple(value):
            say("training_step.wrong", entry=key, expected=value, answer=given)
            return expected
    say("training_step.right", steps=expected["steps per epoch"], shape=expected["shape of scores"])
    return expected


def check_dice(dice: Callable[[torch.Tensor], Any], n: torch.Tensor) -> list[float]:
    """The learner's ``dice(n)`` (one Dice score ``2 n_ii / (t_i + sum_j n_ji)`` per class of the confusion matrix
    ``n``) against ``2 IoU / (1 + IoU)`` from the IoU of each class, within 5e-4 (so an answer rounded to 3 decimals
    is right); prints one line, returns the reference (rounded to 3 decimals; NaN where a class is neither present nor
    predicted)."""
    m = n.double()
    iou = m.diagonal() / (m.sum(0) + m.sum(1) - m.diagonal())
    reference = 2 * iou / (1 + iou)
    expected = [round(float(v), 3) for v in reference]
    try:
        yours = dice(n.clone())
    except Exception as err:  # the learner's code: any error becomes a hint, never a stop
        say("dice.raised", error=f"{type(err).__name__}: {err}")
        return expected
    if yours is None:
        say("dice.unwritten")
        return expected
    try:
        # within half the printed precision: an answer rounded to 3 decimals, as the reference is printed, is right
        right = torch.allclose(
            torch.as_tensor(yours, dtype=torch.float64), reference, rtol=0, atol=5e-4, equal_nan=True
        )
    except (TypeError, ValueError, RuntimeError):
        right = False
    say("dice.right" if right else "dice.wrong", answer=yours, expected=expected)
    return expected
