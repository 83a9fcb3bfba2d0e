"""Every FCNLIB_* variable is read strictly by one function in fcnlib.profiles, with one message format naming the
variable, the accepted values and what to do; python -m fcnlib honours them or refuses them; a user's own dataset
is never advised to be deleted; shown_path gives the same text wherever the repository is cloned.

References: the values set here and what each function must return (hand-written), torch.cuda's own answer."""

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import fcnlib
import fcnlib.__main__ as cli
from fcnlib import data, profiles
from fcnlib.data import VOCDataset, shown_path

FORMAT = r"^FCNLIB_{name} must be .+, got '{value}'; .+"
BAD = {  # a bad value of every variable fcnlib reads
    "PROFILE": "fast",
    "DEVICE": "foo",
    "DATA": "synthtic",
    "DATA_DIR": "{file}/sub",
    "OFFLINE": "maybe",
    "LANG": "fr",
    "MAX_STEPS": "0",
    "VOC_MIRRORS": "ftp://example.org/voc.tar",
    "VOC_SHA1": "not-a-sha1",
    "RESNET18_URL": "https://example.org/models/",
}
GOOD = {  # (value, what the setting's function returns)
    "DEVICE": [("cpu", torch.device("cpu")), (" Auto ", None), ("", None)],
    "DATA": [("VOC", "voc"), ("synthetic", "synthetic"), ("auto", ""), ("/some/old/folder", "")],
    "OFFLINE": [("1", True), ("yes", True), ("0", False), ("", False), ("off", False)],
    "VOC_SHA1": [("4E443F8A2ECA6B1DAC8A6C57641B67DD40621A49", "4e443f8a2eca6b1dac8a6c57641b67dd40621a49")],
    "VOC_MIRRORS": [
        ("http://a/x.tar, https://b/y.tar file:///c/z.tar", "http://a/x.tar, https://b/y.tar file:///c/z.tar")
    ],
    "RESNET18_URL": [("http://127.0.0.1:9/resnet18-f37072fd.pth", "http://127.0.0.1:9/resnet18-f37072fd.pth")],
}


