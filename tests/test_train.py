"""fcnlib.train and fcnlib.evaluate: same meaning as d2l.train_ch13, plus metrics, checkpoints and safety."""

import copy
import importlib
import io
import math
import re
from contextlib import redirect_stdout

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

import fcnlib
from fcnlib.training import History, TrainingDiverged, evaluate, load_checkpoint, per_example_cross_entropy, train

CPU = [torch.device("cpu")]
# The GPU path (mixed precision, channels_last, on-device sums and label checks) runs where there is one.
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
train_module = importlib.import_module("fcnlib.training")


def seed_loss(inputs, targets):
    """d2l's loss, verbatim."""
    return F.cross_entropy(inputs, targets, reduction="none").mean(1).mean(1)


def tiny_net(seed=0, num_classes=3):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.Conv2d(6, num_classes, 1))


def tiny_data(n=40, size=(8, 12), num_classes=3, void=False, seed=0, batch_size=8):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 3, *size, generator=g)
    # a learnable rule: the class is decided by which channel is largest
    y = X.argmax(1).clamp(max=num_classes - 1)
    if void:
        y[:, 0, :] = 255
    return DataLoader(TensorDataset(X, y), batch_size=batch_size, shuffle=False)


def run_quiet(*args, **kwargs):
    kwargs.setdefault("progress", False)
    kwargs.setdefault("plot", False)
    return train(*args, **kwargs)


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad")
def test_same_result_as_d2l_train_ch13():
    # d2l plots 5 times per epoch, so it needs at least 5 batches.
    from d2l import torch as d2l

    train_iter, test_iter = tiny_data(seed=0), tiny_data(n=16, seed=1)
    net_d2l = tiny_net()
    net_ours = copy.deepcopy(net_d2l)
    trainer_d2l = torch.optim.SGD(net_d2l.parameters(), lr=0.01, weight_decay=1e-3)
    trainer_ours = torch.optim.SGD(net_ours.parameters(), lr=0.01, weight_decay=1e-3)
    out = io.StringIO()
    with redirect_stdout(out):
        d2l.train_ch13(net_d2l, train_iter, test_iter, seed_loss, trainer_d2l, 3, CPU)
    # float32 and d2l's memory layout: the same arithmetic, so the same weights
    history = run_quiet(net_ours, train_iter, test_iter, seed_loss, trainer_ours, 3, CPU, channels_last=False)
    for (name, a), b in zip(net_d2l.state_dict().items(), net_ours.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6), name
    loss, train_acc, test_acc = map(
        float, re.search(r"loss ([\d.]+), train acc ([\d.]+), test acc ([\d.]+)", out.getvalue()).groups()
    )
    assert history[-1]["loss"] == pytest.approx(loss, abs=6e-4)
    assert history[-1]["train_acc"] == pytest.approx(train_acc, abs=6e-4)
    assert history[-1]["pixel_acc"] == pytest.approx(test_acc, abs=6e-4)
    assert re.fullmatch(
        r"loss [\d.]+, train acc [\d.]+, test acc [\d.]+, test mIoU [\d.]+\n"
        r"[\d.]+ examples/sec on \[device\(type='cpu'\)\]",
        str(history),
    )


def test_default_loss_is_per_example_mean_over_valid_pixels():
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 4, 5, 6, generator=g)
    labels = torch.randint(0, 4, (3, 5, 6), generator=g)
    assert torch.allclose(per_example_cross_entropy(logits, labels), seed_loss(logits, labels))
    labels[0, :2] = 255
    expected = torch.stack(
        [F.cross_entropy(logits[i].permute(1, 2, 0)[labels[i] != 255], labels[i][labels[i] != 255]) for i in range(3)]
    )
    assert torch.allclose(per_example_cross_entropy(logits, labels), expected)


