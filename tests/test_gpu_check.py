"""benchmarks/gpu_check.py and benchmarks/flops.py on a CPU: the no-CUDA exit, the table, the FLOP counter.

The GPU run itself cannot be tested here; what can is tested against hand-computed values:
the FLOPs of convolutions from their textbook formula, ratios and fractions from the
synthetic numbers they are made of, and the command's behaviour without CUDA.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


gpu_check = _load("gpu_check")
flops = _load("flops")


def conv_flops(n, c_in, c_out, h_out, w_out, k):
    """The textbook count: every output value is a c_in*k*k dot product, a multiply-add (2 FLOPs) per term."""
    return 2 * n * c_out * h_out * w_out * c_in * k * k


# ----------------------------------------------------------------- no CUDA


def test_without_cuda_the_command_says_what_to_do_and_exits_2(tmp_path):
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", OUT="")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == gpu_check.EXIT_NO_CUDA == 2
    assert "CUDA is not available on this machine: gpu_check runs only on a CUDA GPU" in proc.stderr
    assert "wheels.sh" in proc.stderr and "--dry-run" in proc.stderr
    assert list(tmp_path.iterdir()) == []  # nothing run, nothing written


# ----------------------------------------------------------------- the table


def synthetic_results(ours=3300.0, d2l=600.0, acc_ours=0.851, acc_d2l=0.84):
    return {
        "device": "NVIDIA H100 80GB HBM3",
        "profile": "full",
        "dry_run": False,
        "chapters": [
            dict(
                name="01_bilinear_kernel",
                passed=True,
                seconds=12.34,
                timed_out=False,
                summary="14 passed",
                peak_mib=1024.0,
            ),
            dict(
                name="04_training",
                passed=False,
                seconds=300.0,
                timed_out=False,
                summary="9 passed, 1 failed",
                peak_mib=None,
            ),
        ],
        "train": dict(
            passed=True, peak_mib=20480.0, settings=dict(crop=[320, 480], batch=32, epochs=5, data="synthetic")
        ),
        "trainers": {
            "fcnlib": dict(examples_per_s=ours, pixel_acc=acc_ours, peak_mem_bytes=9 * 2**30),
            "d2l": dict(examples_per_s=d2l, pixel_acc=acc_d2l, peak_mem_bytes=None),
        },
        "flops": dict(
            total=1.0951e12,
            per_image=34.22e9,
            bf16_matmul_flops=800e12,
            floor_images_per_s=23378.0,
            memory_floor_images_per_s=11500.0,
        ),
    }


def test_summary_ratio_fraction_and_goals_from_synthetic_numbers():
    s = gpu_check.summarize(synthetic_results())
    assert s["speed_ratio"] == pytest.approx(3300 / 600)
    assert s["floor_fraction"]["fcnlib"] == pytest.approx(3300 / 23378)
    assert s["floor_fraction"]["d2l"] == pytest.approx(600 / 23378)
    assert list(s["goals"].values()) == [True, True, True]
    slow = gpu_check.summarize(synthetic_results(ours=2400.0, acc_ours=0.80))  # 4x, under 3,000/s, less accurate
    assert list(slow["goals"].values()) == [False, False, False]


def test_table_rows_from_synthetic_results():
    table = gpu_check.format_table(synthetic_results())
    lines = table.splitlines()
    assert "| 01_bilinear_kernel | pass (14 passed) | 12.3 s | 1,024 MiB |" in lines
    assert "| 04_training | FAIL (9 passed, 1 failed) | 300.0 s | n/a |" in lines
    # 3300 / 600 = 5.50x; 3300 / 23378 = 14.1%; 600 / 23378 = 2.6%
    assert "| fcnlib.train | 3,300 | 5.50x | 0.851 | 9.0 GiB | 14.1% |" in lines
    assert "| d2l.train_ch13 | 600 | 1.00x | 0.840 | n/a | 2.6% |" in lines
    assert "| 1.095 TFLOP | 34.22 GFLOP | 800 TFLOP/s | 23,378 images/s | 11,500 images/s |" in lines
    assert "- fcnlib at least 5x d2l's examples/s: yes" in lines
    assert "- fcnlib at least 3,000 images/s: yes" in lines


def test_table_marks_missing_numbers_and_unmet_goals():
    results = synthetic_results(ours=2000.0)
    results["trainers"]["d2l"]["examples_per_s"] = None
    results["flops"]["bf16_matmul_flops"] = results["flops"]["floor_images_per_s"] = None
    lines = gpu_check.format_table(results).splitlines()
    assert "| fcnlib.train | 2,000 | n/a | 0.851 | 9.0 GiB | n/a |" in lines
    assert "- fcnlib at least 5x d2l's examples/s: n/a" in lines
    assert "- fcnlib at least 3,000 images/s: NO" in lines


# ----------------------------------------------------------------- packages and pytest output


def test_missing_packages_and_offline_install_commands(tmp_path):
    present = {"nbformat", "ipykernel", "ipywidgets", "jupyter_client", "pytest", "tqdm", "torchmetrics"}
    missing = gpu_check.missing_packages(lambda name: object() if name in present else None)
    assert missing == ["nbval", "nbclient", "d2l"]
    commands = gpu_check.install_commands(missing, tmp_path, python="py")
    offline = ["py", "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index", "--find-links"]
    offline.append(str(tmp_path))
    assert commands == [[*offline, "nbval", "nbclient"], [*offline, "--no-deps", "d2l==1.0.3"]]
    with pytest.raises(ValueError, match="not a package gpu_check installs"):
        gpu_check.install_commands(["torch"], tmp_path)


def test_fallback_installs_only_wheels_of_absent_distributions(tmp_path):
    for name in (
        "nbval-0.11.0-py2.py3-none-any.whl",
        "typing_extensions-4.15.0-py3-none-any.whl",
        "pyzmq-27.3.0-cp312-abi3-manylinux_2_26_x86_64.manylinux_2_28_x86_64.whl",
        "notes.txt",
    ):
        (tmp_path / name).write_text("")
    rest = gpu_check.uninstalled_wheels(tmp_path, installed=lambda name: name == "typing_extensions")
    assert [p.name.split("-")[0] for p in rest] == ["nbval", "pyzmq"]


def test_wheels_script_and_gpu_check_ask_for_the_same_packages():
    script = (ROOT / "benchmarks" / "wheels.sh").read_text()
    line = next(row for row in script.splitlines() if row.startswith("PACKAGES=("))
    assert line[len("PACKAGES=(") : -1].split() == list(gpu_check.REQUIRED_PACKAGES.values())
    assert all(f'"{spec}"' in script for spec in gpu_check.NODEPS_PACKAGES.values())


def test_pytest_summary_reads_the_closing_line():
    out = "....F\n=== short test summary ===\nFAILED x.ipynb::Cell 3\n1 failed, 12 passed, 2 skipped in 33.1s\n"
    assert gpu_check.pytest_summary(out) == "1 failed, 12 passed, 2 skipped"
    assert gpu_check.pytest_summary("Traceback ...\nImportError: no nbval") == "no pytest summary"


def test_find_chapters_keeps_numbered_notebooks_in_order(tmp_path):
    for name in ("02_b.ipynb", "01_a.ipynb", "scratch.ipynb", "10_c.ipynb"):
        (tmp_path / name).write_text("{}")
    assert [p.name for p in gpu_check.find_chapters(tmp_path)] == ["01_a.ipynb", "02_b.ipynb", "10_c.ipynb"]
    assert [p.name for p in gpu_check.find_chapters(tmp_path, ["10", "01"])] == ["01_a.ipynb", "10_c.ipynb"]


# ----------------------------------------------------------------- FLOP counter against hand counts


def test_one_conv_layer_flops_match_the_formula():
    conv = nn.Conv2d(3, 8, kernel_size=3, padding=1, bias=False)
    counts = flops.count_step_flops(conv, (2, 3, 10, 12))
    forward = conv_flops(2, 3, 8, 10, 12, 3)
    assert counts["forward"] == forward == 2 * 2 * 8 * 10 * 12 * 3 * 9
    # The input needs no gradient, so backward computes only the weight gradient: one more conv's worth.
    assert counts["backward"] == forward
    assert counts["total"] == 2 * forward


def test_backward_costs_two_convs_where_the_input_gradient_is_needed():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(4, 6, 1))
    counts = flops.count_step_flops(net, (1, 3, 16, 16), device="cpu")
    f1, f2 = conv_flops(1, 3, 4, 8, 8, 3), conv_flops(1, 4, 6, 8, 8, 1)
    assert counts["forward"] == f1 + f2
    assert counts["backward"] == f1 + 2 * f2  # conv2: weight and input gradients; conv1: weight only


def test_fcn_step_flops_match_a_per_layer_hand_count():
    import fcnlib

    h, w, batch = 64, 96, 2
    net = fcnlib.fcn_resnet18(weights=None)
    expected, first = 0, None

    def hook(m, inputs, output):
        nonlocal expected, first
        if isinstance(m, nn.ConvTranspose2d):  # every input value is scattered through a k*k*c_out window
            n, c_in, hi, wi = inputs[0].shape
            f = 2 * n * c_in * hi * wi * m.out_channels * m.kernel_size[0] * m.kernel_size[1]
        else:
            n, c_out, ho, wo = output.shape
            f = 2 * n * c_out * ho * wo * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        first = f if first is None else first
        expected += f

    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            m.register_forward_hook(hook)
    with torch.no_grad():
        net(torch.zeros(batch, 3, h, w))
    counts = flops.fcn_step_flops(batch=batch, crop=(h, w))
    assert counts["forward"] == expected
    # Backward: two convs' worth per layer, minus the input gradient of the first conv (images need none).
    assert counts["backward"] == 2 * expected - first
    assert counts["per_image"] == pytest.approx((3 * expected - first) / batch)


def test_activation_elements_count_every_leaf_output():
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
    assert flops.activation_elements(net, (2, 3, 10, 12)) == 2 * 8 * 10 * 12 * 2 + 2 * 8 * 5 * 6


def test_floor_is_rate_over_work_and_rejects_nonsense():
    assert flops.floor_images_per_s(34.22e9, 800e12) == pytest.approx(800e12 / 34.22e9)
    with pytest.raises(ValueError, match="positive"):
        flops.floor_images_per_s(0, 800e12)
    with pytest.raises(ValueError, match="CUDA"):
        flops.matmul_rate("cpu")
    with pytest.raises(ValueError, match="batch_shape"):
        flops.count_step_flops(nn.Conv2d(3, 3, 1), (0, 3, 8, 8))


# ----------------------------------------------------------------- the steps' commands


def test_train_command_uses_flags_train_vs_d2l_accepts():
    train_vs_d2l = _load("train_vs_d2l")
    for dry_run in (True, False):
        settings = gpu_check.run_settings(dry_run)
        args = train_vs_d2l.parse_args(gpu_check.train_command(settings, Path("x.json"))[2:])
        assert (tuple(args.crop), args.batch, args.epochs, args.device) == (
            tuple(settings["crop"]),
            settings["batch"],
            settings["epochs"],
            settings["device"],
        )
    full = gpu_check.run_settings(False)
    assert (full["crop"], full["batch"], full["profile"]) == ((320, 480), 32, "full")  # d2l's settings


def test_trainer_rows_read_train_vs_d2l_keys():
    raw = {
        "fcnlib": {"examples_per_sec": 3100.0, "test_pixel_acc": 0.8},
        "d2l": {"examples_per_sec": 500.0, "test_pixel_acc": 0.79},
    }
    rows = gpu_check.trainer_rows(raw)
    assert rows["fcnlib"] == {"examples_per_s": 3100.0, "pixel_acc": 0.8, "peak_mem_bytes": None}
    assert rows["d2l"]["examples_per_s"] == 500.0


def _notebook(path: Path, source: str) -> None:
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))


@pytest.mark.slow
def test_dry_run_times_each_chapter_under_nbval_and_writes_the_results(tmp_path):
    notebooks, out = tmp_path / "notebooks", tmp_path / "out"
    notebooks.mkdir()
    _notebook(notebooks / "01_ok.ipynb", "import fcnlib\nprint(fcnlib.profile().name)")
    _notebook(notebooks / "02_broken.ipynb", "assert 1 + 1 == 3, 'a failing chapter'")
    _notebook(notebooks / "03_skipped.ipynb", "print('not selected')")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "gpu_check.py"),
            "--dry-run",
            "--steps",
            "chapters,flops",
            "--chapters",
            "01",
            "02",
            "--notebooks",
            str(notebooks),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == gpu_check.EXIT_FAILED, proc.stdout + proc.stderr  # one chapter fails
    results = json.loads((out / "gpu_check_dry_run.json").read_text())
    assert [(c["name"], c["passed"]) for c in results["chapters"]] == [("01_ok", True), ("02_broken", False)]
    assert results["profile"] == "quick" and results["dry_run"] is True
    h, w = results["flops"]["crop"]
    batch = results["flops"]["batch"]
    assert results["flops"]["per_image"] == results["flops"]["total"] / batch > 0
    table = (out / "gpu_check_dry_run.md").read_text()
    assert "| 01_ok | pass (1 passed) |" in table and "| 02_broken | FAIL (1 failed) |" in table
    assert "a failing chapter" in (out / "gpu_check_dry_run.log").read_text()  # the log holds pytest's output
    assert table.strip() in proc.stdout  # and the table is printed last