@pytest.fixture
def clean(monkeypatch):
    for name in list(os.environ):
        if name.startswith("FCNLIB_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_every_variable_is_covered():
    assert set(BAD) == set(profiles.SETTINGS)


@pytest.mark.parametrize("name", BAD)
def test_a_bad_value_names_the_variable_and_what_it_accepts(name, clean, tmp_path):
    (tmp_path / "file").write_text("a file, not a folder\n")
    value = BAD[name].format(file=tmp_path / "file")
    clean.setenv(f"FCNLIB_{name}", value)
    with pytest.raises(ValueError, match=FORMAT.format(name=name, value=re.escape(value))):
        profiles.SETTINGS[name]()
    with pytest.raises(ValueError, match=f"^FCNLIB_{name} must be"):
        profiles.check_settings()
    # the advice works: unset, it is accepted
    clean.delenv(f"FCNLIB_{name}")
    profiles.SETTINGS[name]()
    profiles.check_settings()


@pytest.mark.parametrize("name, value, expected", [(n, v, e) for n, cases in GOOD.items() for v, e in cases])
def test_good_values_are_read(name, value, expected, clean):
    clean.setenv(f"FCNLIB_{name}", value)
    assert profiles.SETTINGS[name]() == expected


@pytest.mark.parametrize("value", ["cuda", "cuda:1", "mps"])
def test_a_device_this_machine_lacks_is_refused_before_it_is_used(value, clean):
    clean.setattr(torch.cuda, "is_available", lambda: False)
    clean.setattr(torch.backends.mps, "is_available", lambda: False)
    clean.setenv("FCNLIB_DEVICE", value)
    with pytest.raises(ValueError, match=f"^FCNLIB_DEVICE must be a device this machine has .*got '{value}'; use cpu"):
        fcnlib.profile()  # not accepted first (and the full profile chosen), then failing at .to()
    clean.setenv("FCNLIB_DEVICE", "cpu")  # the advice works
    assert fcnlib.profile().device == torch.device("cpu") and fcnlib.profile().name == "quick"


def test_a_gpu_index_beyond_the_machines_gpus_is_refused(clean):
    clean.setattr(torch.cuda, "is_available", lambda: True)
    clean.setattr(torch.cuda, "device_count", lambda: 2)
    clean.setenv("FCNLIB_DEVICE", "cuda:1")
    assert profiles.device_setting() == torch.device("cuda:1")
    clean.setenv("FCNLIB_DEVICE", "cuda:2")
    with pytest.raises(ValueError, match="FCNLIB_DEVICE must be a device this machine has"):
        profiles.device_setting()


def test_the_command_line_honours_fcnlib_device(clean, monkeypatch):
    """On a machine with a GPU (as torch says here), FCNLIB_DEVICE=cpu puts the command line on the CPU;
    --device still wins over it."""
    clean.setattr(torch.cuda, "is_available", lambda: True)
    clean.setattr(torch.cuda, "device_count", lambda: 1)
    seen = []
    monkeypatch.setattr(cli, "predict", lambda args, parser: seen.append(args.device) or 0)
    argv = ["predict", "--checkpoint", "x.pt", "--out", "o", "x.png"]
    clean.setenv("FCNLIB_DEVICE", "cpu")
    assert cli.main(argv) == 0 and cli.main([*argv, "--device", "auto"]) == 0
    assert seen == [torch.device("cpu"), torch.device("cuda")]


@pytest.mark.parametrize(
    "name, value, said",
    [("DEVICE", "foo", "FCNLIB_DEVICE must be 'cpu'"), ("DEVCE", "cpu", "FCNLIB_DEVCE is no setting of fcnlib")],
)
def test_the_command_line_refuses_a_bad_or_misspelt_variable(name, value, said, clean, capsys):
    clean.setenv(f"FCNLIB_{name}", value)
    with pytest.raises(SystemExit) as info:
        cli.main(["predict", "--checkpoint", "x.pt", "--out", "o", "x.png"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and said in err and "Traceback" not in err


def test_a_data_folder_that_cannot_be_made_is_named(clean, tmp_path, capsys):
    (tmp_path / "file").write_text("in the way\n")
    for name in ("FCNLIB_DATA_DIR", "FCNLIB_DATA"):  # FCNLIB_DATA: its older meaning, a folder
        clean.setenv(name, str(tmp_path / "file" / "data"))
        with pytest.raises(ValueError, match=f"^{name} must be a folder that exists or can be created.*is a file"):
            data.load_data_voc(2, 32, n_train=4, n_val=2, image_size=(32, 32))
        with pytest.raises(SystemExit):
            cli.main(["train", "--device", "cpu"])
        assert f"{name} must be a folder" in capsys.readouterr().err
        clean.delenv(name)


def test_a_data_root_that_cannot_hold_the_teaching_dataset_is_named(clean, tmp_path, capsys):
    (tmp_path / "synthetic").write_text("a file where the dataset would go\n")
    with pytest.raises(ValueError, match="cannot generate the teaching dataset in .*synthetic.*pass another root"):
        data.load_data_voc(2, 32, root=tmp_path, n_train=4, n_val=2, image_size=(32, 32))
    with pytest.raises(SystemExit):
        cli.main(["train", "--device", "cpu", "--data-root", str(tmp_path)])
    assert "give another --data-root" in capsys.readouterr().err


# --------------------------------------------------------------------------- a user's own dataset
def _own_dataset(root: Path, names: list[str]) -> Path:
    voc = root / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / sub).mkdir(parents=True)
    for name in names:
        Image.new("RGB", (16, 12), (200, 10, 10)).save(voc / "JPEGImages" / f"{name}.jpg")
        label = Image.fromarray(np.ones((12, 16), np.uint8), "P")
        label.putpalette(data.voc_palette())
        label.save(voc / "SegmentationClass" / f"{name}.png")
    (voc / "ImageSets" / "Segmentation" / "train.txt").write_text("\n".join(names) + "\n")
    return voc


def test_a_users_dataset_with_a_missing_label_is_never_told_to_delete_it(tmp_path):
    voc = _own_dataset(tmp_path, ["a", "b", "c"])
    (voc / "SegmentationClass" / "b.png").unlink()
    files = sorted(p.relative_to(voc) for p in voc.rglob("*"))
    with pytest.raises(FileNotFoundError) as info:
        VOCDataset(tmp_path)
    message = str(info.value)
    assert "delete" not in message and "download" not in message
    assert "leave their ids out of" in message and "train.txt" in message and "['b']" in message
    assert sorted(p.relative_to(voc) for p in voc.rglob("*")) == files  # nothing touched
    # the advice works: with b left out of the list, the others load
    (voc / "ImageSets" / "Segmentation" / "train.txt").write_text("a\nc\n")
    assert len(VOCDataset(tmp_path)) == 2 and VOCDataset(tmp_path)[1][1].unique().tolist() == [1]


def test_the_generated_teaching_dataset_may_be_generated_again(tmp_path):
    voc, _ = data.ensure_synthetic_voc(tmp_path, 4, 2, image_size=(32, 32))
    next(voc.glob("SegmentationClass/*.png")).unlink()
    with pytest.raises(FileNotFoundError, match="generated teaching dataset is incomplete; delete .*fcnlib made it"):
        VOCDataset(tmp_path)
    shutil.rmtree(voc)  # the advice, followed
    voc, generated = data.ensure_synthetic_voc(tmp_path, 4, 2, image_size=(32, 32))
    assert generated and len(VOCDataset(tmp_path)) == 4


# --------------------------------------------------------------------------- wherever it is cloned
@pytest.mark.parametrize("clone", ["x", "a b/clone", "deep/er/clone"])
def test_shown_path_is_the_same_wherever_the_checkout_is(clone, clean, tmp_path):
    """The working folder is a clone beside the data folder (a clone made directly in the temp folder, where
    pytest's folders are its siblings), under a path with a space, or deeper."""
    (tmp_path / clone).mkdir(parents=True)
    clean.chdir(tmp_path / clone)
    clean.setenv("FCNLIB_DATA_DIR", str(tmp_path / "data"))
    assert shown_path(tmp_path / "data" / "VOCdevkit") == "$FCNLIB_DATA_DIR/VOCdevkit"
    assert shown_path(tmp_path / clone / "data" / "x.pt") == "data/x.pt"
    clean.delenv("FCNLIB_DATA_DIR")
    clean.setenv("HOME", str(tmp_path))
    assert shown_path(tmp_path / "data" / "VOCdevkit") in ("../data/VOCdevkit", "~/data/VOCdevkit")
    assert str(tmp_path) not in shown_path(tmp_path / "elsewhere" / "a" / "b")


def test_a_missing_split_list_is_named_with_advice_that_works(clean, tmp_path):
    clean.setenv("FCNLIB_DATA_DIR", str(tmp_path))
    clean.setenv("FCNLIB_DEVICE", "cpu")
    _own_dataset(tmp_path, ["a", "b"])  # train.txt only: no val.txt
    with pytest.raises(FileNotFoundError, match=r"split list .*val\.txt is missing: write it, one image id"):
        data.run_summary()
    (tmp_path / "VOCdevkit" / "VOC2012" / "ImageSets" / "Segmentation" / "val.txt").write_text("b\n")
    assert "VOC2012 found at $FCNLIB_DATA_DIR/VOCdevkit/VOC2012 (2 train + 1 val images)" in data.run_summary()
