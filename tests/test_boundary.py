"""Boundary bands and boundary mIoU (fcnlib.boundary) against a brute-force distance computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from fcnlib.metrics import boundary_band, restrict_to_band
from fcnlib.training import boundary_miou, evaluate_with_boundary

VOID = 255


def brute_force_band(labels: np.ndarray, width: int, void_is_edge: bool = True) -> np.ndarray:
    """Pixel p is in the band iff some pixel q with chessboard distance <= width has another label.

    Computed from the full matrix of pairwise distances between pixels: no pooling, no windows.
    """
    h, w = labels.shape
    yy, xx = np.mgrid[0:h, 0:w]
    ys, xs, lab = yy.ravel(), xx.ravel(), labels.ravel()
    dist = np.maximum(np.abs(ys[:, None] - ys[None, :]), np.abs(xs[:, None] - xs[None, :]))
    differs = lab[:, None] != lab[None, :]
    if not void_is_edge:
        differs &= lab[None, :] != VOID
    band = ((dist <= width) & differs).any(axis=1) & (lab != VOID)
    return band.reshape(h, w)


def random_label_map(rng: np.random.Generator, h: int, w: int, num_classes: int = 4, void: float = 0.05) -> np.ndarray:
    """Blocky regions (like objects) with some void pixels sprinkled in."""
    coarse = rng.integers(0, num_classes, size=(h // 4 + 1, w // 4 + 1))
    labels = np.kron(coarse, np.ones((4, 4), dtype=np.int64))[:h, :w]
    labels[rng.random((h, w)) < void] = VOID
    return labels


@pytest.mark.parametrize("width", [1, 2, 3, 5])
@pytest.mark.parametrize("void_is_edge", [True, False])
def test_band_matches_brute_force(width: int, void_is_edge: bool) -> None:
    rng = np.random.default_rng(width + 10 * void_is_edge)
    for h, w in [(17, 23), (20, 20), (9, 31)]:
        labels = random_label_map(rng, h, w)
        got = boundary_band(torch.from_numpy(labels), width, void_is_edge=void_is_edge).numpy()
        np.testing.assert_array_equal(got, brute_force_band(labels, width, void_is_edge))


def test_band_batch_and_dtypes() -> None:
    rng = np.random.default_rng(0)
    batch = np.stack([random_label_map(rng, 16, 24) for _ in range(3)])
    expected = np.stack([brute_force_band(b, 2) for b in batch])
    for dtype in (torch.int64, torch.int32, torch.uint8):
        got = boundary_band(torch.from_numpy(batch).to(dtype), 2)
        assert got.dtype == torch.bool and got.shape == (3, 16, 24)
        np.testing.assert_array_equal(got.numpy(), expected)


def test_band_hand_example() -> None:
    # Two classes meet between columns 2 and 3: width 1 marks columns 2 and 3, width 2 columns 1..4.
    lab = torch.tensor([[0, 0, 0, 1, 1, 1]] * 3)
    assert boundary_band(lab, 1)[0].int().tolist() == [0, 0, 1, 1, 0, 0]
    assert boundary_band(lab, 2)[0].int().tolist() == [0, 1, 1, 1, 1, 0]
    # One class everywhere: no edge, no band, whatever the width.
    assert not boundary_band(torch.zeros(8, 8, dtype=torch.long), 3).any()


def test_void_outline_is_an_edge_only_when_asked() -> None:
    # A square of class 1 inside class 0, separated by a void outline 2 pixels wide (as VOC draws them).
    lab = torch.zeros(16, 16, dtype=torch.long)
    lab[4:12, 4:12] = VOID
    lab[6:10, 6:10] = 1
    with_void = boundary_band(lab, 1, void_is_edge=True)
    without = boundary_band(lab, 1, void_is_edge=False)
    assert not with_void[lab == VOID].any() and not without[lab == VOID].any()
    assert with_void[6, 6] and with_void[3, 8]  # next to the outline on both sides
    assert not without.any()  # the two real labels are 3 pixels apart, more than width 1
    assert boundary_band(lab, 3, void_is_edge=False)[6, 6]


def test_restrict_to_band() -> None:
    rng = np.random.default_rng(3)
    labels = random_label_map(rng, 12, 20)
    got = restrict_to_band(torch.from_numpy(labels), 2).numpy()
    expected = np.where(brute_force_band(labels, 2), labels, VOID)
    np.testing.assert_array_equal(got, expected)


class FixedPredictor(nn.Module):
    """A 'net' that returns one-hot scores of fixed predictions, batch after batch."""

    def __init__(self, preds: list, num_classes: int) -> None:
        super().__init__()
        self.preds = list(preds)
        self.num_classes = num_classes
        self.dummy = nn.Parameter(torch.zeros(()))
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pred = self.preds[self.calls]
        self.calls += 1
        return torch.nn.functional.one_hot(pred, self.num_classes).permute(0, 3, 1, 2).float()


def reference_miou(preds: list, targets: list, width: int, num_classes: int) -> tuple:
    """IoU per class on the brute-force band, by counting with numpy; NaN-free mean over classes present."""
    inter = np.zeros(num_classes)
    union = np.zeros(num_classes)
    correct = total = 0
    for pred, target in zip(preds, targets):
        for p, t in zip(pred.numpy(), target.numpy()):
            band = brute_force_band(t, width)
            p, t = p[band], t[band]
            correct += int((p == t).sum())
            total += t.size
            for c in range(num_classes):
                inter[c] += np.sum((p == c) & (t == c))
                union[c] += np.sum((p == c) | (t == c))
    iou = inter[union > 0] / union[union > 0]
    return float(iou.mean()), correct / total, total


def test_boundary_miou_against_counting() -> None:
    rng = np.random.default_rng(7)
    num_classes = 4
    targets = [
        torch.from_numpy(np.stack([random_label_map(rng, 16, 16, num_classes) for _ in range(2)])) for _ in range(3)
    ]
    # Predictions: the target, blurred at the edges by a shifted copy, plus noise.
    preds = []
    for t in targets:
        p = torch.roll(t, shifts=1, dims=2).clone()
        p[p == VOID] = 0
        noise = torch.from_numpy(rng.random(p.shape) < 0.1)
        p[noise] = torch.from_numpy(rng.integers(0, num_classes, p.shape))[noise]
        preds.append(p)
    data = [(torch.zeros(t.shape[0], 3, 16, 16), t) for t in targets]
    miou, acc, total = reference_miou(preds, targets, 2, num_classes)
    result = boundary_miou(FixedPredictor(preds, num_classes), data, width=2)
    assert result["miou"] == pytest.approx(miou, abs=1e-12)
    assert result["pixel_acc"] == pytest.approx(acc, abs=1e-12)
    assert result["pixels"] == total


def test_evaluate_with_boundary_all_pixels_and_training_mode() -> None:
    rng = np.random.default_rng(1)
    targets = [torch.from_numpy(np.stack([random_label_map(rng, 8, 8, 3) for _ in range(2)]))]
    preds = [torch.where(targets[0] == VOID, 0, targets[0])]
    net = FixedPredictor(preds, 3)
    net.train()
    result = evaluate_with_boundary(net, [(torch.zeros(2, 3, 8, 8), targets[0])], widths=(1, 2))
    assert set(result) == {"all", "band1", "band2"}
    assert result["all"]["miou"] == pytest.approx(1.0) and result["band2"]["pixel_acc"] == pytest.approx(1.0)
    assert result["all"]["pixels"] == int((targets[0] != VOID).sum())
    assert result["band1"]["pixels"] <= result["band2"]["pixels"] <= result["all"]["pixels"]
    assert net.training  # put back in the mode it was in


@pytest.mark.parametrize(
    "labels, width, error",
    [
        (torch.zeros(4, 4), 1, TypeError),  # float labels
        (torch.zeros(4, 4, dtype=torch.bool), 1, TypeError),
        (np.zeros((4, 4), dtype=np.int64), 1, TypeError),  # not a tensor
        (torch.zeros(1, 1, 4, 4, dtype=torch.long), 1, ValueError),  # 4-D
        (torch.zeros(4, 4, dtype=torch.long), 0, ValueError),
        (torch.zeros(4, 4, dtype=torch.long), 1.5, TypeError),
    ],
)
def test_band_bad_input(labels, width, error) -> None:
    with pytest.raises(error):
        boundary_band(labels, width)


def test_evaluate_with_boundary_bad_input() -> None:
    net = FixedPredictor([], 3)
    with pytest.raises(ValueError, match="no batches"):
        evaluate_with_boundary(net, [], widths=(1,))
    with pytest.raises(ValueError, match="width"):
        evaluate_with_boundary(net, [], widths=(0,))
