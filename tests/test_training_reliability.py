"""Issue 15 for fcnlib.training: checkpoints only with finite weights, resume keeps the learner's
hyper-parameters, the divergence advice works when followed, unwritable paths fail before training,
evaluate pads odd sizes, sanitize.cfg covers the throughput text; issue 14: autocast_dtype."""

import configparser
import copy
import math
import os
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from test_train import CPU, DEVICES, run_quiet, tiny_data, tiny_net
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

import fcnlib
from fcnlib import training
from fcnlib.training import History, TrainingDiverged, load_checkpoint, per_example_cross_entropy

REPO = Path(__file__).resolve().parents[1]


def mean_loss(net, data):
    """The mean per-example loss of ``net`` (eval mode) on ``data``: plain PyTorch."""
    net.eval()
    with torch.no_grad():
        return torch.cat([per_example_cross_entropy(net(X), y) for X, y in data]).mean().item()


class CountingLoader:
    def __init__(self, loader):
        self.loader, self.batches = loader, 0

    def __len__(self):
        return len(self.loader)

    def __iter__(self):
        for batch in self.loader:
            self.batches += 1
            yield batch


def test_diverged_run_keeps_a_finite_checkpoint_and_its_advice_works(tmp_path):
    data, path = tiny_data(), tmp_path / "ck.pt"
    net = tiny_net()
    # lr=1000 from the start: the loss explodes in epoch 1 (the loss is summed over the batch)
    with pytest.raises(TrainingDiverged, match=r"exploded to .* in epoch 1") as info:
        run_quiet(net, data, None, None, torch.optim.SGD(net.parameters(), lr=1000.0), 3, CPU, checkpoint=path)
    assert len(info.value.history) == 0 and not path.exists() and "a fresh net" in str(info.value)
    # A good epoch at lr=0.05, then the rate raised to 5: epoch 2 explodes while its loss is still finite.
    net = tiny_net()
    trainer = torch.optim.SGD(net.parameters(), lr=0.05)
    raise_rate = type("RaiseRate", (), {"on_epoch_end": lambda self, h: trainer.param_groups[0].update(lr=5.0)})()
    with pytest.raises(TrainingDiverged, match="in epoch 2") as info:
        run_quiet(net, data, None, None, trainer, 3, CPU, checkpoint=path, reporter=raise_rate)
    assert len(info.value.history) == 1
    message = str(info.value)
    assert "exploded to" in message and "Lower the learning rate (now lr=5.0" in message and "resume=True" in message
    assert f"fcnlib.load_checkpoint({str(path)!r}, net)" in message
    kept = tiny_net(seed=3)
    assert len(fcnlib.load_checkpoint(path, kept)) == 1  # the advice's reload, from the package top level
    epoch1 = info.value.history[0]["loss"]
    assert mean_loss(kept, data) < 2 * epoch1  # epoch 1's weights, not the exploded ones
    # Follow the advice: a trainer with a 10 times lower rate and resume=True on the same net.
    trainer = torch.optim.SGD(net.parameters(), lr=0.5)
    history = run_quiet(net, data, None, None, trainer, 4, CPU, checkpoint=path, resume=True)
    assert [e["epoch"] for e in history] == [1, 2, 3, 4] and trainer.param_groups[0]["lr"] == 0.5
    assert all(e["loss"] < epoch1 for e in history[1:])  # it trains: below the last good epoch's loss
    assert mean_loss(net, data) < epoch1


