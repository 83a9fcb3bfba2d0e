"""Checks about nets on photographs: which classes a net can answer with, how sure it is, the scale it sees."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..inference import full_scores
from ._say import MESSAGES, listing, say, word

__all__ = ["check_says_person", "check_top_probability", "check_predict_at_scale"]

_HOW = (
    "Shrink with mode='bilinear', antialias=True; upsample the scores [C, h, w] (not the labels) bilinearly, with "
    "align_corners=False as in chapter 1; then argmax(0)."
)
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
        "says_person.form": 'Not quite: write answer = True or False (or "yes" / "no"), not {got}.',
        "top_probability.unsolved": "Not written yet: top_probability returns None.",
        "top_probability.right": "Right: the largest softmax probability at each of the {pixels} pixels.",
        "top_probability.error": "Not quite: top_probability raised {error}.",
        "top_probability.shape": "Not quite: expected a tensor of shape {expected}, one value per pixel, got {got}.",
        "top_probability.pair": "Not quite: top_probability returned a (values, indices) pair, as .max(dim=0) "
        "does; return its .values.",
        "top_probability.values": "Not quite: the right shape, other values. Softmax over the classes (dim=0), "
        "then the largest value at each pixel (.amax(0)); the values lie between 1/C and 1.",
        "predict_at_scale.unsolved": "Not written yet: predict_at_scale returns None.",
        "predict_at_scale.right": "Right: {agree} of the pixels get the reference's label at {height}x{width}, "
        "and {probe} on a made-up net whose labels change from pixel to pixel (at scale 1/8).",
        "predict_at_scale.error": "Not quite: predict_at_scale raised {error}.",
        "predict_at_scale.shape": "Not quite: expected class indices of the photo's size {expected}, got {got}. "
        "Bring the scores back to the photo's size before the argmax.",
        "predict_at_scale.pair": "Not quite: predict_at_scale returned a (values, indices) pair, as .max(dim=0) "
        "does; return the class indices, .argmax(0).",
        "predict_at_scale.values": "Not quite: only {agree} of the pixels get the reference's label (with your net "
        "at scale {scale}). " + _HOW,
        "predict_at_scale.values_probe": "Not quite: only {agree} of the pixels get the reference's label (with a "
        "made-up net whose labels change from pixel to pixel, at scale 1/8). " + _HOW,
        "predict_at_scale.probabilities": "Not quite: only {agree} of the pixels get the "
        "reference's label, and your answer matches upsampling the softmax probabilities. Interpolate the scores that full_scores returns, before any "
        "softmax: interpolated probabilities tip some pixels near the outlines to another class.",
    }
)


# The answers a learner may write for yes and no, in English and in Chinese (case and end punctuation ignored).
_YES_NO = {"yes": True, "true": True, "no": False, "false": False, "是": True, "对": True, "会": True, "能": True}
_YES_NO.update({"否": False, "不": False, "不是": False, "错": False, "不对": False, "不会": False, "不能": False})


def _yes_no(answer: Any) -> bool | None:
    """``answer`` read as yes (True) or no (False): a bool, 0/1 or a word of ``_YES_NO``; None if it is neither."""
    if isinstance(answer, str):  # "yes", "False", "不会", ...
        return _YES_NO.get(answer.strip().strip(".!?'\"。！？").strip().lower())
    try:
        return bool(answer) if answer in (True, False) else None
    except (TypeError, ValueError, RuntimeError):  # an array or tensor of several values
        return None


def check_says_person(answer: Any, classes: Sequence[str], pred: Tensor) -> bool:
    """``answer``: the learner's guess (a bool, 0/1, "yes"/"no", "是"/"否", "会"/"不会", ...; None: not answered)
    whether a net with ``classes`` calls any pixel of its label map ``pred`` (int ``[H, W]``) "person"; any other
    answer gets a hint on the form. Says why; returns the truth."""
    classes = list(classes)
    index = classes.index("person") if "person" in classes else None
    share = float((torch.as_tensor(pred) == index).float().mean()) if index is not None else 0.0
    truth = share > 0
    if answer is None:
        say("says_person.unsolved")
        return truth
    given = _yes_no(answer)
    if given is None:
        say("says_person.form", got=repr(answer))
        return truth
    right = given == truth
    if index is None:
        say(f"says_person.{'right' if right else 'wrong'}_absent", n=len(classes), names=listing(classes))
    else:
        shown = f"{share:.1%}" if share >= 0.001 or share == 0 else word("under", "0.1%")
        say(f"says_person.{'right' if right else 'wrong'}_present", index=index, share=shown)
    return truth


def _answer(key: str, function: Callable | None, args: tuple, shape: torch.Size) -> Tensor | None:
    """``function(*args)`` as a tensor when it holds ``shape`` values (a leading 1 accepted; NumPy arrays and lists
    converted), else None after saying why: ``<key>.unsolved`` (no function, or it returns None), ``<key>.error``
    (it raised), ``<key>.pair`` (a ``(values, indices)`` pair from ``.max(dim)``), ``<key>.shape``."""
    try:
        answer = None if function is None else function(*args)
    except Exception as err:  # say what went wrong instead of stopping the chapter
        say(f"{key}.error", error=f"{type(err).__name__}: {err}")
        return None
    if isinstance(answer, tuple) and hasattr(answer, "values") and hasattr(answer, "indices"):
        say(f"{key}.pair")  # torch.return_types.max, from .max(dim) without .values
        return None
    if answer is not None and not isinstance(answer, Tensor):
        try:  # a NumPy array or a list holds the same values
            answer = torch.as_tensor(np.asarray(answer))
        except (TypeError, ValueError, RuntimeError):
            pass
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


def _at_scale(net: nn.Module, image: Tensor, scale: float, rounded: bool = False, softmax: bool = False) -> Tensor:
    """The reference: shrink uint8 ``image`` by ``scale`` (antialiased bilinear; ``rounded``: to ``round(H * scale)``
    rows and columns instead of ``scale_factor``'s floor), the net's scores there (``softmax``: their probabilities,
    a common wrong form), bilinearly back to the photo's size, argmax: int64 ``[H, W]`` on the CPU."""
    size = [round(n * scale) for n in image.shape[-2:]] if rounded else None
    small = F.interpolate(image[None].float(), size, None if rounded else scale, mode="bilinear", antialias=True)
    scores = full_scores(net, small[0].round().clamp(0, 255).to(torch.uint8))  # [C, h, w]
    scores = scores.softmax(0) if softmax else scores
    return F.interpolate(scores[None], size=image.shape[-2:], mode="bilinear")[0].argmax(0).cpu()


def _agreement(predict_at_scale: Callable, net: nn.Module, image: Tensor, scale: float, softmax: bool = False) -> tuple:
    """``(share of pixels agreeing, reference)`` for the learner's answer, or ``(None, reference)`` after saying
    why there is none; either way of rounding the shrunk size is accepted (``softmax``: see ``_at_scale``)."""
    expected = _at_scale(net, image, scale, softmax=softmax)
    answer = _answer("predict_at_scale", predict_at_scale, (net, image.clone(), scale), expected.shape)
    if answer is None:
        return None, expected
    answer = answer.squeeze(0).cpu()
    agree = float((answer == expected).float().mean())
    if agree < 0.99 and any(round(n * scale) != int(n * scale) for n in image.shape[-2:]):
        agree = max(agree, float((answer == _at_scale(net, image, scale, True, softmax)).float().mean()))
    return agree, expected


def _say_wrong(predict_at_scale: Callable, net: nn.Module, image: Tensor, scale: float, agree: float, probe: bool):
    """Say why an answer that agrees with the reference (for the learner's net, or ``probe``: the made-up one) on
    under 99% of the pixels is wrong: the softmax taken before upsampling when it matches that form, else how."""
    if (_agreement(predict_at_scale, net, image, scale, softmax=True)[0] or 0.0) >= 0.99:
        say("predict_at_scale.probabilities", agree=f"{agree:.1%}")
    elif not probe:
        say("predict_at_scale.values", agree=f"{agree:.1%}", scale=f"{scale:g}")
    else:
        say("predict_at_scale.values_probe", agree=f"{agree:.1%}")


def check_predict_at_scale(predict_at_scale: Callable | None, net: nn.Module, image: Tensor, scale: float) -> Tensor:
    """``predict_at_scale(net, image, scale)`` for a uint8 ``image [3, H, W]`` should return class indices ``[H, W]``
    from the net run on the photo shrunk by ``scale``, its scores brought back bilinearly. Right when at least 99%
    of the pixels agree with the reference (resizing details move a few outline pixels), for ``net`` and for a
    made-up per-pixel classifier at scale 1/8, where enlarging the labels or shrinking without antialiasing
    changes about 5% of the pixels. Returns the reference for ``net``."""
    agree, expected = _agreement(predict_at_scale, net, image, scale)
    if agree is None:
        return expected
    small = F.interpolate(image[None].float(), scale_factor=scale).shape[-2:]
    if agree < 0.99:
        _say_wrong(predict_at_scale, net, image, scale, agree, False)
        return expected
    probe = nn.Conv2d(3, 4, 1).eval()  # class scores from each pixel's colour alone
    with torch.no_grad():
        probe.weight.copy_(torch.randn(4, 3, 1, 1, generator=torch.Generator().manual_seed(0)))
        probe.bias.zero_()
    probed, _ = _agreement(predict_at_scale, probe, image.cpu(), 0.125)
    if probed is not None and probed < 0.99:
        _say_wrong(predict_at_scale, probe, image.cpu(), 0.125, probed, True)
    elif probed is not None:
        say("predict_at_scale.right", agree=f"{agree:.1%}", height=small[0], width=small[1], probe=f"{probed:.1%}")
    return expected
