"""Chapter 7's "Your turn" checks: right answers (in other forms too), wrong answers, unsolved cells, answers that
raise. References: the softmax written out with exp, and the shrink-predict-enlarge pipeline written out with
ImageNet's statistics and a 1x1 convolution as the net (no padding can change its answer)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import fcnlib
from fcnlib import checks
from fcnlib.data import VOC_CLASSES, sample_photo

SHAPES = ["background", "disc", "square"]


@pytest.fixture(autouse=True)
def english(monkeypatch):
    monkeypatch.delenv("FCNLIB_LANG", raising=False)


def test_says_person_without_a_person_class(capsys):
    pred = torch.tensor([[0, 1], [2, 1]])
    assert checks.check_says_person(None, SHAPES, pred) is False
    assert capsys.readouterr().out.startswith("Not written yet")
    for right in (False, 0, np.bool_(False), "no"):
        checks.check_says_person(right, SHAPES, pred)
        out = capsys.readouterr().out
        right_line = "Right: 'person' is not among its 3 classes (background, disc, square), so no pixel can be called"
        assert out == right_line + " a person.\n"
    checks.check_says_person(True, SHAPES, pred)
    assert capsys.readouterr().out.startswith("Not quite: 'person' is not among its 3 classes")


def test_says_person_with_voc_classes(capsys):
    pred = torch.zeros(4, 10, dtype=torch.long)
    pred[0, :3] = 15  # 3 of 40 pixels: 7.5%
    assert checks.check_says_person(True, VOC_CLASSES, pred) is True
    assert capsys.readouterr().out == "Right: person is its class 15, and it gave that class to 7.5% of the pixels.\n"
    checks.check_says_person("False", VOC_CLASSES, pred)
    assert capsys.readouterr().out.startswith("Not quite: person is its class 15, and it gave that class to 7.5%")
    assert checks.check_says_person(False, VOC_CLASSES, torch.zeros(4, 10, dtype=torch.long)) is False
    assert "to 0.0% of the pixels" in capsys.readouterr().out
    checks.check_says_person(2, VOC_CLASSES, pred)  # not a yes or no
    assert capsys.readouterr().out == 'Not quite: write answer = True or False (or "yes" / "no"), not 2.\n'


def test_says_person_reads_chinese_yes_and_no(capsys, monkeypatch):
    """A Chinese learner's yes or no is read as such; a word that is neither gets a hint on the form, never
    "Not quite" about the net (which would contradict an answer that was right)."""
    pred = torch.zeros(4, 10, dtype=torch.long)
    pred[0, :3] = 15  # the net calls 3 of 40 pixels "person"
    for yes in ("是", "会", "对", " 会。"):
        checks.check_says_person(yes, VOC_CLASSES, pred)
        assert capsys.readouterr().out.startswith("Right: person is its class 15")
    for no in ("否", "不会", "错"):
        checks.check_says_person(no, SHAPES, torch.zeros(2, 2, dtype=torch.long))
        assert capsys.readouterr().out.startswith("Right: 'person' is not among its 3 classes")
    checks.check_says_person("不会", VOC_CLASSES, pred)
    assert capsys.readouterr().out.startswith("Not quite: person is its class 15")
    checks.check_says_person("maybe", VOC_CLASSES, pred)
    assert capsys.readouterr().out == 'Not quite: write answer = True or False (or "yes" / "no"), not \'maybe\'.\n'
    monkeypatch.setenv("FCNLIB_LANG", "zh")
    checks.check_says_person("不会", SHAPES, torch.zeros(2, 2, dtype=torch.long))
    assert capsys.readouterr().out.startswith("对了：'person' 不在它的 3 个类别（background、disc、square）之中")
    checks.check_says_person("也许", VOC_CLASSES, pred)
    assert capsys.readouterr().out == "还不对：请写 answer = True 或 False（也可以写“是”/“否”），而不是 '也许'。\n"


def _softmax_max(scores: torch.Tensor) -> torch.Tensor:
    e = torch.exp(scores.double() - scores.double().max(0).values)
    return (e / e.sum(0)).max(0).values.float()


def test_top_probability_right_wrong_unsolved_raising(capsys):
    scores = torch.randn(5, 6, 7, generator=torch.Generator().manual_seed(0)) * 3
    reference = checks.check_top_probability(None, scores)
    assert torch.allclose(reference, _softmax_max(scores), atol=1e-6)
    assert capsys.readouterr().out == "Not written yet: top_probability returns None.\n"
    for right in (lambda s: s.softmax(0).amax(0), lambda s: s.softmax(0).max(0).values[None]):  # [H, W] or [1, H, W]
        checks.check_top_probability(right, scores)
        assert capsys.readouterr().out == "Right: the largest softmax probability at each of the 42 pixels.\n"
    checks.check_top_probability(lambda s: s.softmax(1).amax(1), scores)  # the wrong dimension
    assert capsys.readouterr().out.startswith("Not quite: expected a tensor of shape (6, 7)")
    checks.check_top_probability(lambda s: s.amax(0), scores)  # the largest logit, not a probability
    assert capsys.readouterr().out.startswith("Not quite: the right shape, other values")
    checks.check_top_probability(lambda s: s.softmax(0).numpy().max(0), scores)  # a NumPy array: the same values
    assert capsys.readouterr().out.startswith("Right")
    checks.check_top_probability(lambda s: s.softmax(0).max(0), scores)  # (values, indices), .values forgotten
    assert capsys.readouterr().out.startswith("Not quite: top_probability returned a (values, indices) pair")
    checks.check_top_probability(lambda s: s.nope(), scores)
    assert capsys.readouterr().out.startswith("Not quite: top_probability raised AttributeError")


@pytest.fixture(scope="module")
def pixel_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Conv2d(3, 4, 1).eval()  # a per-pixel classifier: class scores at the input's size


def _by_hand(net: nn.Module, image: torch.Tensor, scale: float) -> torch.Tensor:
    small = F.interpolate(image[None].float(), scale_factor=scale, mode="bilinear", antialias=True)
    small = small.round().clamp(0, 255) / 255
    mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
    with torch.no_grad():
        scores = net((small - mean[:, None, None]) / std[:, None, None])
    return F.interpolate(scores, size=image.shape[-2:], mode="bilinear")[0].argmax(0)


def _solution(net, image, scale):  # the chapter's folded solution
    import fcnlib

    small = F.interpolate(image[None].float(), scale_factor=scale, mode="bilinear", antialias=True)
    scores = fcnlib.inference.full_scores(net, small[0].round().to(torch.uint8))
    return F.interpolate(scores[None], size=image.shape[-2:], mode="bilinear")[0].argmax(0).cpu()


def test_predict_at_scale_against_the_pipeline_by_hand(capsys, pixel_net):
    photo = (sample_photo((120, 100)) * 255).round().to(torch.uint8)
    reference = checks.check_predict_at_scale(None, pixel_net, photo, 0.25)
    assert torch.equal(reference, _by_hand(pixel_net, photo, 0.25))
    assert capsys.readouterr().out == "Not written yet: predict_at_scale returns None.\n"
    checks.check_predict_at_scale(_solution, pixel_net, photo, 0.25)
    out = capsys.readouterr().out
    assert out.startswith("Right: 100.0% of the pixels get the reference's label at 30x25, and 100.0% on a made-up")
    checks.check_predict_at_scale(lambda n, i, s: _solution(n, i, s)[None], pixel_net, photo, 0.25)  # [1, H, W]
    assert capsys.readouterr().out.startswith("Right")


def test_predict_at_scale_wrong_answers(capsys, pixel_net):
    photo = (sample_photo((120, 100)) * 255).round().to(torch.uint8)

    def labels_enlarged(net, image, scale):  # the labels, not the scores, brought back
        small = F.interpolate(image[None].float(), scale_factor=scale, mode="bilinear", antialias=True)
        labels = _solution(net, small[0].round().to(torch.uint8), 1.0)
        return F.interpolate(labels[None, None].float(), size=image.shape[-2:], mode="nearest")[0, 0].long()

    def not_shrunk(net, image, scale):
        return _solution(net, image, 1.0)

    for wrong in (labels_enlarged, not_shrunk):
        checks.check_predict_at_scale(wrong, pixel_net, photo, 0.25)
        out = capsys.readouterr().out
        assert out.startswith("Not quite: only ") and "antialias=True" in out, (wrong.__name__, out)
    checks.check_predict_at_scale(lambda n, i, s: _solution(n, i, s)[:60], pixel_net, photo, 0.25)
    assert capsys.readouterr().out.startswith("Not quite: expected class indices of the photo's size (120, 100)")
    checks.check_predict_at_scale(lambda n, i, s: 1 / 0, pixel_net, photo, 0.25)
    assert capsys.readouterr().out.startswith("Not quite: predict_at_scale raised ZeroDivisionError")


def _rounded_size(net, image, scale):  # a right answer in another form: round(H * scale) rows, not the floor
    size = [round(n * scale) for n in image.shape[-2:]]
    small = F.interpolate(image[None].float(), size=size, mode="bilinear", antialias=True)
    scores = fcnlib.inference.full_scores(net, small[0].round().to(torch.uint8))
    return F.interpolate(scores[None], size=image.shape[-2:], mode="bilinear")[0].argmax(0)


def _labels_enlarged(net, image, scale):  # the labels, not the scores, brought back
    small = F.interpolate(image[None].float(), scale_factor=scale, mode="bilinear", antialias=True)
    labels = fcnlib.inference.full_scores(net, small[0].round().to(torch.uint8)).argmax(0)
    return F.interpolate(labels[None, None].float(), size=image.shape[-2:], mode="nearest")[0, 0].long()


def _not_antialiased(net, image, scale):
    small = F.interpolate(image[None].float(), scale_factor=scale, mode="bilinear")
    scores = fcnlib.inference.full_scores(net, small[0].round().to(torch.uint8))
    return F.interpolate(scores[None], size=image.shape[-2:], mode="bilinear")[0].argmax(0)


def test_predict_at_scale_tells_scores_from_labels_where_the_net_cannot(capsys):
    """A net with one label everywhere cannot tell the taught method from its opposite; the made-up net can."""
    photo = (sample_photo((240, 200)) * 255).round().to(torch.uint8)
    flat = nn.Conv2d(3, 2, 1).eval()
    with torch.no_grad():
        flat.weight.zero_()
        flat.bias.copy_(torch.tensor([1.0, 0.0]))  # class 0 at every pixel
    for wrong in (_labels_enlarged, _not_antialiased):
        checks.check_predict_at_scale(wrong, flat, photo, 0.24)
        out = capsys.readouterr().out
        assert out.startswith("Not quite: only ") and "made-up net" in out, (wrong.__name__, out)
    for right in (_solution, _rounded_size):  # 0.24 * 240 = 57.6: floor 57, round 58
        checks.check_predict_at_scale(right, flat, photo, 0.24)
        assert capsys.readouterr().out.startswith("Right: 100.0% of the pixels get the reference's label at 57x48")


def test_predict_at_scale_accepts_either_rounding_of_the_size(capsys, pixel_net):
    photo = (sample_photo((240, 200)) * 255).round().to(torch.uint8)
    checks.check_predict_at_scale(_rounded_size, pixel_net, photo, 0.24)
    assert capsys.readouterr().out.startswith("Right"), "round(H * scale) rows is a right answer too"


def _probabilities_enlarged(net, image, scale):  # the softmax taken before upsampling
    small = F.interpolate(image[None].float(), scale_factor=scale, mode="bilinear", antialias=True)
    scores = fcnlib.inference.full_scores(net, small[0].round().to(torch.uint8))
    return F.interpolate(scores.softmax(0)[None], size=image.shape[-2:], mode="bilinear")[0].argmax(0)


def test_predict_at_scale_names_probabilities_upsampled_before_the_argmax(capsys):
    photo = (sample_photo((240, 200)) * 255).round().to(torch.uint8)
    sharp = nn.Conv2d(3, 4, 1).eval()  # large weights: scores far apart, so probabilities saturate
    with torch.no_grad():
        sharp.weight.copy_(torch.randn(4, 3, 1, 1, generator=torch.Generator().manual_seed(0)))
        sharp.bias.zero_()
    reference = _by_hand(sharp, photo, 0.125)
    share = float((_probabilities_enlarged(sharp, photo, 0.125) == reference).float().mean())
    assert share < 0.99, f"only {share:.1%}: the probabilities must tip pixels at scale 1/8"
    checks.check_predict_at_scale(_probabilities_enlarged, sharp, photo, 0.125)
    out = capsys.readouterr().out
    assert out.startswith(f"Not quite: only {share:.1%} of the pixels") and "before any softmax" in out, out
