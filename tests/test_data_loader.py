"""FCNLIB_MAX_STEPS (StepLimit) and run_summary, the lines a chapter prints about what will run.

References: the batches PyTorch's own DataLoader yields, counted by hand; the profile's own numbers.
"""

from __future__ import annotations

import hashlib
import urllib.request
from pathlib import Path

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import fcnlib
from fcnlib.data import StepLimit, load_data_voc, make_synthetic_voc, run_summary, shown_path
from fcnlib.profiles import max_steps_setting

ENV = (
    "FCNLIB_DATA",
    "FCNLIB_DATA_DIR",
    "FCNLIB_OFFLINE",
    "FCNLIB_MAX_STEPS",
    "FCNLIB_RESNET18_URL",
    "FCNLIB_VOC_MIRRORS",
)


@pytest.fixture
def env(monkeypatch, tmp_path):
    """A clean fcnlib environment: quick profile on the CPU, data and torch's cache under tmp_path, no network."""
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FCNLIB_PROFILE", "quick")
    monkeypatch.setenv("FCNLIB_DEVICE", "cpu")
    monkeypatch.setenv("FCNLIB_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def no_network(*args, **kwargs):
        raise AssertionError("run_summary must not touch the network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    return monkeypatch


def test_step_limit_yields_the_loaders_first_batches_and_keeps_its_attributes():
    data = TensorDataset(torch.arange(10.0))
    loader = DataLoader(data, batch_size=3)  # 4 batches: 3, 3, 3, 1
    expected = [b[0].tolist() for b in loader][:2]
    limited = StepLimit(loader, 2)
    assert len(limited) == 2 and [b[0].tolist() for b in limited] == expected == [[0, 1, 2], [3, 4, 5]]
    assert [b[0].tolist() for b in limited] == expected  # every epoch starts again
    assert len(StepLimit(loader, 9)) == 4 and len(list(StepLimit(loader, 9))) == 4  # no more than there are
    assert len(StepLimit(loader, None)) == 4
    assert limited.dataset is data and limited.sampler is loader.sampler and limited.batch_size == 3
    with pytest.raises(AttributeError):
        limited.no_such_attribute  # noqa: B018


def test_max_steps_setting(monkeypatch):
    monkeypatch.delenv("FCNLIB_MAX_STEPS", raising=False)
    assert max_steps_setting() is None
    monkeypatch.setenv("FCNLIB_MAX_STEPS", " 3 ")
    assert max_steps_setting() == 3
    for bad in ("0", "-1", "two", "1.5"):
        monkeypatch.setenv("FCNLIB_MAX_STEPS", bad)
        with pytest.raises(ValueError, match="FCNLIB_MAX_STEPS must be a whole number"):
            max_steps_setting()


def test_fcnlib_max_steps_cuts_training_and_evaluation(env, tmp_path, capsys):
    kwargs = dict(root=tmp_path / "data", n_train=12, n_val=7, image_size=(48, 64))
    full_train, full_test = load_data_voc(2, (32, 32), **kwargs)
    assert (len(full_train), len(full_test)) == (6, 4)  # 12 // 2 with drop_last; ceil(7 / 2)
    env.setenv("FCNLIB_MAX_STEPS", "2")
    train_iter, test_iter = load_data_voc(2, (32, 32), **kwargs)
    assert isinstance(train_iter, StepLimit) and len(train_iter) == len(test_iter) == 2
    assert sum(1 for _ in train_iter) == 2 and sum(1 for _ in test_iter) == 2
    assert train_iter.dataset.source == "synthetic" and train_iter.batch_size == 2
    assert str(tmp_path) not in capsys.readouterr().out  # no absolute path printed


@pytest.mark.parametrize("num_workers", [0, 2])
def test_reseeding_repeats_the_training_batches_with_worker_processes(env, tmp_path, num_workers):
    """Runs seeded alike see the same order, crops and flips, also where worker processes draw the crops; a third
    pass without reseeding differs (the reference: the batches themselves, compared element by element)."""
    train_iter, _ = load_data_voc(2, (32, 32), tmp_path / "data", num_workers, n_train=8, n_val=2, image_size=(48, 64))

    def one_pass(seed=None):
        if seed is not None:
            torch.manual_seed(seed)
        return torch.cat([X.flatten() for X, _ in train_iter])

    first, second, unseeded = one_pass(1), one_pass(1), one_pass()
    assert torch.equal(first, second)
    assert not torch.equal(first, unseeded)


def test_shown_path_hides_absolute_folders(env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert shown_path(tmp_path / "data" / "x") == "data/x"
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path / "data")
    assert shown_path(tmp_path / "other") == "../other"  # notebooks/ -> ../data
    deep = tmp_path / "a" / "b" / "c"
    deep.mkdir(parents=True)
    monkeypatch.chdir(deep)
    assert shown_path(tmp_path / "data" / "VOCdevkit") == "$FCNLIB_DATA_DIR/VOCdevkit"
    monkeypatch.setenv("HOME", str(tmp_path / "a"))
    assert shown_path(tmp_path / "a" / "x.pth") == "~/x.pth"
    assert shown_path(Path("/nowhere/else/at/all")) == ".../at/all"


def test_run_summary_teaching_dataset_and_weights(env, tmp_path):
    P = fcnlib.profile()
    first, second = run_summary(P).splitlines()
    assert first == str(P)
    h, w = P.image_size
    assert f"the teaching dataset, {P.n_train} train + {P.n_val} val images of {h}x{w}" in second
    assert "quick profile does not download" in second
    assert "ImageNet weights, to be downloaded" in second
    env.setenv("FCNLIB_OFFLINE", "1")
    assert "a random backbone (FCNLIB_OFFLINE is set" in run_summary(P)
    env.setenv("FCNLIB_DATA", "synthetic")
    env.setenv("FCNLIB_MAX_STEPS", "2")
    first, second = run_summary(P).splitlines()
    assert "at most 2 batches per epoch" in first and "(FCNLIB_DATA=synthetic)" in second
    assert str(tmp_path) not in first + second


def test_run_summary_cached_weights_checked_and_damaged(env, tmp_path):
    body = b"stand-in for the weights file"
    name = f"resnet18-{hashlib.sha256(body).hexdigest()[:8]}.pth"
    env.setenv("FCNLIB_RESNET18_URL", f"http://127.0.0.1:9/{name}")
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    (cache / name).write_bytes(body)
    assert "ImageNet weights, cached at" in run_summary() and "checked" in run_summary()
    (cache / name).write_bytes(b"damaged")
    assert "a random backbone: the cached ImageNet weights" in run_summary()
    assert str(tmp_path) not in run_summary()


def test_run_summary_voc_found_and_to_download(env, tmp_path):
    root = tmp_path / "data"
    env.setenv("FCNLIB_PROFILE", "full")
    line = run_summary().splitlines()[1]
    assert "VOC2012 will be downloaded (2 GB) into $FCNLIB_DATA_DIR (the full profile)" in line
    env.setenv("FCNLIB_PROFILE", "quick")
    env.setenv("FCNLIB_DATA", "voc")
    assert "(FCNLIB_DATA=voc)" in run_summary()
    (make_synthetic_voc(root, 5, 3, image_size=(48, 64)) / "classes.json").unlink()
    line = run_summary().splitlines()[1]
    assert "VOC2012 found at $FCNLIB_DATA_DIR/VOCdevkit/VOC2012 (5 train + 3 val images)" in line
    assert str(tmp_path) not in line
