"""Chapter 1's figures (fcnlib.viz.kernels): what they draw against independent references."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from matplotlib.lines import Line2D

import fcnlib
from fcnlib import viz


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_tent_sum_is_the_interpolated_line():
    fig = viz.plot_tent_sum([10, 20, 40], x=1.25)
    lines = {line.get_label(): line for line in fig.axes[0].get_lines()}
    t, total = lines["sum of the tents"].get_data()
    assert np.allclose(total, np.interp(t, [0, 1, 2], [10, 20, 40]))
    assert lines["f(1.25) = 25"].get_ydata()[0] == 25  # by hand: 0.75 * 20 + 0.25 * 40
    dots = {line.get_color(): line.get_ydata()[0] for line in lines.values() if line.get_label().startswith("_")}
    assert dots == {"C1": 15, "C2": 10}  # 0.75 x 20 on the tent of 20 (C1), 0.25 x 40 on the tent of 40 (C2)
    legend = fig.axes[0].get_legend()
    labels = [text.get_text() for text in legend.get_texts()]
    assert labels[-2:] == ["tents at 1.25: 15 + 10", "f(1.25) = 25"]  # the two tents that reach 1.25
    markers = [(line.get_marker(), line.get_markerfacecolor()) for line in legend.findobj(Line2D)]
    assert [m for m in markers if m[0] == "o"] == [("o", "k"), ("o", "C1"), ("o", "C2")]  # the dots' own colours
    for bad in ([1.0], [1, 2, 3]):
        with pytest.raises(ValueError, match="values needs at least 2|x must lie between 0 and 2"):
            viz.plot_tent_sum(bad, x=3 if len(bad) == 3 else None)


@pytest.mark.parametrize("kernel_size, stride", [(4, 2), (5, 3), (5, 2), (6, 4), (1, 3)])
def test_phase_bars_stack_to_a_scattered_row_of_ones(kernel_size, stride):
    fig = viz.plot_phases([(kernel_size, stride)], inputs=4)
    ax = fig.axes[0]
    tops = {}
    for bar in ax.patches:  # each bar: one tap of one input pixel, stacked on the taps below it
        o = round(bar.get_x() + bar.get_width() / 2)
        tops[o] = max(tops.get(o, 0.0), bar.get_y() + bar.get_height())
    taps = fcnlib.bilinear_kernel(1, 1, kernel_size)[0, 0].diagonal().sqrt()
    row = F.conv_transpose1d(torch.ones(1, 1, 4), taps[None, None], stride=stride)[0, 0]
    drawn = torch.tensor([tops.get(o, 0.0) for o in range(row.numel())], dtype=row.dtype)
    torch.testing.assert_close(drawn, row)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert len(labels) == stride + 1 and labels[-1] == "1: the input's value (flat and as bright)"
    texts = [t.get_text() for t in ax.texts]  # taps of 0.2 or more, two decimals, where up to 16 bars leave room
    expected = [f"{w + 1e-9:.2f}".rstrip("0").rstrip(".") for w in taps.tolist() if w >= 0.2] * 4
    assert sorted(texts) == (sorted(expected) if row.numel() <= 16 else [])


def test_phase_legend_and_bar_labels_by_hand():
    ax = viz.plot_phases([(5, 2)]).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["phase 0: 0.333 + 1 + 0.333 = 1.67", "phase 1: 0.667 + 0.667 = 1.33"]
    assert sorted({t.get_text() for t in ax.texts}) == ["0.33", "0.67", "1"]  # 1/3, 2/3 and 1, rounded half up
    assert all(t.get_path_effects() for t in ax.texts)  # outlined: the dotted line at 1 never crosses the digits
    assert {t.get_text() for t in viz.plot_phases([(8, 2)]).axes[0].texts} == {"0.38", "0.63", "0.88"}  # 3/8 ...
    with pytest.raises(ValueError, match="stride"):
        viz.plot_phases([(4, 0)])


def test_signed_difference_shows_the_sign_and_checks_shapes():
    a, b = torch.zeros(3, 50, 60), torch.zeros(3, 50, 60)
    a[:, 0, :] = -0.3  # a darker on the top row
    a[:, 5, 5] = 0.6
    fig = viz.plot_signed_difference(a, b, size=40, names=("x", "y"))
    image = fig.axes[0].get_images()[0]
    shown = image.get_array()
    assert shown.shape == (40, 40) and shown[0, 3] == pytest.approx(-0.3) and shown[5, 5] == pytest.approx(0.6)
    assert image.get_clim() == pytest.approx((-0.6, 0.6))  # symmetric: white is 0
    assert fig.axes[1].get_ylabel() == "x - y\n(mean over channels)"
    with pytest.raises(ValueError, match="one shape"):
        viz.plot_signed_difference(a, b[:, :10])


def test_value_grids_label_every_pixel_and_check_titles():
    fig = viz.plot_value_grids([torch.tensor([[1.0, 2.5, 4.625, 1.8125]]), torch.eye(3)], ["a", "b"])
    texts = [[t.get_text() for t in ax.texts] for ax in fig.axes]
    assert texts[0] == ["1", "2.5", "4.625", "1.8125"] and len(texts[1]) == 9  # exact, not rounded half to even
    with pytest.raises(ValueError, match="one title per grid"):
        viz.plot_value_grids([torch.eye(2)], ["a", "b"])
    with pytest.raises(ValueError, match="2-D"):
        viz.plot_value_grids([torch.ones(2, 2, 2)], ["a"])


def test_tent_profile_legend_names_the_centre_the_tent_peaks_at():
    ax = viz.plot_kernel_profile(4).axes[0]
    tent = next(line for line in ax.get_lines() if line.get_label() == "tent 1 - |x - center|/f")
    t, height = tent.get_data()
    assert t[np.argmax(height)] == pytest.approx(1.5, abs=0.02)  # k=4: center = 2 - 0.5, between taps 1 and 2


def test_side_by_side_outlines_boxes_around_the_given_pixels():
    image = torch.zeros(3, 20, 30)
    fig = viz.show_images_side_by_side([image, image], ["a", "b"], boxes=[None, (2, 5, 4, 6)])
    assert len(fig.axes[0].patches) == 0
    (box,) = fig.axes[1].patches  # rows 2..5 and columns 5..10: edges half a pixel outside their centres
    assert (box.get_x(), box.get_y(), box.get_width(), box.get_height()) == (4.5, 1.5, 6, 4)
    with pytest.raises(ValueError, match="1 boxes for 2 images"):
        viz.show_images_side_by_side([image, image], boxes=[(0, 0, 1, 1)])
