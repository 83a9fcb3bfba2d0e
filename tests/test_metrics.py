"""fcnlib.metrics against hand-computed confusion matrices and against torchmetrics."""

import math

import pytest
import torch
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassJaccardIndex,
)

from fcnlib.metrics import ConfusionMatrix, metrics_from_confusion

# Every device here: the GPU path (scatter_add_, deferred label check) runs where there is one.
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def test_hand_computed_example():
    # 3 classes; targets (rows) vs predictions (columns), 255 ignored.
    target = torch.tensor([[0, 0, 0, 1], [1, 1, 2, 255]])
    pred = torch.tensor([[0, 0, 1, 1], [1, 2, 2, 0]])
    cm = ConfusionMatrix(3)
    cm.update(pred, target)
    # class 0: 3 pixels, 2 right, 1 taken for 1; class 1: 3 pixels, 2 right, 1 taken for 2; class 2: 1 right.
    assert cm.mat.tolist() == [[2, 1, 0], [0, 2, 1], [0, 0, 1]]
    m = cm.compute()
    assert m["pixel_acc"] == pytest.approx(5 / 7)
    assert m["mean_acc"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    # IoU: class 0 2/(3+2-2)=2/3, class 1 2/(3+3-2)=1/2, class 2 1/(1+2-1)=1/2
    assert m["iou"].tolist() == pytest.approx([2 / 3, 1 / 2, 1 / 2])
    assert m["miou"] == pytest.approx((2 / 3 + 1 / 2 + 1 / 2) / 3)
    assert m["fw_iou"] == pytest.approx((3 * 2 / 3 + 3 * 1 / 2 + 1 * 1 / 2) / 7)


def test_absent_classes_nan_versus_zero():
    # 4 classes: class 2 is predicted but never true (IoU 0, no accuracy); class 3 occurs nowhere (NaN).
    target = torch.tensor([0, 0, 1, 1])
    pred = torch.tensor([0, 2, 1, 1])
    m = ConfusionMatrix(4)
    m.update(pred, target)
    r = m.compute()
    iou = r["iou"].tolist()
    assert iou[0] == pytest.approx(0.5) and iou[1] == pytest.approx(1.0) and iou[2] == 0.0
    assert math.isnan(iou[3])
    assert r["miou"] == pytest.approx((0.5 + 1.0 + 0.0) / 3)  # NaN class left out, IoU-0 class counted
    assert r["mean_acc"] == pytest.approx((0.5 + 1.0) / 2)  # only classes present in the target
    assert math.isnan(r["acc"][2]) and math.isnan(r["acc"][3])
    assert r["fw_iou"] == pytest.approx((2 * 0.5 + 2 * 1.0) / 4)


@pytest.mark.parametrize("device", DEVICES)
def test_matches_torchmetrics_over_batches(device):
    g = torch.Generator().manual_seed(0)
    c = 6
    cm = ConfusionMatrix(c)
    tm_conf = MulticlassConfusionMatrix(c, ignore_index=255)
    tm_iou = MulticlassJaccardIndex(c, ignore_index=255, average="none")
    tm_miou = MulticlassJaccardIndex(c, ignore_index=255, average="macro")
    tm_fw = MulticlassJaccardIndex(c, ignore_index=255, average="weighted")
    tm_pa = MulticlassAccuracy(c, ignore_index=255, average="micro")
    tm_ma = MulticlassAccuracy(c, ignore_index=255, average="macro")
    for _ in range(3):
        target = torch.randint(0, c, (2, 9, 11), generator=g)
        target[torch.rand(target.shape, generator=g) < 0.1] = 255
        # predictions right 60% of the time, so the matrix has a real diagonal
        noise = torch.randint(0, c, target.shape, generator=g)
        pred = torch.where(torch.rand(target.shape, generator=g) < 0.6, target.clamp(max=c - 1), noise)
        cm.update(pred.to(device), target.to(device))
        for metric in (tm_conf, tm_iou, tm_miou, tm_fw, tm_pa, tm_ma):
            metric.update(pred.flatten(), target.flatten())
    assert cm.mat.device.type == torch.device(device).type
    assert torch.equal(cm.mat.cpu(), tm_conf.compute().long())
    r = cm.compute()
    assert r["iou"].float().tolist() == pytest.approx(tm_iou.compute().tolist(), abs=1e-6)
    assert r["miou"] == pytest.approx(tm_miou.compute().item(), abs=1e-6)
    assert r["fw_iou"] == pytest.approx(tm_fw.compute().item(), abs=1e-6)
    assert r["pixel_acc"] == pytest.approx(tm_pa.compute().item(), abs=1e-6)
    assert r["mean_acc"] == pytest.approx(tm_ma.compute().item(), abs=1e-6)


def test_class_absent_from_both_matches_torchmetrics_macro():
    # torchmetrics' macro IoU also drops classes that occur neither in target nor prediction.
    target = torch.tensor([0, 1, 1, 0, 255, 1])
    pred = torch.tensor([0, 1, 0, 0, 2, 1])  # the 2 sits on an ignored pixel: class 2 occurs nowhere
    cm = ConfusionMatrix(3)
    cm.update(pred, target)
    expected = MulticlassJaccardIndex(3, ignore_index=255, average="macro")(pred, target).item()
    assert cm.compute()["miou"] == pytest.approx(expected, abs=1e-6)
    assert math.isnan(cm.compute()["iou"][2])


def test_scores_are_argmaxed_and_reset():
    scores = torch.randn(2, 4, 5, 5, generator=torch.Generator().manual_seed(1))
    target = torch.randint(0, 4, (2, 5, 5), generator=torch.Generator().manual_seed(2))
    a, b = ConfusionMatrix(4), ConfusionMatrix(4)
    a.update(scores, target)
    b.update(scores.argmax(1), target)
    assert torch.equal(a.mat, b.mat)
    a.reset()
    assert a.mat.sum() == 0
    with pytest.raises(RuntimeError, match="before any update"):
        a.compute()


def test_all_pixels_ignored_gives_nan():
    cm = ConfusionMatrix(3)
    cm.update(torch.tensor([0, 1]), torch.tensor([255, 255]))
    r = cm.compute()
    assert math.isnan(r["pixel_acc"]) and math.isnan(r["miou"])


def test_metrics_from_confusion_matches_update():
    mat = torch.tensor([[5, 1], [2, 4]])
    r = metrics_from_confusion(mat)
    assert r["pixel_acc"] == pytest.approx(9 / 12)
    assert r["iou"].tolist() == pytest.approx([5 / 8, 4 / 7])
    with pytest.raises(ValueError, match="square"):
        metrics_from_confusion(torch.zeros(2, 3))


@pytest.mark.parametrize("device", DEVICES)
def test_labels_out_of_range_are_reported(device):
    cm = ConfusionMatrix(3)
    target = torch.tensor([0, 1, 7, 255], device=device)
    pred = torch.tensor([0, 1, 2, 0], device=device)
    with pytest.raises(ValueError, match=r"outside 0\.\.2"):
        cm.update(pred, target)  # on the CPU at once
        cm.compute()  # on a GPU when the counts are read


@pytest.mark.parametrize("device", DEVICES)
def test_predictions_out_of_range_are_reported_as_predictions(device):
    """A prediction of 255 (or 3 of 3 classes) is not a bad label: the message says so, on every device."""
    cm = ConfusionMatrix(3)
    target = torch.tensor([0, 1, 2, 1], device=device)
    pred = torch.tensor([0, 255, 3, 1], device=device)
    with pytest.raises(ValueError, match=r"2 predictions are (\[3, 255\] )?outside the classes 0\.\.2") as info:
        cm.update(pred, target)
        cm.compute()
    assert "labels" not in str(info.value).split(":")[0] and "values []" not in str(info.value)
    cm = ConfusionMatrix(3)  # bad labels and bad predictions together: the labels come first
    with pytest.raises(ValueError, match=r"1 pixels have labels outside 0\.\.2.*(values \[7\])?"):
        cm.update(torch.tensor([0, 9, 1], device=device), torch.tensor([0, 1, 7], device=device))
        cm.compute()


def test_ignore_index_advice_works_for_more_than_255_classes():
    with pytest.raises(ValueError, match=r"ignore_index=255 is a class label 0\.\.299; use 300 or -1"):
        ConfusionMatrix(300, ignore_index=255)
    with pytest.raises(ValueError, match=r"use 255 \(VOC's\) or None"):
        ConfusionMatrix(21, ignore_index=3)
    for ignore in (300, -1):  # the advice, followed: that value is ignored, 255 is a class
        cm = ConfusionMatrix(300, ignore_index=ignore)
        cm.update(torch.tensor([255, 255, 4, 0]), torch.tensor([255, ignore, 4, 255]))
        assert cm.mat.sum() == 3 and cm.mat[255, 255] == 1 and cm.mat[4, 4] == 1 and cm.mat[255, 0] == 1


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_classes must be an int >= 1"):
        ConfusionMatrix(0)
    with pytest.raises(ValueError, match="ignore_index=1"):
        ConfusionMatrix(3, ignore_index=1)
    cm = ConfusionMatrix(3)
    with pytest.raises(ValueError, match="same shape"):
        cm.update(torch.zeros(2, 3, dtype=torch.long), torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(TypeError, match="integer labels"):
        cm.update(torch.zeros(2, dtype=torch.long), torch.zeros(2))
    with pytest.raises(ValueError, match="class scores"):
        cm.update(torch.zeros(2, 5, 4), torch.zeros(2, 4, dtype=torch.long))


def test_no_ignore_index():
    cm = ConfusionMatrix(2, ignore_index=None)
    cm.update(torch.tensor([0, 1, 1]), torch.tensor([0, 1, 0]))
    assert cm.mat.tolist() == [[1, 1], [0, 1]]


def _all_reduce_rank(rank, folder):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=2)
    try:
        cm = ConfusionMatrix(3)
        if rank == 0:  # rank 1 counts nothing: its zeros still meet rank 0's counts
            cm.update(torch.tensor([0, 1, 2, 2]), torch.tensor([0, 1, 1, 255]))
        torch.save(cm.all_reduce().mat, folder / f"mat{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_all_reduce_sums_the_counts_of_every_process(tmp_path):
    import torch.multiprocessing as mp

    cm = ConfusionMatrix(3)
    cm.update(torch.tensor([0, 2]), torch.tensor([0, 1]))
    assert cm.all_reduce() is cm and cm.mat.tolist() == [[1, 0, 0], [0, 0, 1], [0, 0, 0]]  # one process: no-op
    mp.spawn(_all_reduce_rank, args=(tmp_path,), nprocs=2, join=True)
    expected = [[1, 0, 0], [0, 1, 1], [0, 0, 0]]  # by hand from rank 0's batch (255 ignored)
    for rank in range(2):
        assert torch.load(tmp_path / f"mat{rank}.pt").tolist() == expected