def test_finite_loss_with_nan_weights_is_not_saved(tmp_path):
    data, path = tiny_data(), tmp_path / "ck.pt"
    per_epoch = len(data)
    calls = {"n": 0}

    def loss_with_nan_gradient(out, y):
        calls["n"] += 1
        value = per_example_cross_entropy(out, y)
        if calls["n"] == 2 * per_epoch:  # the last batch of epoch 2: the value is finite, its gradient NaN
            value = value + torch.sqrt(out.sum() - out.sum().detach())
        return value

    net = tiny_net()
    with pytest.raises(TrainingDiverged, match="in epoch 2"):
        run_quiet(net, data, None, loss_with_nan_gradient, None, 3, CPU, checkpoint=path)
    assert not all(torch.isfinite(p).all() for p in net.parameters())
    kept = tiny_net(seed=4)
    assert len(load_checkpoint(path, kept)) == 1
    assert math.isfinite(mean_loss(kept, data))


def test_resume_restores_state_but_keeps_the_new_learning_rate(tmp_path):
    data, path = tiny_data(), tmp_path / "ck.pt"
    first = tiny_net()
    trainer = torch.optim.SGD(first.parameters(), lr=0.05, momentum=0.9)
    run_quiet(first, data, None, None, trainer, 1, CPU, checkpoint=path, channels_last=False)

    # Reference by hand: the saved weights and momentum buffers, then one epoch at lr=0.01.
    state = torch.load(path, weights_only=True)
    expected = tiny_net(seed=7)
    expected.load_state_dict(state["model"])
    reference = torch.optim.SGD(expected.parameters(), lr=0.05, momentum=0.9)
    reference.load_state_dict(state["optimizer"])
    reference.param_groups[0]["lr"] = 0.01
    expected.train()
    for X, y in data:
        reference.zero_grad()
        per_example_cross_entropy(expected(X), y).sum().backward()
        reference.step()

    resumed = tiny_net(seed=8)
    trainer = torch.optim.SGD(resumed.parameters(), lr=0.01, momentum=0.9)
    history = run_quiet(resumed, data, None, None, trainer, 2, CPU, checkpoint=path, resume=True, channels_last=False)
    assert len(history) == 2 and history[0] == state["history"][0]
    assert trainer.param_groups[0]["lr"] == 0.01
    for a, b in zip(expected.state_dict().values(), resumed.state_dict().values()):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)


