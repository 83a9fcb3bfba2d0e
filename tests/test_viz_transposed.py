"""The figures chapter 2 added to fcnlib.viz draw what PyTorch computes."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest
import torch
import torch.nn.functional as F

from fcnlib import viz


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _image(ax):
    return torch.as_tensor(ax.images[0].get_array().data).float()


def test_plot_overlaps_draws_pytorchs_tap_counts():
    fig = viz.plot_overlaps(4, [(3, 2), (4, 2)])
    assert len(fig.axes) == 2
    for ax, k in zip(fig.axes, (3, 4), strict=True):
        ref = F.conv_transpose2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, k, k), stride=2)[0, 0]
        assert torch.equal(_image(ax), ref)
    assert fig.axes[0].get_title() == "taps per output pixel: k=3, s=2 -> 9x9"  # by hand: (4 - 1) * 2 + 3 = 9


def test_plot_difference_maps_shares_one_scale_and_marks_columns():
    a, b = torch.zeros(4, 6), torch.arange(24.0).reshape(4, 6)
    fig = viz.plot_difference_maps({"a": a, "b": b}, columns={"b": [2, 4]}, label="mean |difference|")
    maps, bar = fig.axes[:2], fig.axes[2]
    assert [ax.get_title() for ax in maps] == ["a", "b\n(dashed: columns 2, 4)"]
    assert torch.equal(_image(maps[1]), b) and torch.equal(_image(maps[0]), a)
    assert all(ax.images[0].get_clim() == (0.0, 23.0) for ax in maps)  # one scale, from 0 to the largest value
    assert bar.get_ylabel() == "mean |difference|"
    dashed = [line.get_xdata()[0] for line in maps[1].lines]
    assert dashed == [1.5, 3.5] and not maps[0].lines  # a line between columns 1 and 2, and 3 and 4
    assert all(float(t).is_integer() for ax in maps for t in ax.get_xticks())


@pytest.mark.parametrize("maps", [{}, {"a": torch.zeros(2, 3, 4)}])
def test_plot_difference_maps_refuses_what_it_cannot_draw(maps):
    with pytest.raises(ValueError, match="at least one"):
        viz.plot_difference_maps(maps)
