"""What went wrong in a prediction: describe_errors' words from confusion matrices counted by hand, and the error
figures' colours, panels and legends (fcnlib.viz.errors)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

import fcnlib
from fcnlib.metrics import describe_errors
from fcnlib.viz import ERROR_COLORS, error_map, show_disagreement, show_errors

NAMES = ["background", "square", "ring", "star"]


def test_describe_errors_missed_confused_and_invented():
    mat = torch.tensor([[100, 0, 0, 0], [0, 10, 80, 10], [0, 0, 0, 0], [0, 0, 0, 0]])  # rows: truth
    # square: 10 of 100 found, 80 taken for ring (90 pixels wrong); ring: 80 px, star 10 px where none is
    assert describe_errors(mat, NAMES) == (
        "square: 10% found, 80% taken for ring; ring: 80 px predicted, none in the truth; "
        "star: 10 px predicted, none in the truth"
    )
    assert describe_errors(mat, NAMES, limit=1) == "square: 10% found, 80% taken for ring"


def test_describe_errors_spill_counts_the_predicted_region():
    mat = torch.tensor([[80, 20], [0, 50]])  # disc: all 50 found, but 20 of its 70 predicted pixels are background
    assert describe_errors(mat, ["background", "disc"]) == "disc: 29% of its prediction is background"
    assert describe_errors(mat, ["background", "disc"], spill=0.3).startswith("every object class at least 90% found")


def test_describe_errors_from_label_maps_leaves_void_and_specks_out():
    target = torch.zeros(40, 50, dtype=torch.long)
    target[10:30, 10:30] = 1  # a 20x20 square
    target[9, 10:30] = 255  # a void edge
    pred = target.clone()
    pred[9, 10:30] = 2  # void: not scored
    pred[0, 0:3] = 3  # a 3-pixel star speck: 3 < 0.5% of the 1,980 labelled pixels
    cm = fcnlib.ConfusionMatrix(4)
    cm.update(pred, target)
    assert describe_errors(cm.mat, NAMES) == (
        "every object class at least 90% found, none invented, none spilling over by more than 20%"
    )
    pred[10:30, 10:20] = 0  # the left half of the square taken for background
    cm = fcnlib.ConfusionMatrix(4)
    cm.update(pred, target)
    assert describe_errors(cm.mat, NAMES) == "square: 50% found, 50% taken for background"


def test_describe_errors_refuses_what_does_not_match():
    with pytest.raises(ValueError, match="square confusion matrix"):
        describe_errors(torch.zeros(3, 4), NAMES[:3])
    with pytest.raises(ValueError, match="C class names"):
        describe_errors(torch.zeros(3, 3), NAMES)


def test_error_map_colours_right_wrong_and_void():
    target = torch.tensor([[0, 1, 255, 2], [1, 1, 0, 2]])
    pred = torch.tensor([[0, 0, 3, 2], [1, 2, 0, 0]])
    white = torch.full((3, 2, 4), 255, dtype=torch.uint8)
    colours = error_map(white, pred, target)
    sky_blue, red, cream = (110, 200, 255), (255, 40, 40), (224, 224, 192)  # void: VOC's colour 255
    expected = [[sky_blue, red, cream, sky_blue], [sky_blue, red, sky_blue, red]]
    assert colours.dtype == np.uint8 and colours.tolist() == [[list(c) for c in row] for row in expected]
    black = error_map(torch.zeros(3, 2, 4, dtype=torch.uint8), pred, target)  # half as bright; void unshaded
    assert black[0, 0].tolist() == [55, 100, 128] and black[0, 1].tolist() == [128, 20, 20]
    assert black[0, 2].tolist() == list(cream)
    assert ERROR_COLORS == {"right": sky_blue, "wrong": red, "void": cream}
    with pytest.raises(ValueError, match="must be one size"):
        error_map(white, pred[:, :2], target)


def _legend_texts(fig) -> list[str]:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def test_show_errors_draws_a_column_per_image_with_its_error_map():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (2, 3, 8, 12), dtype=torch.uint8)
    targets = torch.randint(0, 3, (2, 8, 12))
    targets[:, 0] = 255
    preds = torch.randint(0, 3, (2, 8, 12))
    fig = show_errors(images, preds, targets, titles=["#5", "#1"], classes=NAMES[:3])
    axes = np.array(fig.axes).reshape(4, 2)
    for c in range(2):
        assert np.array_equal(axes[3][c].images[0].get_array(), error_map(images[c], preds[c], targets[c]))
        assert np.array_equal(axes[1][c].images[0].get_array(), fcnlib.label2image(preds[c]).numpy())
    assert [ax.get_title() for ax in axes[0]] == ["#5", "#1"]
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["image", "prediction", "ground truth", "errors"]
    texts = _legend_texts(fig)
    assert {"background", "square", "ring", "void", "right", "wrong", "void (not scored)"} <= set(texts)
    plt.close(fig)
    with pytest.raises(ValueError, match="one prediction and one target per image"):
        show_errors(images, preds[:1], targets)


def test_show_errors_leaves_classes_too_small_to_see_out_of_the_legend():
    images = torch.zeros(2, 3, 8, 12, dtype=torch.uint8)
    targets, preds = torch.zeros(2, 8, 12, dtype=torch.long), torch.zeros(2, 8, 12, dtype=torch.long)
    targets[0, :4, :4] = 1  # square: 16 px in the truth
    preds[1, 0, :3] = 3  # star: 3 px predicted, nowhere else
    preds[0, 0, :2], targets[1, 0, :2] = 2, 2  # ring: 2 + 2 px, in two different maps
    fig = show_errors(images, preds, targets, classes=NAMES)
    texts = _legend_texts(fig)
    assert "square" in texts and "star" not in texts and "ring" not in texts
    plt.close(fig)
    fig = show_errors(images, preds, targets, classes=NAMES, min_pixels=4)  # ring's 4 px counted across the maps
    assert {"square", "ring"} <= set(_legend_texts(fig)) and "star" not in _legend_texts(fig)
    plt.close(fig)


def test_show_disagreement_marks_where_two_predictions_differ():
    torch.manual_seed(1)
    image = torch.randint(0, 256, (3, 6, 9), dtype=torch.uint8)
    a, b = torch.zeros(6, 9, dtype=torch.long), torch.zeros(6, 9, dtype=torch.long)
    b[2:4, 3:7] = 1  # 8 of 54 pixels differ
    margin, coverage = torch.rand(6, 9) * 5, torch.ones(6, 9, dtype=torch.long)
    coverage[:, 4:] = 2
    fig = show_disagreement(image, {"pad": a, "tile": b}, margin, a, coverage, classes=NAMES[:2])
    differ = fig.axes[5].images[0].get_array()
    assert np.allclose(differ[2, 3], [1.0, 140 / 255, 0.0]) and np.allclose(differ[0, 0], [1.0, 1.0, 1.0])
    assert fig.axes[5].get_title() == "where pad and tile differ (14.8%)"
    assert np.allclose(fig.axes[6].images[0].get_array(), margin.numpy())
    colorbars = [c for ax in fig.axes for c in ax.child_axes if c.get_ylabel() in ("windows", "top score - second")]
    assert len(colorbars) == 2
    windows = next(ax for ax in colorbars if ax.get_ylabel() == "windows")
    assert [t for t in windows.get_yticks() if 0 <= t <= 2] == [0, 1, 2]  # integer ticks
    assert {"background", "square", "pad and tile differ", "they agree"} <= set(_legend_texts(fig))
    plt.close(fig)
    with pytest.raises(ValueError, match="two names"):
        show_disagreement(image, {"pad": a}, margin, a)
    with pytest.raises(ValueError, match="must match"):
        show_disagreement(image, {"pad": a, "tile": b}, margin[:5], a)


def test_a_class_just_under_the_found_share_is_not_printed_at_it():
    mat = torch.zeros(3, 3, dtype=torch.long)
    mat[0, 0], mat[1, 1], mat[1, 0] = 1000, 896, 104  # 89.6% of the disc found: rounding would print 90%
    assert describe_errors(mat, ["background", "disc", "ring"]) == "disc: 89% found, 10% taken for background"