def test_defaults_are_the_seeds_loss_and_sgd():
    data = tiny_data()
    net_a, net_b = tiny_net(), tiny_net()
    run_quiet(net_a, data, None, None, None, 1, CPU, channels_last=False)
    trainer = torch.optim.SGD(net_b.parameters(), lr=0.001, weight_decay=1e-3)
    run_quiet(net_b, data, None, seed_loss, trainer, 1, CPU, channels_last=False)  # no void labels: same loss
    for a, b in zip(net_a.parameters(), net_b.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_history_and_evaluate_match_torchmetrics():
    train_iter, test_iter = tiny_data(void=True), tiny_data(n=16, seed=1, void=True)
    net = tiny_net()
    history = run_quiet(net, train_iter, test_iter, None, torch.optim.SGD(net.parameters(), lr=0.05), 2, "cpu")
    assert isinstance(history, History) and len(history) == 2
    assert [e["epoch"] for e in history] == [1, 2]
    for key in ("loss", "train_acc", "pixel_acc", "mean_acc", "miou", "fw_iou", "examples_per_sec", "seconds"):
        assert all(math.isfinite(e[key]) for e in history), key
    assert history[0]["examples"] == 40
    net.eval().to(memory_format=torch.contiguous_format)
    with torch.no_grad():
        X, y = zip(*test_iter)
        pred = torch.cat([net(x).argmax(1) for x in X])
    y = torch.cat(y)
    expected_miou = MulticlassJaccardIndex(3, ignore_index=255)(pred, y).item()
    expected_acc = MulticlassAccuracy(3, ignore_index=255, average="micro")(pred, y).item()
    assert history[-1]["miou"] == pytest.approx(expected_miou, abs=1e-6)
    assert history[-1]["pixel_acc"] == pytest.approx(expected_acc, abs=1e-6)
    metrics = evaluate(net, test_iter, channels_last=False)
    assert metrics["miou"] == pytest.approx(expected_miou, abs=1e-6)
    assert history.column("epoch") == [1, 2]


def test_checkpoint_resume_equals_uninterrupted(tmp_path):
    data, path = tiny_data(), tmp_path / "ck.pt"
    straight = tiny_net()
    run_quiet(straight, data, None, None, torch.optim.SGD(straight.parameters(), lr=0.05, momentum=0.9), 4, CPU)

    first = tiny_net()
    run_quiet(
        first, data, None, None, torch.optim.SGD(first.parameters(), lr=0.05, momentum=0.9), 2, CPU, checkpoint=path
    )
    assert path.is_file() and len(load_checkpoint(path, tiny_net())) == 2
    resumed = tiny_net(seed=123)  # different start: the checkpoint must overwrite it
    trainer = torch.optim.SGD(resumed.parameters(), lr=0.05, momentum=0.9)  # momentum state comes from the file
    history = run_quiet(resumed, data, None, None, trainer, 4, CPU, checkpoint=path, resume=True)
    assert [e["epoch"] for e in history] == [1, 2, 3, 4]
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-5)
    assert not list(tmp_path.glob(".*tmp*")), "temporary files left behind"


def test_resume_without_file_starts_afresh_and_needs_a_path(tmp_path):
    history = run_quiet(tiny_net(), tiny_data(), None, None, None, 1, CPU, checkpoint=tmp_path / "new.pt", resume=True)
    assert len(history) == 1
    with pytest.raises(ValueError, match="checkpoint"):
        run_quiet(tiny_net(), tiny_data(), None, None, None, 1, CPU, resume=True)


def test_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ck.pt"
    net = tiny_net()
    run_quiet(net, tiny_data(), None, None, None, 1, CPU, checkpoint=path)
    before = path.read_bytes()

    def failing_save(obj, f, *args, **kwargs):
        if hasattr(f, "write"):  # fcnlib writes a checkpoint into memory first
            f.write(b"half a file")
        else:
            with open(f, "wb") as handle:
                handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr(train_module.torch, "save", failing_save)
    with pytest.raises(OSError, match="disk full"):
        run_quiet(net, tiny_data(), None, None, None, 2, CPU, checkpoint=path, resume=True)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ck.pt"]


class InterruptingLoader:
    """Yields the batches of ``loader``, raising KeyboardInterrupt (the stop button) at batch ``at`` of epoch ``epoch``."""

    def __init__(self, loader, epoch, at):
        self.loader, self.epoch, self.at, self.calls = loader, epoch, at, 0

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        self.calls += 1
        for i, batch in enumerate(self.loader):
            if self.calls == self.epoch and i == self.at:
                raise KeyboardInterrupt
            yield batch


def test_keyboard_interrupt_saves_and_returns_history(tmp_path, capsys):
    path = tmp_path / "ck.pt"
    net = tiny_net()
    history = run_quiet(net, InterruptingLoader(tiny_data(), epoch=2, at=1), None, None, None, 5, CPU, checkpoint=path)
    assert len(history) == 1
    assert "interrupted during epoch 2" in capsys.readouterr().err
    saved = tiny_net(seed=9)
    assert len(load_checkpoint(path, saved)) == 1
    for a, b in zip(net.state_dict().values(), saved.state_dict().values()):
        assert torch.equal(a, b)  # the weights at the moment of the interrupt


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    path = tmp_path / "ck.pt"
    calls = {"n": 0}
    batches_per_epoch = len(tiny_data())

    def loss_that_explodes(out, y):
        calls["n"] += 1
        value = per_example_cross_entropy(out, y)
        return value * float("nan") if calls["n"] > batches_per_epoch else value

    net = tiny_net()
    with pytest.raises(TrainingDiverged, match=r"NaN or infinite in epoch 2.*Lower the learning rate") as info:
        run_quiet(net, tiny_data(), None, loss_that_explodes, None, 3, CPU, checkpoint=path)
    assert len(info.value.history) == 1
    good = tiny_net(seed=5)
    assert len(load_checkpoint(path, good)) == 1
    assert all(torch.isfinite(p).all() for p in good.parameters())


