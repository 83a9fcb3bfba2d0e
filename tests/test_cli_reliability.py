"""python -m fcnlib where it meets real files: checkpoints that are none, classes that do not fit, bad numbers,
Ctrl-C, predict's inputs and outputs (unreadable, existing, read-only, a full disk), and checkpoint writing (a full
disk, ``~``, a file of the user's in the way). No traceback from inside torch, PIL or Python reaches the user; every
message names what was wrong and one thing to do, and where it can, the test follows that advice.

References: the files as written by the test itself (bytes, torch.save, PIL), exit statuses, errno.ENOSPC."""

import errno
import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import time
from functools import partial
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import numpy as np
import pytest
import torch
from loopback import LoopbackServer, serving, voc_tar_bytes
from PIL import Image
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import fcnlib
from fcnlib import data, training
from fcnlib.__main__ import main

SIZE = ["--n-train", "12", "--n-val", "5", "--image-size", "64", "96", "--crop-size", "64", "96"]
SMALL = ["--device", "cpu", "--batch-size", "2", "--max-steps", "3", "--weights", "none"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A data root with the teaching dataset (7 classes) of 12 + 5 images, made once."""
    root = tmp_path_factory.mktemp("cli_files") / "data"
    data.ensure_synthetic_voc(root / "synthetic", 12, 5, seed=0, image_size=(64, 96))
    return root


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """An untrained 7-class FCN-32s saved as python -m fcnlib train saves it."""
    path = tmp_path_factory.mktemp("ckpt") / "fcn7.pt"
    torch.manual_seed(0)
    training.save_checkpoint(path, fcnlib.fcn_resnet18(len(data.SYNTHETIC_CLASSES), weights=None))
    return path


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)).save(path)
    return path


def _fails(argv, capsys, status=2) -> str:
    """Run main(argv), expect a clean exit with ``status``; return what it wrote to stderr."""
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert info.value.code == status, err
    assert "Traceback" not in err
    return err


def _predict(checkpoint, *args):
    return ["predict", "--checkpoint", checkpoint, "--device", "cpu", "--crop-size", "64", "64", *args]


# --------------------------------------------------------------------------------------- --checkpoint
def _not_checkpoints(folder: Path) -> dict[str, tuple[Path, str]]:
    torch.manual_seed(0)
    net = fcnlib.fcn_resnet18(len(data.SYNTHETIC_CLASSES), weights=None)
    files = {"empty": b"", "text": b"epoch 1: loss 0.5\n", "random": bytes(range(256)) * 4}
    for name, content in files.items():
        (folder / f"{name}.pt").write_bytes(content)
    torch.save(net, folder / "pickled.pt")
    torch.save(net.state_dict(), folder / "state.pt")
    return {
        "empty": (folder / "empty.pt", "is empty (0 bytes)"),
        "text": (folder / "text.pt", "is not a checkpoint"),
        "random": (folder / "random.pt", "is not a checkpoint"),
        "pickled": (folder / "pickled.pt", "holds a whole pickled object"),
        "state": (folder / "state.pt", "is a state_dict, not an fcnlib checkpoint"),
    }


@pytest.mark.parametrize("kind", ["empty", "text", "random", "pickled", "state"])
def test_a_file_that_is_no_checkpoint_gets_a_message(kind, tmp_path, photo, capsys):
    path, said = _not_checkpoints(tmp_path)[kind]
    for argv in (["evaluate", "--checkpoint", path, "--device", "cpu"], _predict(path, photo, "--out", tmp_path / "o")):
        err = _fails(argv, capsys)
        assert str(path) in err and said in err
        assert "Weights only load failed" not in err and "EOFError" not in err
    assert not (tmp_path / "o").exists()  # nothing written before the checkpoint was read


@pytest.mark.parametrize("kind", ["pickled", "state"])
def test_the_advice_for_a_pickled_net_or_a_state_dict_works(kind, tmp_path, photo, capsys):
    path, _ = _not_checkpoints(tmp_path)[kind]
    net = fcnlib.fcn_resnet18(len(data.SYNTHETIC_CLASSES), weights=None)
    if kind == "pickled":  # the message's advice, followed word for word
        net = torch.load(path, weights_only=False)
    else:
        net.load_state_dict(torch.load(path))
    training.save_checkpoint(tmp_path / "new.pt", net)
    assert main([str(a) for a in _predict(tmp_path / "new.pt", photo, "--out", tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "photo_label.png").is_file()


def test_a_missing_checkpoint_says_how_to_make_one(tmp_path, capsys):
    err = _fails(["evaluate", "--checkpoint", tmp_path / "none.pt", "--device", "cpu"], capsys)
    assert "no such file" in err and "python -m fcnlib train --checkpoint" in err


def test_a_7_class_checkpoint_on_21_class_data_says_what_to_run(root, checkpoint, tmp_path, capsys):
    voc = data.make_synthetic_voc(tmp_path / "voc21", 6, 3, image_size=(64, 96))
    (voc / "classes.json").unlink()  # now a VOC-format folder of VOC's 21 classes
    err = _fails(["evaluate", "--checkpoint", checkpoint, "--data", tmp_path / "voc21", "--device", "cpu"], capsys)
    assert "holds an FCN-32s of 7 classes, but --data" in err and "has 21:" in err and "rebuild" not in err
    assert "--data synthetic" in err and "python -m fcnlib train --data" in err
    # the advice works: on the teaching dataset it was made for, it is evaluated
    argv = [
        "evaluate",
        "--checkpoint",
        checkpoint,
        "--data",
        "synthetic",
        "--data-root",
        root,
        *SIZE,
        "--device",
        "cpu",
    ]
    assert main([str(a) for a in argv]) == 0
    out = capsys.readouterr().out
    assert all(f"IoU {name} " in out for name in data.SYNTHETIC_CLASSES)


# ------------------------------------------------------------------------------------ numbers
@pytest.mark.parametrize(
    "option, value, expected",
    [
        ("--lr", "-0.01", "a learning rate > 0"),
        ("--lr", "0", "a learning rate > 0"),
        ("--lr", "nan", "a learning rate > 0"),
        ("--momentum", "-0.9", "a momentum in [0, 1)"),
        ("--momentum", "1.5", "a momentum in [0, 1)"),
        ("--weight-decay", "-1e-3", "a weight decay >= 0"),
        ("--weight-decay", "inf", "a weight decay >= 0"),
        ("--num-workers", "-1", "a whole number >= 0"),
        ("--seed", "-1", "a whole number from 0"),
        ("--seed", str(2**70), "a whole number from 0"),
    ],
)
def test_bad_numbers_are_refused_by_argument_checking(option, value, expected, root, capsys):
    argv = ["train", "--data-root", root, *SIZE, *SMALL, "--epochs", "1", f"{option}={value}"]
    err = _fails(argv, capsys)
    assert f"argument {option}: expected {expected}" in err


# ------------------------------------------------------------------------------------ Ctrl-C
def test_ctrl_c_during_train_exits_130_and_resume_continues(root, tmp_path):
    checkpoint = tmp_path / "run" / "fcn.pt"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(fcnlib.__file__).parents[1]))
    argv = [sys.executable, "-m", "fcnlib", "train", "--data-root", str(root), *SIZE, *SMALL]
    argv += ["--checkpoint", str(checkpoint), "--epochs", "1000"]
    # A run started with "&" from a script ignores SIGINT, and so would this child: give it Ctrl-C's default back.
    default_ctrl_c = partial(signal.signal, signal.SIGINT, signal.SIG_DFL)
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, preexec_fn=default_ctrl_c, **pipes)
    try:
        deadline = time.monotonic() + 240
        while not checkpoint.is_file() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)  # epoch 1 is saved: the run is under way
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "--resume continues" in err
    done = len(fcnlib.load_checkpoint(checkpoint, fcnlib.fcn_resnet18(7, weights=None)))
    assert 1 <= done < 1000


def test_train_refuses_to_replace_an_earlier_checkpoint_unless_asked(root, checkpoint, tmp_path, capsys):
    earlier = tmp_path / "fcn.pt"
    earlier.write_bytes(checkpoint.read_bytes())
    argv = ["train", "--data-root", root, *SIZE, *SMALL, "--epochs", "1", "--checkpoint", earlier]
    err = _fails(argv, capsys)
    assert "exists: add --resume to continue it, or --overwrite to replace it" in err
    assert earlier.read_bytes() == checkpoint.read_bytes()
    assert main([str(a) for a in [*argv, "--overwrite"]]) == 0  # asked: replaced by a run of one epoch
    assert len(fcnlib.load_checkpoint(earlier, fcnlib.fcn_resnet18(7, weights=None))) == 1


def test_train_never_writes_over_a_file_that_is_no_checkpoint(root, tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("my notes\n")
    argv = ["train", "--data-root", root, *SIZE, *SMALL, "--epochs", "1", "--checkpoint", notes, "--overwrite"]
    err = _fails(argv, capsys)
    assert "is not a checkpoint" in err and "choose another checkpoint path" in err
    net = nn.Conv2d(3, 2, 1)
    with pytest.raises(ValueError, match="left as it is"):
        fcnlib.train(net, _pixels(), None, num_epochs=1, devices=["cpu"], checkpoint=notes, progress=False)
    assert notes.read_text() == "my notes\n"


# ------------------------------------------------------------------------------------ predict
@pytest.mark.parametrize(
    "content, said", [(b"", "is empty (0 bytes)"), (b"%PDF-1.4 not a picture", "give a JPEG, PNG")]
)
def test_predict_names_a_file_that_is_no_picture(content, said, checkpoint, tmp_path, capsys):
    (tmp_path / "scan.jpg").write_bytes(content)
    err = _fails(_predict(checkpoint, tmp_path / "scan.jpg", "--out", tmp_path / "out"), capsys)
    assert "scan.jpg" in err and said in err and "split list" not in err


def test_predict_refuses_an_out_that_is_a_file_or_read_only(checkpoint, photo, tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("mine\n")
    err = _fails(_predict(checkpoint, photo, "--out", tmp_path / "file"), capsys)
    assert "is a file" in err and "give another folder" in err
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro").chmod(0o555)
    real_access = os.access  # root ignores permission bits: answer as the kernel does for anyone else
    monkeypatch.setattr(
        os, "access", lambda p, m: real_access(p, m) and not (Path(p) == tmp_path / "ro" and m & os.W_OK)
    )
    for out in (tmp_path / "ro", tmp_path / "ro" / "sub"):
        err = _fails(_predict(checkpoint, photo, "--out", out), capsys)
        assert "read-only" in err and "give another folder" in err
    assert (tmp_path / "file").read_text() == "mine\n"


def test_predict_never_overwrites_unless_asked(checkpoint, photo, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "photo_overlay.png").write_bytes(b"the user's own picture")
    err = _fails(_predict(checkpoint, photo, "--out", out), capsys)
    assert "photo_overlay.png exists" in err and "--overwrite" in err
    assert (out / "photo_overlay.png").read_bytes() == b"the user's own picture" and not (
        out / "photo_label.png"
    ).exists()
    assert main([str(a) for a in _predict(checkpoint, photo, "--out", out, "--overwrite")]) == 0
    assert Image.open(out / "photo_overlay.png").size == (50, 40)
    other = tmp_path / "other" / "photo.jpg"  # two images of one name would write the same outputs
    other.parent.mkdir()
    Image.open(photo).convert("RGB").save(other)
    err = _fails(_predict(checkpoint, photo, other, "--out", tmp_path / "two"), capsys)
    assert "would both write photo_label.png" in err and not (tmp_path / "two").exists()


def _full_disk_after(monkeypatch, nbytes: int):
    """Writing a file stops with ENOSPC after ``nbytes`` (what a full disk does), leaving half a file."""
    real_save = Image.Image.save

    def save(self, fp, format=None, **kwargs):
        buffer = io.BytesIO()
        real_save(self, buffer, format=format or "PNG", **kwargs)
        Path(fp).write_bytes(buffer.getvalue()[:nbytes])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", save)


def test_predict_on_a_full_disk_says_so_and_leaves_no_half_file(checkpoint, photo, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    _full_disk_after(monkeypatch, 100)
    err = _fails(_predict(checkpoint, photo, "--out", out), capsys, status=1)
    assert "disk full" in err and "choose another --out" in err
    assert list(out.iterdir()) == []  # no half-written PNG that looks like a result


# ------------------------------------------------------------------------------------ checkpoints
def _pixels(n=4):
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(n, 3, 8, 8, generator=g), torch.randint(0, 2, (n, 8, 8), generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=2)


def test_a_full_disk_during_a_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    net, path = nn.Conv2d(3, 2, 1), tmp_path / "fcn.pt"
    training.save_checkpoint(path, net, history=[{"epoch": 1}])
    before = path.read_bytes()
    real_open = open

    class FullDisk(io.FileIO):
        def write(self, b):
            super().write(bytes(b)[:64])
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(
        training,
        "open",
        lambda p, mode="r", *a: FullDisk(p, "w") if "w" in mode else real_open(p, mode, *a),
        raising=False,
    )
    with torch.no_grad():
        net.weight.add_(1)
    with pytest.raises(OSError, match="disk full") as info:
        training.save_checkpoint(path, net, history=[{"epoch": 1}, {"epoch": 2}])
    assert info.value.errno == errno.ENOSPC and "free space on that disk or choose a checkpoint path" in str(info.value)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["fcn.pt"]
    assert len(fcnlib.load_checkpoint(path, nn.Conv2d(3, 2, 1))) == 1


def test_a_checkpoint_under_home_is_written_there(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    net = nn.Conv2d(3, 2, 1)
    trainer = torch.optim.SGD(net.parameters(), lr=0.01)
    history = fcnlib.train(net, _pixels(), None, None, trainer, 1, ["cpu"], checkpoint="~/runs/x.pt", progress=False)
    assert (tmp_path / "home" / "runs" / "x.pt").is_file() and not (tmp_path / "~").exists()
    resumed = fcnlib.train(
        net, _pixels(), None, None, trainer, 2, ["cpu"], checkpoint="~/runs/x.pt", resume=True, progress=False
    )
    assert len(history) == 1 and len(resumed) == 2 and resumed[0] == history[0]


def test_resuming_with_another_optimiser_is_refused_with_advice(tmp_path):
    net, path = nn.Conv2d(3, 2, 1), tmp_path / "fcn.pt"
    sgd = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    fcnlib.train(net, _pixels(), None, None, sgd, 1, ["cpu"], checkpoint=path, progress=False)
    adam = torch.optim.Adam(net.parameters(), lr=1e-3)
    with pytest.raises(ValueError, match="holds the state of SGD .*not of the Adam given: resume with the optimiser"):
        fcnlib.train(net, _pixels(), None, None, adam, 2, ["cpu"], checkpoint=path, resume=True, progress=False)
    state = torch.load(path, weights_only=True)  # a checkpoint of an older fcnlib, without the optimiser's name
    del state["optimizer_type"]
    torch.save(state, tmp_path / "old.pt")
    with pytest.raises(ValueError, match="holds the state of another optimiser"):
        fcnlib.load_checkpoint(tmp_path / "old.pt", net, adam)
    # the advice works: the same optimiser resumes, with the saved momentum buffers
    again = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    history = fcnlib.train(net, _pixels(), None, None, again, 2, ["cpu"], checkpoint=path, resume=True, progress=False)
    assert len(history) == 2


def test_resuming_another_variant_or_classes_says_what_to_run(root, checkpoint, tmp_path, capsys):
    saved = tmp_path / "fcn.pt"
    saved.write_bytes(checkpoint.read_bytes())  # FCN-32s of the teaching dataset's 7 classes
    argv = ["train", "--data-root", root, *SIZE, *SMALL, "--epochs", "2", "--checkpoint", saved, "--resume"]
    err = _fails([*argv, "--variant", "8s"], capsys)
    assert "holds an FCN-32s of 7 classes, but --data synthetic has 7 and --variant 8s was asked" in err
    assert "use --variant 32s and the data it was trained on" in err and "Traceback" not in err
    voc = data.make_synthetic_voc(tmp_path / "voc21", 6, 3, image_size=(64, 96))
    (voc / "classes.json").unlink()  # VOC's 21 classes
    err = _fails([*argv, "--data", tmp_path / "voc21"], capsys)
    assert "has 21:" in err and "--data synthetic (the teaching dataset's 7 classes)" in err
    assert main([str(a) for a in [*argv, "--variant", "32s"]]) == 0  # the advice works
    assert saved.read_bytes() != checkpoint.read_bytes()


def test_divergence_and_memory_end_with_advice_for_the_command_line(root, checkpoint, tmp_path, capsys, monkeypatch):
    argv = ["train", "--data-root", root, *SIZE, *SMALL, "--epochs", "1", "--lr", "1e12"]
    err = _fails(argv, capsys, status=1)
    assert "On the command line: run again with a lower --lr (e.g. 1e+11)" in err  # after train's own message
    kept = tmp_path / "earlier.pt"  # another run's checkpoint, kept when this one diverges at once
    kept.write_bytes(checkpoint.read_bytes())
    new = tmp_path / "new.pt"
    ways = [(["--checkpoint", kept, "--overwrite"], "--overwrite")]
    ways += [(["--checkpoint", new, "--schedule", "constant"], "--resume")]  # a constant rate can change on resuming
    ways += [(["--checkpoint", new, "--schedule", "onecycle"], "--overwrite")]  # a schedule restarts
    for more, advice in ways:
        err = _fails([*argv, *more], capsys, status=1)
        assert f"On the command line: run again with a lower --lr (e.g. 1e+11) and {advice}\n" in err, more
    assert kept.read_bytes() == checkpoint.read_bytes()

    def out_of_memory(*args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(fcnlib, "train", out_of_memory)
    err = _fails(argv[:-2], capsys, status=1)
    assert "out of memory" in err and "lower --batch-size or --crop-size" in err


def test_a_picture_too_large_for_pil_is_refused_with_advice(checkpoint, tmp_path, capsys, monkeypatch):
    for ext in ("png", "jpg"):
        Image.new("RGB", (40, 30)).save(tmp_path / f"big.{ext}")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # 1,200 pixels: more than twice the limit
    for ext in ("png", "jpg"):
        with pytest.raises(ValueError, match=f"cannot read image .*big.{ext}: .*scale it down"):
            data.read_image(tmp_path / f"big.{ext}")
        err = _fails(_predict(checkpoint, tmp_path / f"big.{ext}", "--out", tmp_path / "out"), capsys)
        assert "scale it down" in err


class _Files(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = self.server.files.get(self.path)
        if body is None:
            return self.send_error(404)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_the_advice_for_a_missing_voc_folder_works(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("FCNLIB_DATA_DIR", str(tmp_path / "elsewhere"))  # the advice must not rely on it
    argv = ["train", "--data", "voc", "--data-root", tmp_path / "mine", *SIZE, *SMALL, "--epochs", "1"]
    command = re.search(r'python -c "(.+)" gets VOC2012', _fails(argv, capsys)).group(1)
    data.make_synthetic_voc(tmp_path / "src", 6, 3, image_size=(64, 96))
    (tmp_path / "src" / "VOCdevkit" / "VOC2012" / "classes.json").unlink()  # a VOC2012 look-alike, 21 classes
    payload = voc_tar_bytes(tmp_path / "src")
    with serving(LoopbackServer(_Files)) as server:  # a VOC mirror on this machine
        server.files["/voc.tar"] = payload
        env = dict(
            os.environ, FCNLIB_VOC_MIRRORS=server.url("/voc.tar"), FCNLIB_VOC_SHA1=hashlib.sha1(payload).hexdigest()
        )
        env.update(PYTHONPATH=str(Path(fcnlib.__file__).parents[1]))
        subprocess.run([sys.executable, "-c", command], env=env, cwd=tmp_path, check=True, capture_output=True)
    assert main([str(a) for a in argv]) == 0
    assert "Using Pascal VOC2012" in capsys.readouterr().out


def test_train_takes_an_optimiser_and_a_one_cycle_schedule(root, tmp_path, capsys):
    path = tmp_path / "fcn.pt"
    argv = ["train", "--data-root", root, *SIZE, *SMALL, "--checkpoint", path]
    argv += ["--optimizer", "adamw", "--schedule", "onecycle", "--lr", "0.003"]
    assert main([str(a) for a in [*argv, "--epochs", "2"]]) == 0
    assert "adamw lr 0.003 (onecycle)" in capsys.readouterr().out
    state = training.read_checkpoint(path)
    assert state["optimizer_type"] == "AdamW"
    assert (state["scheduler"]["total_steps"], state["scheduler"]["last_epoch"]) == (2 * 3, 2 * 3)  # --max-steps 3
    reference = torch.optim.AdamW([nn.Parameter(torch.zeros(1))], lr=0.003)
    schedule = torch.optim.lr_scheduler.OneCycleLR(reference, 0.003, total_steps=6)
    for _ in range(6):
        reference.step(), schedule.step()
    assert state["optimizer"]["param_groups"][0]["lr"] == pytest.approx(schedule.get_last_lr()[0])
    err = _fails([*argv, "--epochs", "3", "--resume"], capsys, status=1)
    assert (
        "schedule of 6 steps peaking at [0.003] with weight decay [0.001] and this run has a learning-rate schedule of 9"
        in err
    )
    assert (
        "(on the command line: the same --schedule, --lr, --weight-decay, --epochs, --max-steps and --batch-size)"
        in err
    )
    constant = ["train", "--data-root", root, *SIZE, *SMALL, "--checkpoint", tmp_path / "constant.pt"]
    assert main([str(a) for a in [*constant, "--epochs", "1", "--schedule", "constant"]]) == 0
    err = _fails([*constant, "--epochs", "2", "--resume", "--schedule", "onecycle"], capsys, status=1)
    assert "trained with a constant learning rate and this run has a learning-rate schedule of 6 steps" in err
    assert main([str(a) for a in [*constant, "--epochs", "2", "--resume", "--schedule", "constant"]]) == 0
