import pytest
import torch

import fcnlib
from fcnlib.profiles import all_devices


def test_profile_defaults_to_quick_on_cpu_and_can_be_forced(monkeypatch):
    monkeypatch.delenv("FCNLIB_PROFILE", raising=False)
    p = fcnlib.profile(device=torch.device("cpu"))
    assert p.name == "quick" and p.device.type == "cpu" and p.num_workers == 0
    assert p.crop_size[0] % 32 == 0 and p.crop_size[1] % 32 == 0
    monkeypatch.setenv("FCNLIB_PROFILE", "full")
    full = fcnlib.profile(device=torch.device("cpu"))
    assert (full.name, full.crop_size, full.batch_size, full.num_epochs) == ("full", (320, 480), 32, 5)
    assert full.lr == 0.001 and full.wd == 1e-3 and full.momentum == 0  # d2l's settings
    assert "full" in str(full) and "320x480" in str(full)


def test_full_by_default_on_cuda(monkeypatch):
    monkeypatch.delenv("FCNLIB_PROFILE", raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    p = fcnlib.profile()
    assert p.name == "full" and p.device.type == "cuda" and len(p.devices) == 2


def test_unknown_profile_is_explained(monkeypatch):
    monkeypatch.setenv("FCNLIB_PROFILE", "fast")
    with pytest.raises(ValueError, match="quick.*full"):
        fcnlib.profile()


def test_devices_never_empty(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert len(all_devices()) == 1


def test_max_steps_makes_a_one_epoch_profile(monkeypatch):
    monkeypatch.setenv("FCNLIB_MAX_STEPS", "2")
    assert fcnlib.profile("full", device=torch.device("cpu")).num_epochs == 1
    monkeypatch.delenv("FCNLIB_MAX_STEPS")
    assert fcnlib.profile("full", device=torch.device("cpu")).num_epochs == 5