def test_checkpoint_whose_parent_is_a_file_fails_before_training(tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    loader = CountingLoader(tiny_data())
    with pytest.raises(ValueError, match=r"notes\.txt is a file, not a folder"):
        run_quiet(tiny_net(), loader, None, None, None, 2, CPU, checkpoint=blocker / "sub" / "ck.pt")
    assert loader.batches == 0
    with pytest.raises(ValueError, match="is a folder"):
        run_quiet(tiny_net(), loader, None, None, None, 2, CPU, checkpoint=tmp_path)
    assert loader.batches == 0


def test_checkpoint_in_a_read_only_folder_fails_before_training(tmp_path, monkeypatch):
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:  # root may write anywhere: answer as the kernel answers an ordinary user
        real_access = os.access
        monkeypatch.setattr(
            training.os,
            "access",
            lambda p, mode: False if Path(p) == folder and mode & os.W_OK else real_access(p, mode),
        )
    loader = CountingLoader(tiny_data())
    try:
        with pytest.raises(ValueError, match=f"the folder {re.escape(str(folder))} is read-only"):
            run_quiet(tiny_net(), loader, None, None, None, 1, CPU, checkpoint=folder / "ck.pt")
        with pytest.raises(ValueError, match="is read-only"):  # a sub-folder to be created there: the same
            run_quiet(tiny_net(), loader, None, None, None, 1, CPU, checkpoint=folder / "new" / "ck.pt")
    finally:
        folder.chmod(0o755)
    assert loader.batches == 0


def test_checkpoints_of_wrapped_nets_load_into_plain_ones(tmp_path):
    net = tiny_net()
    training.save_checkpoint(tmp_path / "dp.pt", nn.DataParallel(net))
    plain = tiny_net(seed=2)
    load_checkpoint(tmp_path / "dp.pt", plain)
    for a, b in zip(net.state_dict().values(), plain.state_dict().values()):
        assert torch.equal(a, b)
    wrapped = nn.DataParallel(tiny_net(seed=3))
    load_checkpoint(tmp_path / "dp.pt", wrapped)  # and back into a wrapper
    assert torch.equal(wrapped.module[0].weight, net[0].weight)


def test_evaluate_pads_sizes_that_are_not_multiples_of_32():
    torch.manual_seed(0)
    net = fcnlib.fcn_resnet18(num_classes=3, weights=None).eval()
    X = torch.randn(2, 3, 40, 56)
    y = torch.randint(0, 3, (2, 40, 56))
    y[:, :3] = 255
    with torch.no_grad():  # by hand: pad bottom and right with zeros to 64x64, crop the scores back
        pred = net(F.pad(X, (0, 8, 0, 24)))[..., :40, :56].argmax(1)
    metrics = fcnlib.evaluate(net, DataLoader(TensorDataset(X, y), batch_size=2), amp=False, channels_last=False)
    assert metrics["miou"] == pytest.approx(MulticlassJaccardIndex(3, ignore_index=255)(pred, y).item(), abs=1e-6)
    acc = MulticlassAccuracy(3, ignore_index=255, average="micro")(pred, y).item()
    assert metrics["pixel_acc"] == pytest.approx(acc, abs=1e-6)


def test_sanitize_cfg_covers_the_throughput_text(capsys):
    config = configparser.ConfigParser()
    config.read(REPO / "notebooks" / "sanitize.cfg")
    rules = [(config[s]["regex"], config[s]["replace"]) for s in config.sections()]

    def sanitize(text):
        for regex, replace in rules:
            text = re.sub(regex, replace, text)
        return text

    fast = History([{"loss": 1.0, "train_acc": 0.5, "examples": 960, "train_seconds": 12.3}], devices=CPU)
    slow = History([{"loss": 1.0, "train_acc": 0.5, "examples": 960, "train_seconds": 57.0}], devices=CPU)
    assert str(fast) != str(slow) and sanitize(str(fast)) == sanitize(str(slow))
    bars = [
        "epoch 1/3: 100%|##########| 60/60 [00:19<00:00,  3.37batch/s, loss 1.307]",
        "epoch 1/3: 100%|##########| 60/60 [01:02<00:00,  1.04s/batch, loss 1.307]",
    ]
    assert sanitize(bars[0]) == sanitize(bars[1])
    run_quiet(tiny_net(), tiny_data(), None, None, None, 1, CPU, progress=True)  # what the bar really prints
    err = capsys.readouterr().err.splitlines()[-1]
    assert not re.search(r"\d(batch/s|s/batch)", sanitize(err)) and "[ELAPSED<REMAINING" in sanitize(err)


@pytest.mark.parametrize(
    "capability, expected", [((7, 5), torch.float16), ((8, 0), torch.bfloat16), ((9, 0), torch.bfloat16)]
)
def test_autocast_dtype_by_gpu_generation(monkeypatch, capability, expected):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: capability)
    assert fcnlib.autocast_dtype("cuda") is expected
    assert fcnlib.autocast_dtype("cuda", True) is expected
    assert fcnlib.autocast_dtype("cuda", False) is None


def test_autocast_dtype_on_the_cpu_and_bad_values():
    assert fcnlib.autocast_dtype("cpu") is None
    assert fcnlib.autocast_dtype("cpu", True) is torch.bfloat16
    assert fcnlib.autocast_dtype("cpu", "fp16") is torch.float16
    for bad in ("yes", 1.5, "fp8", torch.int8):
        with pytest.raises(ValueError, match="amp must be"):
            fcnlib.autocast_dtype("cpu", bad)