def test_clear_errors_for_bad_input():
    with pytest.raises(ValueError, match="no batches"):
        run_quiet(
            tiny_net(),
            DataLoader(TensorDataset(torch.zeros(0, 3, 4, 4), torch.zeros(0, 4, 4).long())),
            None,
            None,
            None,
            1,
            CPU,
        )
    bad = tiny_data()
    bad.dataset.tensors[1][0, 0, 0] = 7  # not a class of 3 and not 255
    with pytest.raises(ValueError, match=r"\[7\], outside the class indices 0\.\.2"):
        run_quiet(tiny_net(), bad, None, None, None, 1, CPU)
    late = tiny_data()
    late.dataset.tensors[1][-1, 0, 0] = 3  # in the last batch: caught there too
    with pytest.raises(ValueError, match=r"\[3\], outside"):
        run_quiet(tiny_net(), late, None, None, None, 1, CPU)
    shrinking = nn.Sequential(nn.Conv2d(3, 3, 3, stride=2, padding=1))
    with pytest.raises(ValueError, match="multiple of 32"):
        run_quiet(shrinking, tiny_data(), None, None, None, 1, CPU)
    with pytest.raises(ValueError, match="num_classes=5"):
        run_quiet(tiny_net(), tiny_data(), None, None, None, 1, CPU, num_classes=5)
    with pytest.raises(ValueError, match="empty list"):
        run_quiet(tiny_net(), tiny_data(), None, None, None, 1, [])
    with pytest.raises(ValueError, match="amp"):
        run_quiet(tiny_net(), tiny_data(), None, None, None, 1, CPU, amp="yes")
    with pytest.raises(ValueError, match=r"net.to\('meta'\)"):
        evaluate(tiny_net(), tiny_data(), device="meta")
    with pytest.raises(ValueError, match="ignore"):  # d2l's loss does not ignore 255
        run_quiet(tiny_net(), tiny_data(void=True), None, seed_loss, None, 1, CPU)


def test_fcn_rejects_crops_that_are_not_multiples_of_32():
    net = fcnlib.fcn_resnet18(num_classes=3, weights=None)
    data = DataLoader(TensorDataset(torch.randn(2, 3, 40, 64), torch.zeros(2, 40, 64, dtype=torch.long)), batch_size=2)
    with pytest.raises(ValueError, match="multiples of 32"):
        run_quiet(net, data, None, None, None, 1, CPU)


def test_mixed_precision_and_channels_last_options_train():
    data = tiny_data()
    plain, fast = tiny_net(), tiny_net()
    run_quiet(plain, data, None, None, torch.optim.SGD(plain.parameters(), lr=0.05), 1, CPU, channels_last=False)
    run_quiet(fast, data, None, None, torch.optim.SGD(fast.parameters(), lr=0.05), 1, CPU, channels_last=True)
    assert fast[0].weight.is_contiguous(memory_format=torch.channels_last)
    for a, b in zip(plain.parameters(), fast.parameters()):
        assert torch.allclose(a, b, atol=1e-4)
    history = run_quiet(tiny_net(), data, data, None, None, 1, CPU, amp=True)  # bfloat16 autocast on the CPU
    assert math.isfinite(history[-1]["loss"]) and 0 <= history[-1]["miou"] <= 1


def test_progress_bar_and_final_lines(capsys):
    train(tiny_net(), tiny_data(), tiny_data(n=8), None, None, 2, CPU, plot=False, progress=True)
    captured = capsys.readouterr()
    assert "epoch 1/2" in captured.err and "epoch 2/2" in captured.err
    assert "test acc" in captured.err  # the bar's final summary
    assert re.search(r"examples/sec on \[device\(type='cpu'\)\]", captured.out)


