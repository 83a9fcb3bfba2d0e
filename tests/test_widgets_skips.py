"""fcnlib.widgets' skip-scale explorer: what its view computes (against the net's own forward pass and a functional
reference), that it never raises, and that moving the slider redraws it."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import fcnlib
from fcnlib import widgets as W


@pytest.fixture(scope="module")
def net8():
    torch.manual_seed(0)
    net = fcnlib.fcn_resnet18(4, "8s", weights=None).eval()
    with torch.no_grad():  # trained skips are not zero: give them weights that change the prediction
        for name in ("score_layer3", "score_layer2"):
            torch.nn.init.normal_(getattr(net, name).weight, std=0.5)
    return net


def _scene(seed=0):
    g = torch.Generator().manual_seed(seed)
    image = torch.randn(3, 64, 96, generator=g)
    target = torch.randint(0, 4, (64, 96), generator=g)
    target[:, :3] = 255  # void
    return image, target


def _functional(net, x, scale):
    """FCN-8s's head from its parameters with torch.nn.functional, each skip times ``scale``."""
    t = net.intermediates(x)

    def up(layer, y):
        return F.conv_transpose2d(y, layer.weight, stride=layer.stride, padding=layer.padding)

    fused16 = up(net.up_layer4, t["score32"]) + scale * F.conv2d(
        t["layer3"], net.score_layer3.weight, net.score_layer3.bias
    )
    fused8 = up(net.up_layer3, fused16) + scale * F.conv2d(t["layer2"], net.score_layer2.weight, net.score_layer2.bias)
    return up(net.transpose_conv, fused8)


def test_scaled_skip_scores_is_the_net_at_1_and_the_functional_head_in_between(net8):
    x = _scene()[0][None]
    with torch.no_grad():
        assert torch.equal(W.scaled_skip_scores(net8, x, 1.0), net8(x))
        for scale in (0.0, 0.3):
            torch.testing.assert_close(W.scaled_skip_scores(net8, x, scale), _functional(net8, x, scale))
        assert not torch.allclose(W.scaled_skip_scores(net8, x, 0.0), net8(x))  # the skips matter in this net
    with pytest.raises(ValueError, match="FCN-16s or FCN-8s"):
        W.scaled_skip_scores(fcnlib.fcn_resnet18(4, "32s", weights=None), x, 0.5)


def test_skip_scale_view_numbers_against_the_predictions(net8):
    image, target = _scene()
    labelled = target != 255
    with torch.no_grad():
        pred1 = net8(image[None])[0].argmax(0)
        pred0 = _functional(net8, image[None], 0.0)[0].argmax(0)
    one, zero = W.skip_scale_view(1.0, net8, image, target), W.skip_scale_view(0.0, net8, image, target)
    assert one.ok and one.figure is not None and zero.ok
    assert one.numbers["pixel_acc"] == pytest.approx((pred1 == target)[labelled].float().mean().item())
    assert one.numbers["pixel_acc0"] == pytest.approx((pred0 == target)[labelled].float().mean().item())
    assert (
        one.numbers["changed"] == pytest.approx((pred1 != pred0).float().mean().item()) and one.numbers["changed"] > 0
    )
    assert zero.numbers["changed"] == 0 and zero.numbers["pixel_acc"] == zero.numbers["pixel_acc0"]
    assert one.numbers["scale"] == 1.0 and "skip scale 1.0" in one.text
    legend = [t.get_text() for t in one.figure.legends[0].get_texts()]
    assert legend[-1] == "void" and set(legend[:-1]) <= {"background", "aeroplane", "bicycle", "bird"}


def test_skip_scale_view_leaves_classes_too_small_to_see_out_of_the_legend(net8, monkeypatch):
    image, target = _scene()
    target[:, 3:] = 0  # void stays in the first 3 columns
    target[:10, 10:20] = 1  # 100 px of class 1 in the truth
    target[0, 30:33] = 2  # 3 px of class 2
    monkeypatch.setattr(
        W, "scaled_skip_scores", lambda net, x, s: F.one_hot(torch.zeros(1, 64, 96).long(), 4).movedim(3, 1).float()
    )
    legend = [t.get_text() for t in W.skip_scale_view(1.0, net8, image, target).figure.legends[0].get_texts()]
    assert legend == ["background", "aeroplane", "void"]  # void: 192 px; class 2's 3 px cannot be seen
    monkeypatch.setattr(W, "LEGEND_MIN_PIXELS", 3)
    legend = [t.get_text() for t in W.skip_scale_view(1.0, net8, image, target).figure.legends[0].get_texts()]
    assert legend == ["background", "aeroplane", "bicycle", "void"]


@pytest.mark.parametrize(
    "setting",
    [
        dict(scale=1.5),
        dict(scale=-0.1),
        dict(scale="half"),
        dict(image=None),
        dict(target=torch.zeros(5, 5, dtype=torch.long)),
        dict(image=torch.randn(3, 50, 96), target=torch.zeros(50, 96, dtype=torch.long)),  # not a multiple of 32
        dict(net=None),
        dict(net=fcnlib.fcn_resnet18(4, "32s", weights=None)),
    ],
)
def test_skip_scale_view_answers_bad_settings_with_a_message(net8, setting):
    image, target = _scene()
    kwargs = dict(scale=0.5, net=net8, image=image, target=target) | setting
    view = W.skip_scale_view(**kwargs)
    assert not view.ok and view.figure is None and view.text.startswith("Impossible setting:")


def test_skip_explorer_redraws_when_the_slider_moves(net8):
    image, target = _scene()
    e = W.skip_explorer(net8, image, target, classes=["bg", "a", "b", "c"])
    assert e.controls["scale"].value == 1.0 and e.view.ok and e.png is not None
    first, updates = e.png, e.updates
    e.controls["scale"].value = 0.0  # as a user moving the slider would
    assert e.updates == updates + 1 and e.png != first
    assert e.view.numbers["changed"] == 0 and "skip scale 0.0" in e.info.value