def test_train_uses_a_grad_scaler_for_float16(monkeypatch):
    """On a Turing GPU (7.5) "auto" means float16 with an enabled GradScaler; seen here on the CPU."""
    monkeypatch.setattr(training, "autocast_dtype", lambda device, amp="auto": torch.float16)
    scalers = []

    class Recording(torch.amp.GradScaler):
        def __init__(self, device, enabled):
            super().__init__("cpu", enabled=enabled)
            scalers.append(self)

    monkeypatch.setattr(training.torch.amp, "GradScaler", Recording)
    history = run_quiet(tiny_net(), tiny_data(), None, None, None, 1, CPU)
    assert len(scalers) == 1 and scalers[0].is_enabled() and scalers[0].get_scale() > 0
    assert math.isfinite(history[0]["loss"])


# ----------------------------------------------------------------------------- issue 25: what diverged, and why
def _with_nan_image(loader, index):
    X, y = (t.clone() for t in loader.dataset.tensors)
    X[index, 1, 2, 3] = float("nan")
    return DataLoader(TensorDataset(X, y), batch_size=loader.batch_size)


@pytest.mark.parametrize("device", DEVICES)
def test_nan_images_are_named_instead_of_the_learning_rate(tmp_path, device):
    data, path = tiny_data(), tmp_path / "ck.pt"
    net = tiny_net()
    with pytest.raises(TrainingDiverged, match="images from train_iter held NaN or infinite values in epoch 1"):
        run_quiet(net, _with_nan_image(data, 0), None, None, None, 2, [device])
    assert all(torch.isfinite(p).all() for p in net.parameters())  # the first batch is checked before its step
    assert not path.exists()

    class NanInEpoch2:  # the dataset's transform goes wrong in epoch 2 (batch 3)
        def __init__(self):
            self.epochs = 0

        def __len__(self):
            return len(data)

        def __iter__(self):
            self.epochs += 1
            return iter(_with_nan_image(data, 20) if self.epochs == 2 else data)

    net = tiny_net()
    with pytest.raises(TrainingDiverged) as info:
        run_quiet(
            net, NanInEpoch2(), None, None, torch.optim.SGD(net.parameters(), lr=0.05), 3, [device], checkpoint=path
        )
    message = str(info.value)
    assert "held NaN or infinite values in epoch 2" in message and "learning rate" not in message
    assert "fix the data" in message and "resume=True" in message and len(info.value.history) == 1
    # Follow the advice: fixed data, the same rate, resume=True.
    history = run_quiet(
        net, data, None, None, torch.optim.SGD(net.parameters(), lr=0.05), 3, [device], checkpoint=path, resume=True
    )
    assert len(history) == 3 and all(math.isfinite(e["loss"]) for e in history)
    assert all(torch.isfinite(p).all() for p in net.parameters())


@pytest.mark.parametrize("device", DEVICES)
def test_a_nan_loss_from_bad_labels_names_the_labels(device):
    """A loss that averages over labelled pixels divides by 0 on an image whose labels are all bad (7 of 3
    classes; a GPU trains them as void and counts them): the labels are blamed, not the learning rate."""
    X, y = (t.clone() for t in tiny_data().dataset.tensors)
    y[9] = 7

    def mean_over_labelled(out, labels):
        pixel = F.cross_entropy(out, labels, ignore_index=255, reduction="none")
        return pixel.sum((1, 2)) / (labels != 255).sum((1, 2))

    data = DataLoader(TensorDataset(X, y), batch_size=8)
    with pytest.raises((ValueError, TrainingDiverged), match=r"labels") as info:
        run_quiet(tiny_net(), data, None, mean_over_labelled, None, 1, [device])
    assert "learning rate" not in str(info.value) and ("[7]" in str(info.value) or "0..2" in str(info.value))


