"""Chapter 0's figures (fcnlib.viz): what each draws, checked against independent counts (torchmetrics' IoU,
torchvision's boxes) and against the rules for a readable figure (legends for every colour, colour bars)."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest
import torch
import torchvision
from matplotlib.patches import Rectangle
from torchmetrics.functional.classification import binary_jaccard_index

from fcnlib import viz
from fcnlib.data import VOID_COLOR, two_person_scene

matplotlib.use("Agg")


def _legend_labels(ax_or_fig) -> list[str]:
    legends = [ax_or_fig.get_legend()] if hasattr(ax_or_fig, "get_legend") else ax_or_fig.legends
    return [t.get_text() for legend in legends if legend is not None for t in legend.get_texts()]


def test_mask_overlap_counts_and_iou_match_torchmetrics():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.rand(30, 40, generator=gen) > 0.5, torch.rand(30, 40, generator=gen) > 0.3
    fig = viz.show_mask_overlap(a, b, ("dark", "people"))
    both, union = int((a & b).sum()), int((a | b).sum())
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0] == "A: dark" and titles[1] == "B: people"
    assert f"{both:,} px" in titles[2] and f"{union:,} px" in titles[3]
    iou = float(binary_jaccard_index(a.long().flatten(), b.long().flatten()))
    assert fig._suptitle.get_text().endswith(f"= {iou:.2f}")
    union_picture = fig.axes[3].get_images()[0].get_array()
    assert (union_picture[~(a | b).numpy()] == 1).all()  # white outside the union, coloured inside
    assert not (union_picture[(a | b).numpy()] == 1).all(axis=-1).any()
    assert _legend_labels(fig) == ["in the mask", "in both", "only in A", "only in B", "outside"]


def test_mask_overlap_refuses_masks_of_two_sizes_or_two_empty_masks():
    with pytest.raises(ValueError, match="one size"):
        viz.show_mask_overlap(torch.ones(3, 4, dtype=torch.bool), torch.ones(4, 3, dtype=torch.bool))
    with pytest.raises(ValueError, match="not both empty"):
        viz.show_mask_overlap(torch.zeros(3, 4, dtype=torch.bool), torch.zeros(3, 4, dtype=torch.bool))


def test_label_and_scores_name_every_colour_and_put_a_bar_on_the_scores():
    label = torch.zeros(20, 30, dtype=torch.long)
    label[5:15, 10:20] = 15
    scores = torch.randn(20, 30)
    fig = viz.show_label_and_scores(label, scores, "person")
    assert _legend_labels(fig.axes[0]) == ["background", "person"]
    assert [ax.get_title() for ax in fig.axes[:2]] == ["label map", "person"]
    fig = viz.show_label_and_scores(label, scores, label_title="hand label")
    assert fig.axes[0].get_title() == "hand label"
    assert len(fig.axes) == 3 and fig.axes[2].get_ylabel() == "score"  # the colour bar
    label[5, 10:20] = 255
    fig = viz.show_label_and_scores(label, scores)
    assert _legend_labels(fig.axes[0])[-1] == "void (255)"
    drawn = fig.axes[0].get_images()[0].get_array()
    assert tuple(drawn[5, 12]) == tuple(VOID_COLOR)
    with pytest.raises(ValueError, match="must match"):
        viz.show_label_and_scores(label, scores[:10])


def test_tasks_draw_one_box_per_object_where_torchvision_puts_it():
    scene, instances = two_person_scene()
    boxes = torchvision.ops.masks_to_boxes(torch.stack([instances == 1, instances == 2]))
    fig = viz.show_tasks(scene, instances, boxes, 15)
    drawn = [p for p in fig.axes[1].patches if isinstance(p, Rectangle)]
    assert len(drawn) == 2
    for patch, (x1, y1, x2, y2) in zip(drawn, boxes.tolist()):  # 1.5 pixels inside the box's outer edge
        assert (patch.get_x(), patch.get_y()) == (x1 - 0.5 + 1.5, y1 - 0.5 + 1.5)
        assert (patch.get_width(), patch.get_height()) == (x2 - x1 + 1 - 3, y2 - y1 + 1 - 3)
    (left, right) = drawn if boxes[0, 0] < boxes[1, 0] else drawn[::-1]
    assert left.get_x() + left.get_width() < right.get_x()  # the two people's boxes touch; their outlines do not
    assert _legend_labels(fig.axes[1]) == ["box of person 1", "box of person 2"]
    assert _legend_labels(fig.axes[2]) == ["person", "background (unpainted)"]
    assert _legend_labels(fig.axes[3]) == ["person 1", "person 2", "background (unpainted)"]
    with pytest.raises(ValueError, match="one box per object"):
        viz.show_tasks(scene, instances, boxes[:1], 15)


def test_history_draws_every_method_once_with_readable_labels():
    classic = {"threshold": [("Otsu", 1979)], "edges": [("Canny", 1986)]}
    deep = {"a": [("X", 2014.5), ("Y", 2016.0)], "b": [("Z", 2015.25)]}
    fig = viz.plot_segmentation_history(classic, deep)
    left, right = fig.axes
    assert [t.get_text() for t in left.texts] == ["Otsu", "Canny"]
    assert [t.get_text() for t in right.texts] == ["X", "Y", "Z"]
    assert all(t.get_fontsize() >= 9 for ax in fig.axes for t in ax.texts)
    assert [t.get_text() for t in right.get_xticklabels()] == ["Jan 2015", "Jan 2016"]
    assert [(line.get_xdata()[0], line.get_ydata()[0]) for line in right.lines] == [
        (2014.5, 0),
        (2016.0, 0),
        (2015.25, 1),
    ]
    assert np.allclose(left.get_xticks() % 1, 0)  # whole years
    full = viz.plot_segmentation_history()
    assert len(full.axes[1].texts) == sum(len(papers) for papers in viz.DEEP_METHODS.values())
