"""Checks about nets on photographs: which classes a net can answer with, how sure it is, the scale it sees."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..inference import full_scores
from ._say import MESSAGES, listing, say, word

__all__ = ["check_says_person", "check_top_probability", "check_predict_at_scale"]

MESSAGES["en"].update(
    {
        "says_person.unsolved": "Not written yet: set answer = True or False and run again.",
        "says_person.right_absent": "Right: 'person' is not among its {n} classes ({names}), so no pixel can be "
        "called a person.",
        "says_person.wrong_absent": "Not quite: 'person' is not among its {n} classes ({names}). A net answers "
        "every pixel with one of the classes it was trained on, whatever the picture shows.",
        "says_person.right_present": "Right: person is its class {index}, and it gave that class to {share} of "
        "the pixels.",
        "says_person.wrong_present": "Not quite: person is its class {index}, and it gave that class to {share} "
        "of the pixels.",
        "top_probability.unsolved": "Not written yet: top_probability returns None.",
        "top_probability.right": "Right: the largest softmax probability at each of the {pixels} pixels.",
        "top_probability.error": "Not quite: top_probability raised {error}.",
        "top_probability.shape": "Not quite: expected a tensor of shape {expected}, one value per pixel, got {got}.",
        "top_probability.values": "Not quite: the right shape, other values. Softmax over the classes (dim=0), "
        "then the largest value at each pixel (.amax(0)); the values lie between 1/C and 1.",
        "predict_at_scale.unsolved": "Not written yet: predict_at_scale returns None.",
        "predict_at_scale.right": "Right: {agree} of the pixels get the reference's label at {height}x{width}.",
        "predict_at_scale.error": "Not quite: predict_at_scale raised {error}.",
        "predict_at_scale.shape": "Not quite: expected class indices of the photo's size {expected}, got {got}. "
        "Bring the scores back to the photo's size before the argmax.",
        "predict_at_scale.values": "Not quite: only {agree} of the pixels get the reference's label. Shrink with "
        "mode='bilinear', antialias=True; upsample the scores [C, h, w] (not the labels) bilinearly; then argmax(0).",
    }
)


def check_says_person(answer: Any, classes: Sequence[str], pred: Tensor) -> bool:
    """``answer``: the learner's guess (a bool, 0/1, "yes"/"no"; None: not answered) whether a net with ``classes``
    calls any pixel of its label map ``pred`` (int ``[H, W]``) "person". Says why; returns the truth."""
    classes = list(classes)
    index = classes.index("person") if "person" in classes else None
    share = float((torch.as_tensor(pred) == index).float().mean()) if index is not None else 0.0
    truth = share > 0
    if answer is None:
        say("says_person.unsolved")
        return truth
    if isinstance(answer, str):  # "yes", "False", ...
        answer = {"yes": True, "true": True, "no": False, "false": False}.get(answer.strip().lower(), answer)
    right = not isinstance(answer, str) and answer in (True, False) and bool(answer) == truth
    if index is None:
        say(f"says_person.{'right' if right else 'wrong'}_absent", n=len(classes), names=listing(classes))
    else:
        shown = f"{share:.1%}" if share >= 0.001 or share == 0 else word("under", "0.1%")
        say(f"says_person.{'right' if right else 'wrong'}_present", index=index, share=shown)
    return truth


def _answer(key: str, function: Callable | None, args: tuple, shape: torch.Size) -> Tensor | None:
    """``function(*args)`` when it is a tensor of ``shape`` (a leading 1 accepted), else None after saying why:
    ``<key>.unsolved`` (no function, or it returns None), ``<key>.error`` (it raised), ``<key>.shape``."""
    try:
        answer = None if function is None else function(*args)
    except Exception as err:  # say what went wrong instead of stopping the chapter
        say(f"{key}.error", error=f"{type(err).__name__}: {err}")
        return None
    if answer is None:
        say(f"{key}.unsolved")
    elif not isinstance(answer, Tensor) or answer.squeeze(0).shape != shape:
        got = tuple(answer.shape) if isinstance(answer, Tensor) else type(answer).__name__
        say(f"{key}.shape", expected=tuple(shape), got=got)
    else:
        return answer
    return None


def check_top_probability(top_probability: Callable | None, scores: Tensor) -> Tensor:
    """``top_probability(scores)`` for class scores ``[C, H, W]`` should give the largest softmax probability per
    pixel, ``[H, W]`` (a leading 1 is accepted). Returns the reference ``scores.softmax(0).amax(0)``."""
    expected = torch.softmax(scores.double(), dim=0).max(dim=0).values.to(scores.dtype)
    answer = _answer("top_probability", top_probability, (scores.clone(),), expected.shape)
    if answer is not None:
        right = torch.allclose(answer.squeeze(0).double().cpu(), expected.double().cpu(), atol=1e-5)
        say("top_probability.right" if right else "top_probability.values", pixels=expected.numel())
    return expected


def _at_scale(net: nn.Module, image: Tensor, scale: float) -> Tensor:
    """The reference: shrink uint8 ``image`` by ``scale`` (antialiased bilinear), the net's scores there, bilinearly
    back to the photo's size, argmax: int64 ``[H, W]`` on the CPU."""
    small = F.interpolate(image[None].float(), scale_factor=scale, mode="bilinear", antialias=True)
    scores = full_scores(net, small[0].round().clamp(0, 255).to(torch.uint8))  # [C, h, w]
    return F.interpolate(scores[None], size=image.shape[-2:], mode="bilinear")[0].argmax(0).cpu()


def check_predict_at_scale(predict_at_scale: Callable | None, net: nn.Module, image: Tensor, scale: float) -> Tensor:
    """``predict_at_scale(net, image, scale)`` for a uint8 ``image [3, H, W]`` should return class indices ``[H, W]``
    from the net run on the photo shrunk by ``scale``, its scores brought back bilinearly. Right when at least 99%
    of the pixels agree with the reference (resizing details move a few outline pixels). Returns the reference."""
    expected = _at_scale(net, image, scale)
    small = F.interpolate(image[None].float(), scale_factor=scale).shape[-2:]
    answer = _answer("predict_at_scale", predict_at_scale, (net, image.clone(), scale), expected.shape)
    if answer is not None:
        agree = float((answer.squeeze(0).cpu() == expected).float().mean())
        key = "right" if agree >= 0.99 else "values"
        say(f"predict_at_scale.{key}", agree=f"{agree:.1%}", height=small[0], width=small[1])
    return expected
