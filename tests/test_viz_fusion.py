"""fcnlib.viz.fusion and the chapter-6 figures of fcnlib.viz.segmentation: what they draw where."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from fcnlib import viz


@pytest.fixture
def close_figures():
    yield
    plt.close("all")


def test_fusion_maps_draw_class_minus_background_on_one_scale_per_row(close_figures):
    g = torch.Generator().manual_seed(0)
    coarse, up, skip = (
        torch.randn(3, 2, 3, generator=g),
        torch.randn(3, 4, 6, generator=g),
        torch.randn(3, 4, 6, generator=g),
    )
    label = torch.zeros(64, 96, dtype=torch.long)
    label[16:48, 24:72] = 2
    fig = viz.show_fusion_maps({"row": (coarse, up, skip, up + skip)}, label, 2, ["bg", "a", "b"])
    panels = [ax for ax in fig.axes if ax.images and ax.get_title()]
    assert [ax.get_title() for ax in panels] == [
        "coarse scores (2x3)",
        "2x upsampled (4x6)",
        "skip scores (4x6)",
        "sum (4x6)",
    ]
    for ax, scores in zip(panels, (coarse, up, skip, up + skip)):
        image = ax.images[0]
        np.testing.assert_allclose(image.get_array(), (scores[2] - scores[0]).double().numpy())
        assert image.get_extent() == [-0.5, 95.5, 63.5, -0.5]  # every grid over the whole label
        assert ax.collections  # the true outline
    limits = {ax.images[0].get_clim() for ax in panels}
    biggest = max(float((s[2].double() - s[0].double()).abs().max()) for s in (coarse, up, skip, up + skip))
    assert limits == {(-biggest, biggest)}  # one scale, centred at 0
    colorbars = [ax for ax in fig.axes if ax.get_ylabel() == "b - bg"]
    assert len(colorbars) == 1
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["true outline of b"]
    with pytest.raises(ValueError, match="four maps"):
        viz.show_fusion_maps({"row": (coarse, up, skip)}, label, 2, ["bg", "a", "b"])
    with pytest.raises(ValueError, match="classes 5"):
        viz.show_fusion_maps({"row": (coarse, up, skip, up)}, label, 5, ["bg", "a", "b"])


def test_chapter6_segmentation_figures_name_every_colour_void_included(close_figures):
    image = torch.rand(3, 64, 96)
    label = torch.zeros(64, 96, dtype=torch.long)
    label[10:40, 20:60] = 2
    label[9, 20:60] = 255
    classes, colormap = ["bg", "x", "y"], [(0, 0, 0), (255, 0, 0), (0, 128, 0)]
    fig = viz.show_coarse_prediction(image, label[::32, ::32], label, 32, colormap, target=label, classes=classes)
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["bg", "y", "void"]
    band = viz.show_boundary_band(label, widths=(1, 3), colormap=colormap, classes=classes)
    # by hand: the 30x40 object and the void row above it; labelled pixels in the band, of the 64 x 96 - 40 = 6104
    # labelled: width 1: the object's outer ring 30*40 - 28*38 = 136 and the background's ring 33*42 - 31*40 = 146
    # (282, 4.6%); width 3: 30*40 - 24*34 = 384 and 37*46 - 31*40 = 462 (846, 13.9%)
    shares = [
        "within 1 px of an edge:\n5% of the labelled pixels",
        "within 3 px of an edge:\n14% of the labelled pixels",
    ]
    assert [ax.get_title() for ax in band.axes] == ["label", *shares]
    panel = band.axes[1].images[0].get_array()
    assert tuple(panel[9, 30]) == (224, 224, 192)  # void keeps its legend colour, not faded
    texts = [t.get_text() for t in band.legends[0].get_texts()]
    assert texts == ["bg", "y", "void", "outside the band (colours faded)"]
