"""What chapter 4 shows of a training run: the predictions recorded after every epoch (a reporter handed to
fcnlib.train), the explorer over them, and the confusion matrix as a heat map. Each is checked against values
computed here another way (the net's own argmax, counts by hand, the colours of the class table)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from torch import nn

import fcnlib
from fcnlib import widgets as W
from fcnlib.experiments import PredictionRecorder
from fcnlib.viz import plot_confusion_matrix

COLORS = [[0, 0, 0], [200, 0, 0], [0, 200, 0]]


class _PixelNet(nn.Module):
    """Per-pixel class scores (a 1x1 convolution) and a BatchNorm, so eval and train mode differ."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.bn = nn.BatchNorm2d(3)
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        return self.conv(self.bn(x))


def _batches(n=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 3, 8, 10, generator=g)
    y = (X[:, 0] > 0).long() + (X[:, 1] > 1).long()  # classes 0..2, learnable from the pixel itself
    y[:, 0] = 255  # a void row
    return [(X[:2], y[:2]), (X[2:], y[2:])]


def test_recorder_keeps_the_nets_argmax_before_training_and_after_every_epoch():
    net, batches = _PixelNet(), _batches()
    images, targets = batches[0][0], batches[0][1]
    recorder = PredictionRecorder(net, images)
    seen = []  # the net's own argmax in eval mode, taken by a second reporter after the recorder's
    probe = type("Probe", (), {"on_epoch_end": lambda self, h: seen.append(_argmax(net, images))})()
    trainer = torch.optim.SGD(net.parameters(), lr=0.5)
    fcnlib.train(net, batches, None, None, trainer, 2, "cpu", progress=False, reporter=[recorder, probe])
    assert recorder.epochs == [0, 1, 2]
    assert all(p.shape == targets.shape and p.dtype == torch.int64 for p in recorder.predictions)
    assert torch.equal(recorder.predictions[1], seen[0]) and torch.equal(recorder.predictions[2], seen[1])
    assert not torch.equal(recorder.predictions[0], recorder.predictions[2])  # training changed something
    assert net.training  # its mode is given back


def _argmax(net, images):
    was = net.training
    net.eval()
    with torch.no_grad():
        out = net(images).argmax(1)
    net.train(was)
    return out


