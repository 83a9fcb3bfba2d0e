"""Chapter 6's skip fusion, typed in the open, computes what fcnlib's FCN-8s computes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import fcnlib

CHAPTER6 = Path(__file__).resolve().parent.parent / "notebooks" / "06_skip_connections.ipynb"


def chapter_fcn8s_scores():
    """The chapter's ``fcn8s_scores``, from the one code cell that defines it (and nothing else)."""
    cells = json.loads(CHAPTER6.read_text(encoding="utf-8"))["cells"]
    (source,) = [
        "".join(c["source"]) for c in cells if c["cell_type"] == "code" and "def fcn8s_scores(" in "".join(c["source"])
    ]
    namespace: dict = {}
    exec(compile(source, "06_skip_connections.ipynb:fcn8s_scores", "exec"), namespace)
    return namespace["fcn8s_scores"]


def functional_fcn8s(net, layer2, layer3, layer4):
    """The reference: FCN-8s's head from its parameters with torch.nn.functional only (the paper's Figure 3)."""

    def up(layer, x):
        return F.conv_transpose2d(x, layer.weight, stride=layer.stride, padding=layer.padding)

    def score(layer, x):
        return F.conv2d(x, layer.weight, layer.bias)

    fused16 = up(net.up_layer4, score(net.final_conv, layer4)) + score(net.score_layer3, layer3)
    fused8 = up(net.up_layer3, fused16) + score(net.score_layer2, layer2)
    return up(net.transpose_conv, fused8)


@pytest.mark.parametrize("size", [(32, 32), (64, 96), (128, 160), (224, 352)])
def test_chapter6_fcn8s_scores_is_fcnlibs_fcn8s(size):
    fcn8s_scores = chapter_fcn8s_scores()
    torch.manual_seed(sum(size))
    net = fcnlib.fcn_resnet18(7, "8s", weights=None).eval()
    with torch.no_grad():
        for name in ("score_layer3", "score_layer2", "up_layer4", "up_layer3"):  # as after training: not zero
            torch.nn.init.normal_(getattr(net, name).weight, std=0.1)
        x = torch.randn(2, 3, *size)
        t = net.intermediates(x)
        ours = fcn8s_scores(net, t["layer2"], t["layer3"], t["layer4"])
        assert ours.shape == (2, 7, *size)
        assert torch.equal(ours, net(x))
        torch.testing.assert_close(ours, functional_fcn8s(net, t["layer2"], t["layer3"], t["layer4"]))


def test_chapter6_fcn8s_scores_uses_both_skips():
    """A chapter function that dropped a skip would still match a net whose skips are zero: not this one."""
    fcn8s_scores = chapter_fcn8s_scores()
    torch.manual_seed(0)
    net = fcnlib.fcn_resnet18(3, "8s", weights=None).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        t = net.intermediates(x)
        before = fcn8s_scores(net, t["layer2"], t["layer3"], t["layer4"])
        for name in ("score_layer3", "score_layer2"):
            getattr(net, name).bias.fill_(1.0)  # each skip now adds +1 to every score, 2 in all
        after = fcn8s_scores(net, t["layer2"], t["layer3"], t["layer4"])
    # The bilinear upsamplers sum to 1 away from the border, so a constant 2 shows there.
    torch.testing.assert_close((after - before)[..., 16:-16, 16:-16], torch.full_like(before[..., 16:-16, 16:-16], 2.0))


def chapter_refine():
    """The chapter's ``refine``, from the one code cell that defines it."""
    cells = json.loads(CHAPTER6.read_text(encoding="utf-8"))["cells"]
    (source,) = [
        "".join(c["source"]) for c in cells if c["cell_type"] == "code" and "def refine(" in "".join(c["source"])
    ]
    namespace: dict = {"torch": torch, "F": F}
    exec(compile(source, "06_skip_connections.ipynb:refine", "exec"), namespace)
    return namespace["refine"]


def loop_refine(scores, images, steps=5, radius=2, dilation=2, theta=0.1, weight=8.0):
    """The reference, pixel by pixel: each pixel's neighbours within ``radius`` steps of ``dilation`` pixels (inside
    the image, itself excluded) vote with their probabilities, weighted by exp(-|colour difference|^2 / 2 theta^2)."""
    n, c, h, w = scores.shape
    q = scores.softmax(1)
    for _ in range(steps):
        new = torch.empty_like(q)
        for b in range(n):
            for y in range(h):
                for x in range(w):
                    votes, total = torch.zeros(c, dtype=q.dtype), 1e-6
                    for dy in range(-radius, radius + 1):
                        for dx in range(-radius, radius + 1):
                            yy, xx = y + dy * dilation, x + dx * dilation
                            if (dy, dx) == (0, 0) or not (0 <= yy < h and 0 <= xx < w):
                                continue
                            d2 = ((images[b, :, y, x] - images[b, :, yy, xx]) ** 2).sum()
                            k = torch.exp(-d2 / (2 * theta**2))
                            votes, total = votes + k * q[b, :, yy, xx], total + k
                    new[b, :, y, x] = (scores[b, :, y, x] + weight * votes / total).softmax(0)
        q = new
    return q.log()


def test_chapter6_refine_is_the_pixel_by_pixel_mean_field_step():
    refine = chapter_refine()
    g = torch.Generator().manual_seed(0)
    scores = 3 * torch.randn(2, 3, 9, 11, generator=g, dtype=torch.float64)
    images = torch.rand(2, 3, 9, 11, generator=g, dtype=torch.float64)
    images[:, :, :, 6:] = 0.5  # a flat region: similar neighbours vote strongly
    torch.testing.assert_close(refine(scores, images, steps=2), loop_refine(scores, images, steps=2))
    torch.testing.assert_close(
        refine(scores, images, steps=1, radius=1, dilation=3), loop_refine(scores, images, 1, 1, 3)
    )