def test_live_curves_reporter_is_one_figure_updated_in_place(monkeypatch):
    import IPython.display

    from fcnlib.viz import curves

    shown, updated = [], []

    class Handle:
        def update(self, obj):
            updated.append(obj)

    def fake_display(obj, display_id=False):
        shown.append(obj)
        return Handle()

    monkeypatch.setattr(curves, "in_notebook", lambda: True)
    monkeypatch.setattr(IPython.display, "display", fake_display)
    monkeypatch.setattr(curves, "display", fake_display, raising=False)  # where curves imported it, if it did
    run_quiet(tiny_net(), tiny_data(), tiny_data(n=8), None, None, 3, CPU, reporter=curves.LiveCurves())
    assert len(shown) == 1 and len(updated) == 3  # shown empty at the start, then once per epoch
    figure = updated[-1]
    if hasattr(figure, "axes"):  # a Figure (else a PNG of it)
        loss_line = figure.axes[0].get_lines()[0]
        assert list(loss_line.get_xdata()) == [1, 2, 3]


def test_training_draws_nothing_and_imports_no_figures():
    source = open(train_module.__file__).read()
    assert "viz" not in source.replace("fcnlib.viz.LiveCurves", "")  # not even inside a function
    with pytest.raises(ValueError, match=r"reporter=fcnlib\.viz\.LiveCurves\(\)"):
        run_quiet(tiny_net(), tiny_data(), None, None, None, 1, CPU, plot=True)


def test_reporter_hooks_are_called_in_order():
    class Recorder:
        def __init__(self):
            self.calls = []

        def on_train_begin(self, num_epochs, num_batches, history):
            self.calls.append(("begin", num_epochs, num_batches, len(history)))

        def on_batch(self, epoch, running):
            self.calls.append(("batch", epoch))

        def on_epoch_end(self, history):
            self.calls.append(("epoch_end", len(history)))

        def close(self, history, completed):
            self.calls.append(("close", completed))

    recorder = Recorder()
    run_quiet(tiny_net(), tiny_data(n=16), None, None, None, 2, CPU, reporter=[recorder])
    batch = [("batch", 0)] * 2
    assert recorder.calls == [("begin", 2, 2, 0), *batch, ("epoch_end", 1), ("batch", 1), ("batch", 1)] + [
        ("epoch_end", 2),
        ("close", True),
    ]


def test_plot_history_figure():
    from fcnlib.viz import plot_history

    history = [
        {"epoch": 1, "loss": 1.0, "train_acc": 0.5, "pixel_acc": 0.4, "miou": 0.2},
        {"epoch": 2, "loss": 0.7, "train_acc": 0.6, "pixel_acc": 0.5, "miou": 0.3},
    ]
    fig = plot_history(history, num_epochs=5)
    loss_ax, rate_ax = fig.axes
    assert list(loss_ax.get_lines()[0].get_ydata()) == [1.0, 0.7]
    assert [line.get_label() for line in rate_ax.get_lines()] == ["train pixel acc", "test pixel acc", "test mIoU"]


def test_fcnlib_train_is_callable_after_module_import():
    import fcnlib.training  # noqa: F401  (sets the package attribute to the module)

    history = fcnlib.train(tiny_net(), tiny_data(), None, None, None, 1, CPU, progress=False, plot=False)
    assert len(history) == 1
    assert fcnlib.evaluate is evaluate


@pytest.mark.parametrize("device", DEVICES)
def test_default_fast_path_on_every_device(device):
    train_iter, test_iter = tiny_data(void=True), tiny_data(n=16, seed=1, void=True)
    net = tiny_net()
    history = run_quiet(net, train_iter, test_iter, None, torch.optim.SGD(net.parameters(), lr=0.05), 2, device)
    assert all(math.isfinite(e["loss"]) for e in history)
    assert history[1]["loss"] < history[0]["loss"]
    # the test metrics equal torchmetrics' on the same predictions, made on the CPU in float32
    net = net.cpu().float().eval().to(memory_format=torch.contiguous_format)
    with torch.no_grad():
        X, y = zip(*test_iter)
        scores = torch.cat([net(x) for x in X])
    y = torch.cat(y)
    top2 = scores.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) > 1e-2  # pixels whose class no rounding (bf16 on a GPU) can change
    expected = MulticlassAccuracy(3, ignore_index=255, average="micro")(scores.argmax(1), y).item()
    unclear = (~clear & (y != 255)).sum().item() / (y != 255).sum().item()
    assert abs(history[-1]["pixel_acc"] - expected) <= unclear + 1e-6


@pytest.mark.parametrize("device", DEVICES)
def test_bad_label_in_a_later_batch_on_every_device(device):
    data = tiny_data()
    data.dataset.tensors[1][-1, 2, 3] = 9
    with pytest.raises(ValueError, match="outside"):
        run_quiet(tiny_net(), data, None, None, None, 1, device)