def test_recorder_refuses_images_it_cannot_feed_and_resumes_without_a_duplicate():
    net = _PixelNet()
    with pytest.raises(ValueError, match=r"\[K, 3, H, W\]"):
        PredictionRecorder(net, torch.zeros(3, 8, 8))
    with pytest.raises(ValueError, match="normalised floats"):
        PredictionRecorder(net, torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    recorder = PredictionRecorder(net, torch.zeros(1, 3, 8, 8))
    recorder.on_train_begin(3, 2, [{}])  # resumed after one epoch
    recorder.on_train_begin(3, 2, [{}])
    assert recorder.epochs == [1]


def _record():
    targets = torch.zeros(2, 4, 6, dtype=torch.long)
    targets[:, :, 3:] = 1
    targets[0, 0] = 255  # 6 void pixels: 42 labelled
    before = torch.full_like(targets, 2)  # nothing right
    after = targets.clone()
    after[after == 255] = 0
    after[1, 3] = 2  # 6 wrong pixels of 42 labelled
    images = torch.rand(2, 3, 4, 6)
    return dict(epochs=[0, 1], predictions=[before, after], images=images, targets=targets)


def test_epoch_view_scores_and_draws_the_chosen_epoch():
    record, before = _record(), plt.get_fignums()
    view = W.epoch_view(1, **record, classes=["bg", "a", "b"], colormap=COLORS)
    assert view.ok, view.text
    assert view.numbers["pixel_acc"] == pytest.approx([0.0, 36 / 42])
    assert view.numbers["changed"] == pytest.approx(42 / 48)  # all but the 6 pixels still called class 2
    assert "after epoch 1: 85.7%" in view.lines[0] and "since before training" in view.lines[0]
    assert view.lines[1] == "share right by epoch: 0: 0.0%, 1: 85.7%"
    assert view.lines[2] == "mostly missed (under half of its pixels right): none"
    missed = W.epoch_view(0, **record, classes=["bg", "a", "b"]).lines[2]  # class 2 everywhere: bg and a missed
    assert missed.endswith(
        "image 1: bg (0% right); image 1: a (0% right); image 2: bg (0% right); image 2: a (0% right)"
    )
    axes = view.figure.axes  # rows: image, before training, after epoch 1, ground truth; 2 images each
    assert [ax.get_ylabel() for ax in axes[::2]] == ["image", "before training", "after epoch 1", "ground truth"]
    drawn = np.asarray(axes[4].images[0].get_array())  # the first image's prediction after epoch 1
    assert np.array_equal(drawn, np.asarray(COLORS, dtype=np.uint8)[record["predictions"][1][0].numpy()])
    legend = [t.get_text() for legend in view.figure.legends for t in legend.get_texts()]
    assert legend == ["bg", "a", "b", "void"]
    assert len(W.epoch_view(0, **record).figure.axes) == 6  # before training: no second prediction row
    assert plt.get_fignums() == before  # the view leaves no open pyplot figure behind


def test_epoch_view_states_impossible_settings():
    record = _record()
    view = W.epoch_view(5, **record)
    assert not view.ok and "recorded epochs [0, 1]" in view.text
    record["predictions"] = record["predictions"][:1]
    assert not W.epoch_view(0, **record).ok


def test_epoch_explorer_starts_at_the_last_epoch_and_redraws():
    record = _record()
    recorder = PredictionRecorder(_PixelNet(), record["images"])
    recorder.epochs, recorder.predictions = record["epochs"], record["predictions"]
    e = W.epoch_explorer(recorder, record["targets"], colormap=COLORS)
    assert e.controls["epoch"].value == 1 and e.controls["epoch"].max == 1 and e.png is not None
    png = e.png
    e.controls["epoch"].value = 0
    assert e.view.numbers["pixel_acc"][0] == 0 and "before training: 0.0%" in e.info.value and e.png != png
    with pytest.raises(ValueError, match="reporter=recorder"):
        W.epoch_explorer(PredictionRecorder(_PixelNet(), record["images"]), record["targets"])


def test_plot_confusion_matrix_draws_each_rows_shares():
    n = torch.tensor([[6, 2, 0], [1, 3, 0], [0, 0, 0]])  # class 2 has no pixels
    fig = plot_confusion_matrix(n, classes=["bg", "a", "b"])
    ax = fig.axes[0]
    shown = np.asarray(ax.images[0].get_array())
    assert shown[0].tolist() == pytest.approx([75, 25, 0]) and shown[1].tolist() == pytest.approx([25, 75, 0])
    assert np.asarray(ax.images[0].get_array().mask)[2].all()  # no pixels: an empty row
    assert sorted(t.get_text() for t in ax.texts) == ["25", "25", "75", "75"]  # non-zero cells only
    assert [t.get_text() for t in ax.get_xticklabels()] == ["bg", "a", "b"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["bg", "a", "b (none)"]
    assert ax.get_xlabel() == "predicted class" and ax.get_ylabel() == "true class"
    assert len(fig.axes) == 2  # the colour bar
    tiny = plot_confusion_matrix(torch.tensor([[999, 1], [0, 5]]), classes=["x", "y"])
    assert sorted(t.get_text() for t in tiny.axes[0].texts) == ["100", "100", "<1"]
    for bad in (torch.zeros(2, 3), torch.tensor([[1, -1], [0, 1]])):
        with pytest.raises(ValueError, match="square|negative"):
            plot_confusion_matrix(bad)
    plt.close("all")


def test_show_void_zoom_frames_the_void_pixel_nearest_the_centre():
    from fcnlib.viz import show_void_zoom

    label = torch.zeros(40, 60, dtype=torch.long)
    label[10:30, 20:40] = 1
    label[10, 20:40] = 255  # a void edge; its pixel nearest the centre (20, 30) is (10, 30)
    label[0, 0] = 255  # far from the centre
    image = torch.rand(3, 40, 60)
    fig = show_void_zoom(
        image, {"mine": label, "other": label.clamp(max=1)}, box=(8, 12), classes=["bg", "a", "b"], colormap=COLORS
    )
    axes = fig.axes  # 2 rows x 3 columns
    frame = axes[1].patches[0]
    assert (frame.get_x(), frame.get_y(), frame.get_width(), frame.get_height()) == (23.5, 5.5, 12, 8)
    zoom = np.asarray(axes[4].images[0].get_array())  # the first label map's zoom: rows 6..13, columns 24..35
    colours = np.asarray(COLORS + [[224, 224, 192]] * 253, dtype=np.uint8)
    assert np.array_equal(zoom, colours[label[6:14, 24:36].numpy()])
    legend = [t.get_text() for legend in fig.legends for t in legend.get_texts()]
    assert legend == ["bg", "a", "void"]
    with pytest.raises(ValueError, match="no void pixel"):
        show_void_zoom(image, {"none": label.clamp(max=1)})
    plt.close("all")
