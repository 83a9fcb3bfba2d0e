"""fcnlib.viz.scores: what each figure draws, against the data computed here (numpy's percentiles and argmax, d2l's
VOC colours)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import torch

from fcnlib import viz


def _legend_labels(legend) -> list[str]:
    return [t.get_text() for t in legend.get_texts()]


def test_show_detector_centres_the_colour_bar_and_names_both_classes():
    g = torch.Generator().manual_seed(0)
    image, score = torch.rand(8, 10, generator=g), torch.randn(6, 8, generator=g) - 1
    label = (score > 0).long()
    fig = viz.show_detector(image, score, label)
    ax_in, ax_score, ax_label = fig.axes[:3]
    norm = ax_score.images[0].norm
    assert (norm.vmin, norm.vcenter, norm.vmax) == (score.min().item(), 0.0, score.max().item())
    assert ax_score.get_title() == "score map 6x8" and ax_in.get_title() == "input 8x10"
    assert np.array_equal(ax_label.images[0].get_array(), label.numpy())
    assert _legend_labels(ax_label.get_legend()) == ["background", "cross"]
    assert len(fig.axes) == 4  # three panels and the colour bar
    plt.close(fig)


def test_show_upsampled_scores_bars_colours_and_legend():
    from d2l import torch as d2l  # the reference colours

    g = torch.Generator().manual_seed(1)
    maps = {"a": torch.randn(21, 12, 16, generator=g), "b": torch.randn(21, 12, 16, generator=g)}
    maps["a"][3] += 10  # channel 3 wins everywhere in "a"
    fig = viz.show_upsampled_scores(torch.rand(3, 12, 16, generator=g), maps, channel=5)
    axes = fig.axes
    for col, y in enumerate(maps.values(), start=1):
        score_ax = next(a for a in axes if a.get_title() == f"{list(maps)[col - 1]}: channel 5")
        lo, hi = np.percentile(y[5].numpy(), [2, 98])
        assert score_ax.images[0].get_clim() == (lo, hi)
        label_ax = next(a for a in axes if a.get_title() == f"{list(maps)[col - 1]}: argmax")
        expected = np.array(d2l.VOC_COLORMAP, dtype=np.uint8)[y.numpy().argmax(0)]
        assert np.array_equal(np.asarray(label_ax.images[0].get_array()), expected)
    shown = sorted(set(np.unique(maps["b"].numpy().argmax(0))) | {3})
    (legend,) = [a.get_legend() for a in axes if a.get_legend() is not None]
    assert _legend_labels(legend) == [f"channel {c}" for c in shown]
    assert sum(a.get_label() == "<colorbar>" for a in axes) == 2  # a bar per score panel
    plt.close(fig)


def test_show_binary_predictions_one_panel_per_prediction_and_a_full_legend():
    truth = torch.zeros(16, 16)
    truth[4:12, 4:12] = 1
    preds = {"exact": truth, "empty": torch.zeros(16, 16)}
    fig = viz.show_binary_predictions(truth, preds)
    assert [a.get_title() for a in fig.axes] == ["exact", "empty"]
    assert np.array_equal(fig.axes[0].images[0].get_array(), truth.numpy())
    assert _legend_labels(fig.legends[0]) == ["predicted object", "predicted background", "true outline"]
    plt.close(fig)