def test_the_loss_must_give_one_value_per_image():
    data = tiny_data()
    per_pixel = nn.CrossEntropyLoss(ignore_index=255, reduction="none")  # [N, H, W]
    with pytest.raises(ValueError, match=r"one value per image, shape \[N\] = \[8\].*got shape \[8, 8, 12\] \(one per"):
        run_quiet(tiny_net(), data, None, per_pixel, None, 1, CPU)
    with pytest.raises(ValueError, match=r"got shape \[\] \(one number: a mean over the batch"):
        run_quiet(tiny_net(), data, None, nn.CrossEntropyLoss(ignore_index=255), None, 1, CPU)
    with pytest.raises(ValueError, match=r"got shape \[8, 1\]"):
        run_quiet(tiny_net(), data, None, lambda out, y: per_example_cross_entropy(out, y)[:, None], None, 1, CPU)
    # The advice, followed: d2l's per-example mean (void pixels included, as in d2l's chapter), summed over the batch.
    advised = lambda out, y: F.cross_entropy(out, y, ignore_index=255, reduction="none").mean((1, 2))  # noqa: E731
    net, reference = tiny_net(), tiny_net()
    run_quiet(net, data, None, advised, torch.optim.SGD(net.parameters(), lr=0.01), 1, CPU, channels_last=False)
    trainer = torch.optim.SGD(reference.parameters(), lr=0.01)
    reference.train()
    for X, y in data:  # by hand: d2l's train_batch
        trainer.zero_grad()
        F.cross_entropy(reference(X), y, reduction="none").mean(1).mean(1).sum().backward()
        trainer.step()
    for a, b in zip(net.parameters(), reference.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_a_batch_of_one_with_small_crops_gets_a_hint():
    torch.manual_seed(0)
    X, y = torch.randn(3, 3, 32, 32), torch.randint(0, 3, (3, 32, 32))
    net = fcnlib.fcn_resnet18(num_classes=3, weights=None)  # 32x32 crops: 1x1 after layer4
    with pytest.raises(ValueError, match=r"batch of 1 image\(s\) of 32x32 pixels .*drop_last=True.*larger crops"):
        run_quiet(net, DataLoader(TensorDataset(X, y), batch_size=2), None, None, None, 1, CPU)
    history = run_quiet(net, DataLoader(TensorDataset(X, y), batch_size=2, drop_last=True), None, None, None, 1, CPU)
    assert history[0]["examples"] == 2  # the advice, followed


def test_a_one_shot_iterator_is_refused_before_training():
    data = tiny_data()
    net = tiny_net()
    before = copy.deepcopy(net.state_dict())
    with pytest.raises(
        ValueError, match=r"train_iter is a one-shot iterator \(generator\).*pass a DataLoader or a list"
    ):
        run_quiet(net, (batch for batch in data), None, None, None, 2, CPU)
    with pytest.raises(ValueError, match=r"test_iter is a one-shot iterator"):
        run_quiet(net, data, iter(list(data)), None, None, 2, CPU)
    assert all(torch.equal(a, b) for a, b in zip(before.values(), net.state_dict().values()))  # nothing trained
    history = run_quiet(net, list(batch for batch in data), None, None, None, 2, CPU)  # the advice, followed
    assert len(history) == 2 and history[1]["examples"] == 40
    assert len(run_quiet(tiny_net(), (b for b in data), None, None, None, 1, CPU)) == 1  # one epoch: one pass
    spent = (b for b in data)
    fcnlib.evaluate(net, spent)
    with pytest.raises(ValueError, match=r"data_iter yielded no batches in epoch 1: a one-shot iterator"):
        fcnlib.evaluate(net, spent)


def test_evaluate_refuses_nan_images_and_nan_scores():
    data, net = tiny_data(n=16), tiny_net()
    with pytest.raises(ValueError, match=r"1 images from data_iter hold NaN or infinite values: they cannot be"):
        fcnlib.evaluate(net, _with_nan_image(data, 5))
    with torch.no_grad():
        net[0].weight[0, 0, 0, 0] = float("inf")
    with pytest.raises(ValueError, match=r"scores are NaN or infinite for 16 images.*load_checkpoint"):
        fcnlib.evaluate(net, data)
