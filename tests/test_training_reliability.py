"""Issue 15 for fcnlib.training: checkpoints only with finite weights, resume keeps the learner's
hyper-parameters, the divergence advice works when followed, unwritable paths fail before training,
evaluate pads odd sizes, sanitize.cfg covers the throughput text; issue 14: autocast_dtype."""

import configparser
import math
import os
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from test_train import CPU, run_quiet, tiny_data, tiny_net
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
    # lr=1000 survives epoch 1 and diverges in epoch 2 (the loss is summed over the batch)
    with pytest.raises(TrainingDiverged, match="in epoch 2") as info:
        run_quiet(net, data, None, None, torch.optim.SGD(net.parameters(), lr=1000.0), 3, CPU, checkpoint=path)
    assert len(info.value.history) == 1
    message = str(info.value)
    assert "Lower the learning rate (now lr=1000.0" in message and "resume=True" in message
    assert f"fcnlib.load_checkpoint({str(path)!r}, net)" in message
    kept = tiny_net(seed=3)
    assert len(fcnlib.load_checkpoint(path, kept)) == 1  # the advice's reload, from the package top level
    assert math.isfinite(mean_loss(kept, data))
    # Follow the advice: a trainer with a lower learning rate and resume=True on the same net.
    trainer = torch.optim.SGD(net.parameters(), lr=0.05)
    history = run_quiet(net, data, None, None, trainer, 3, CPU, checkpoint=path, resume=True)
    assert [e["epoch"] for e in history] == [1, 2, 3] and all(math.isfinite(e["loss"]) for e in history)
    assert trainer.param_groups[0]["lr"] == 0.05  # not the 1000 saved in the checkpoint
    assert all(torch.isfinite(p).all() for p in net.parameters())


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
