"""The command line (python -m fcnlib): help, argument errors, train / evaluate / predict, and torchrun with DDP."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import fcnlib
from fcnlib import data
from fcnlib.__main__ import main

DATA = ["--data", "synthetic", "--n-train", "12", "--n-val", "5", "--image-size", "64", "96", "--crop-size", "64", "96"]
KEYS = ("loss", "train_acc", "pixel_acc", "mean_acc", "miou", "fw_iou", "iou")
SMALL = ["--device", "cpu", "--batch-size", "2", "--max-steps", "3", "--weights", "none"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A generated dataset of 12 + 5 images (5 does not split evenly over 2 processes), made once."""
    root = tmp_path_factory.mktemp("cli")
    data.ensure_synthetic_voc(root / "data" / "synthetic", 12, 5, seed=0, image_size=(64, 96))
    return root


def _run(*args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(Path(fcnlib.__file__).parents[1]))
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _net(checkpoint):
    net = fcnlib.fcn_resnet18(len(data.SYNTHETIC_CLASSES), "32s", weights=None)
    history = fcnlib.load_checkpoint(checkpoint, net)
    return net, history


def _val_metrics(net, root):
    """A single-process evaluation of the validation crops, with the library's own loader."""
    voc_dir = data.find_voc_dir(root / "data" / "synthetic")
    return fcnlib.evaluate(net, data.load_data_voc(4, (64, 96), root=voc_dir)[1])


def test_help_shows_an_example_for_every_command(capsys, tmp_path):
    result = _run("-m", "fcnlib", "--help", cwd=tmp_path)
    assert result.returncode == 0 and "examples:" in result.stdout and "torchrun" in result.stdout
    for command in ("train", "evaluate", "predict"):
        with pytest.raises(SystemExit) as exit_info:
            main([command, "--help"])
        assert exit_info.value.code == 0
        text = capsys.readouterr().out
        assert f"example:\n  python -m fcnlib {command}" in text
        # train's help says how the step scales with N processes (gradients averaged, loss summed, BatchNorm)
        assert ("multiply --lr by N" in text and "--sync-bn" in text) == (command == "train")


@pytest.mark.parametrize(
    "argv, advice",
    [
        (["train", "--crop-size", "65", "96"], "expected a multiple of 32"),
        (["train", "--batch-size", "0"], "positive whole number"),
        (["train", "--epochs", "0"], "positive whole number"),
        (["train", "--resume"], "give that path too"),
        (["train", "--sync-bn", "--device", "cpu"], "CUDA GPUs only; drop it"),
        (["train", "--data", "/no/such/folder", "--device", "cpu"], "or use --data synthetic"),
        (
            ["evaluate", "--checkpoint", "/no/such.pt", "--device", "cpu"],
            "no such file; python -m fcnlib train --checkpoint",
        ),
        (["predict", "--checkpoint", "x.pt"], "the following arguments are required: IMAGE, --out"),
    ],
)
def test_bad_arguments_say_what_to_do(argv, advice, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2
    assert advice in capsys.readouterr().err


def test_train_evaluate_predict_in_one_process(root, tmp_path, capsys):
    checkpoint = tmp_path / "fcn.pt"
    assert (
        main(
            [
                "train",
                *DATA,
                *SMALL,
                "--data-root",
                str(root / "data"),
                "--epochs",
                "1",
                "--checkpoint",
                str(checkpoint),
            ]
        )
        == 0
    )
    net, history = _net(checkpoint)
    assert len(history) == 1
    expected = _val_metrics(net, root)
    capsys.readouterr()
    main(["evaluate", *DATA, "--data-root", str(root / "data"), "--checkpoint", str(checkpoint), "--device", "cpu"])
    lines = capsys.readouterr().out.splitlines()
    printed = dict(zip(lines[-8].split()[::2], map(float, lines[-8].split()[1::2])))
    assert printed == {k: round(expected[k], 4) for k in ("pixel_acc", "mean_acc", "miou", "fw_iou")}
    assert [line.split()[1] for line in lines[-7:]] == data.SYNTHETIC_CLASSES
    assert history[0]["miou"] == pytest.approx(expected["miou"], abs=1e-12)

    rng = np.random.default_rng(0)
    images = {"small": (37, 50), "wide": (70, 130)}
    for name, (h, w) in images.items():
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(tmp_path / f"{name}.png")
    for mode in ("pad", "tile"):
        out = tmp_path / mode
        paths = [str(tmp_path / f"{name}.png") for name in images]
        main(["predict", "--checkpoint", str(checkpoint), *paths, "--out", str(out), "--mode", mode, "--crop-size", "64", "64", "--device", "cpu"])  # fmt: skip
        for name, (h, w) in images.items():
            image = np.array(Image.open(tmp_path / f"{name}.png"))
            label = Image.open(out / f"{name}_label.png")
            assert label.mode == "P" and label.size == (w, h)
            pred = fcnlib.predict_full(net, torch.from_numpy(image).permute(2, 0, 1), (64, 64), mode=mode)
            np.testing.assert_array_equal(np.asarray(label), pred.numpy())
            colours = np.array(data.VOC_COLORMAP, dtype=np.uint8)[pred.numpy()]
            np.testing.assert_array_equal(np.asarray(label.convert("RGB")), colours)
            overlay = np.round((image.astype(np.float64) + colours) / 2)
            assert np.abs(np.asarray(Image.open(out / f"{name}_overlay.png")).astype(np.float64) - overlay).max() <= 1


def test_torchrun_two_processes_keep_replicas_equal_and_resume(root, tmp_path):
    checkpoint, dump = tmp_path / "run" / "fcn.pt", tmp_path / "dump"
    dump.mkdir()
    launch = [
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "fcnlib",
        "train",
        *DATA,
        *SMALL,
    ]
    launch += ["--data-root", str(root / "data"), "--checkpoint", str(checkpoint), "--dump-state", str(dump)]
    # about resuming, not the schedule: a resumed one-cycle run must repeat the saved run's length (--epochs)
    launch += ["--schedule", "constant"]
    result = _run(*launch, "--epochs", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("FCN-32s on cpu x 2 process(es)") == 1  # rank 0 alone prints
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == ["fcn.pt"]  # one checkpoint, no leftovers
    ranks = [torch.load(dump / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    assert ranks[0]["model"].keys() == ranks[1]["model"].keys()
    for key, value in ranks[0]["model"].items():  # parameters and BatchNorm buffers alike
        assert torch.equal(value, ranks[1]["model"][key]), key
    metrics = [[{k: e[k] for k in KEYS} for e in rank["history"]] for rank in ranks]
    np.testing.assert_equal(metrics[0], metrics[1])  # every rank reports the same numbers (NaN for absent classes)
    assert len(metrics[0]) == 1
    net, history = _net(checkpoint)  # a plain net loads it: no "module." prefix
    for key, value in net.state_dict().items():
        assert torch.equal(value, ranks[0]["model"][key]), key
    expected = _val_metrics(net, root)
    for key in ("pixel_acc", "mean_acc", "miou", "fw_iou"):
        assert history[0][key] == pytest.approx(expected[key], abs=1e-12), key
    np.testing.assert_allclose(history[0]["iou"], expected["iou"].numpy(), atol=1e-12)

    result = _run(*launch, "--epochs", "2", "--resume", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    resumed = _net(checkpoint)[1]
    assert [e["epoch"] for e in resumed] == [1, 2]
    assert resumed[0]["seconds"] == history[0]["seconds"]  # epoch 1 read back from the checkpoint, not re-run
    np.testing.assert_equal({k: resumed[0][k] for k in KEYS}, {k: history[0][k] for k in KEYS})
