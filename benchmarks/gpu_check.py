"""`make gpu-check`: every chapter, the training race against d2l and the FLOP floor, on one CUDA GPU.

What it does, in order (each step's output goes to a log; a table comes last):

1. **packages**: if the test packages (nbval, nbclient, ipykernel, ...) are missing, as on
   a bare GPU image without internet, install them from ``./wheels`` with
   ``pip install --no-index --find-links wheels`` (make that folder with
   ``bash benchmarks/wheels.sh`` on a machine with internet).
2. **chapters**: every ``notebooks/NN_*.ipynb`` under ``pytest --nbval-lax`` in the
   ``full`` profile (d2l's 320x480 crops, batch 32), one pytest per chapter, timed,
   with the GPU's memory use sampled by ``nvidia-smi``.
3. **train**: ``benchmarks/train_vs_d2l.py`` at d2l's settings: examples/s and test
   pixel accuracy of ``fcnlib.train`` and ``d2l.train_ch13`` in the same run.
4. **flops**: ``benchmarks/flops.py``: FLOPs of one training step and this GPU's measured
   bf16 matrix rate, hence the floor and the fraction of it each trainer achieves.

Results: a table on stdout, and ``gpu_check.json``, ``gpu_check.md`` and ``gpu_check.log``
in ``$OUT`` when it is set (the device tool fetches that folder), else in
``benchmarks/results/`` (``--out`` overrides both).

Exit codes: 0 every step passed; 1 a chapter or the benchmark failed (the table says
which); 2 no CUDA GPU here (a message says what to do; nothing is run or installed);
3 test packages missing and no wheels to install them from.

``--dry-run`` runs the same orchestration on the CPU with the ``quick`` profile, one
chapter and a tiny training run, to check the plumbing on a laptop in a minute or two.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

EXIT_OK, EXIT_FAILED, EXIT_NO_CUDA, EXIT_NO_PACKAGES = 0, 1, 2, 3

# import name -> what pip installs (keep in step with PACKAGES in wheels.sh)
REQUIRED_PACKAGES: dict[str, str] = {
    "nbval": "nbval",
    "nbclient": "nbclient",
    "nbformat": "nbformat",
    "ipykernel": "ipykernel",
    "ipywidgets": "ipywidgets",
    "jupyter_client": "jupyter_client",
    "pytest": "pytest",
    "tqdm": "tqdm",
    "torchmetrics": "torchmetrics",
}
# installed with --no-deps: d2l 1.0.3 pins numpy==1.23.5, which cannot install on Python 3.12
NODEPS_PACKAGES: dict[str, str] = {"d2l": "d2l==1.0.3"}

NO_CUDA_MESSAGE = (
    "CUDA is not available on this machine: gpu_check runs only on a CUDA GPU "
    "(torch {torch_version} sees no CUDA device{visible}).\n"
    "What to do:\n"
    "  - run it on a machine with an NVIDIA GPU and a CUDA build of PyTorch: `make gpu-check`, or\n"
    "    `python3 benchmarks/gpu_check.py` with the GPU machine's own python;\n"
    "  - if that machine has no internet, first run `bash benchmarks/wheels.sh` here and copy\n"
    "    the wheels/ folder into the repository there (README, section GPU);\n"
    "  - to check the plumbing on this CPU instead, run `python benchmarks/gpu_check.py --dry-run`."
)

GOAL_RATIO, GOAL_IMAGES_PER_S = 5.0, 3000.0


# ---------------------------------------------------------------------------- settings


def run_settings(dry_run: bool) -> dict[str, Any]:
    """What each step runs: d2l's settings on the GPU, tiny ones for ``--dry-run`` on the CPU.

    On the GPU the benchmark trains on Pascal VOC2012 when it is under ``data/``, else on the
    generated teaching dataset with VOC's split sizes (1,464 train, 1,449 val), twice per
    trainer in the order d2l, fcnlib, fcnlib, d2l.
    """
    if dry_run:
        return dict(
            profile="quick",
            device="cpu",
            crop=(64, 96),
            batch=8,
            epochs=1,
            n_train=40,
            n_val=8,
            data="synthetic",
            repeat=1,
            weights="none",
            chapter_timeout=600,
            train_timeout=1800,
        )
    from fcnlib.data import default_root, find_voc_dir
    from fcnlib.profiles import PROFILES

    full = PROFILES["full"]
    return dict(
        profile="full",
        device="cuda",
        crop=tuple(full["crop_size"]),
        batch=full["batch_size"],
        epochs=full["num_epochs"],
        n_train=full["n_train"],
        n_val=full["n_val"],
        data="voc" if find_voc_dir(default_root()) is not None else "synthetic",
        repeat=2,
        weights="auto",
        chapter_timeout=1800,
        train_timeout=3600,
    )


# ---------------------------------------------------------------------------- packages


def missing_packages(find_spec: Callable[[str], Any] = importlib.util.find_spec) -> list[str]:
    """Import names of the test packages this Python lacks (required ones first, then no-deps ones)."""
    return [name for name in list(REQUIRED_PACKAGES) + list(NODEPS_PACKAGES) if find_spec(name) is None]


def install_commands(missing: Sequence[str], wheels: Path, python: str = sys.executable) -> list[list[str]]:
    """The offline pip commands that install ``missing`` from the folder ``wheels``."""
    unknown = [m for m in missing if m not in REQUIRED_PACKAGES and m not in NODEPS_PACKAGES]
    if unknown:
        raise ValueError(
            f"not a package gpu_check installs: {unknown}; known: {sorted({**REQUIRED_PACKAGES, **NODEPS_PACKAGES})}"
        )
    pip = [
        python,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-index",
        "--find-links",
        str(wheels),
    ]
    commands = []
    regular = [REQUIRED_PACKAGES[m] for m in missing if m in REQUIRED_PACKAGES]
    if regular:
        commands.append(pip + regular)
    nodeps = [NODEPS_PACKAGES[m] for m in missing if m in NODEPS_PACKAGES]
    if nodeps:
        commands.append(pip + ["--no-deps"] + nodeps)
    return commands


def uninstalled_wheels(wheels: Path, installed: Callable[[str], bool]) -> list[Path]:
    """The wheel files in ``wheels`` whose distribution ``installed(name)`` says is absent."""
    found = []
    for wheel in sorted(wheels.glob("*.whl")):
        name = wheel.name.split("-", 1)[0]
        if not installed(name):
            found.append(wheel)
    return found


def _is_installed(name: str) -> bool:
    import importlib.metadata

    try:
        importlib.metadata.distribution(name)
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


def ensure_packages(wheels: Path, log: Callable[[str], None]) -> list[str]:
    """Install the missing test packages from ``wheels``; return what was installed.

    First with pip's resolver (which may upgrade small shared packages from the wheels);
    if it fails against this machine's packages (e.g. it will not accept an installed
    torch's own requirements), every wheel whose distribution is absent is installed with
    ``--no-deps``. Raises ``FileNotFoundError`` (saying what to do) when packages are
    missing and cannot be installed.
    """
    missing = missing_packages()
    if not missing:
        log("packages: every test package is already installed")
        return []
    if not wheels.is_dir() or not any(wheels.glob("*.whl")):
        raise FileNotFoundError(
            f"this Python ({sys.executable}) lacks {', '.join(missing)} and there are no wheels in {wheels}. "
            "On a machine with internet run `bash benchmarks/wheels.sh` and copy the wheels/ folder here "
            "(or `pip install " + " ".join(REQUIRED_PACKAGES.get(m, NODEPS_PACKAGES.get(m, m)) for m in missing) + "` "
            "where there is internet), then run gpu_check again."
        )
    log(f"packages: installing {', '.join(missing)} from {wheels} (offline)")
    for command in install_commands(missing, wheels):
        if subprocess.run(command).returncode != 0:
            rest = uninstalled_wheels(wheels, _is_installed)
            log(
                f"packages: pip's resolver refused (see above); installing the {len(rest)} wheels whose "
                "distributions are absent without dependency resolution (--no-deps)"
            )
            if (
                rest
                and subprocess.run(
                    command[:4]
                    + ["--quiet", "--disable-pip-version-check", "--no-index", "--no-deps"]
                    + [str(w) for w in rest]
                ).returncode
                != 0
            ):
                raise FileNotFoundError(f"could not install the wheels in {wheels} (pip's messages above)")
            break
    importlib.invalidate_caches()
    still = missing_packages()
    if still:
        raise FileNotFoundError(
            f"installing from {wheels} left {', '.join(still)} missing; run `bash benchmarks/wheels.sh` again"
        )
    return missing


# ---------------------------------------------------------------------------- running steps


class GpuMemoryMonitor:
    """Samples the GPU's used memory with ``nvidia-smi`` in a thread; ``peak_mib`` is the largest sample.

    Counts every process on the GPU (the notebook kernels run in their own processes, out of
    reach of ``torch.cuda.max_memory_allocated``). Without ``nvidia-smi`` it records nothing.
    """

    def __init__(self, interval: float = 0.5) -> None:
        self.interval = interval
        self.peak_mib: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._smi = shutil.which("nvidia-smi")

    def _sample(self) -> None:
        while not self._stop.is_set():
            try:
                out = subprocess.run(
                    [self._smi, "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                ).stdout
                used = max(float(v) for v in out.split())
                self.peak_mib = used if self.peak_mib is None else max(self.peak_mib, used)
            except (ValueError, OSError, subprocess.SubprocessError):
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> GpuMemoryMonitor:
        if self._smi:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)


def run_logged(
    command: Sequence[str], env: dict[str, str], log_file, timeout: float, echo: bool = False
) -> dict[str, Any]:
    """Run ``command``, copying its output to ``log_file`` (and stdout if ``echo``); kill its process group after ``timeout`` s."""
    log_file.write(f"\n$ {' '.join(command)}\n")
    log_file.flush()
    start = time.perf_counter()
    proc = subprocess.Popen(
        list(command),
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,
    )
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout, kill)
    timer.start()
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            log_file.write(line)
            if echo:
                print(line, end="", flush=True)
        code = proc.wait()
    finally:
        timer.cancel()
    log_file.flush()
    return dict(
        returncode=code, seconds=time.perf_counter() - start, timed_out=timed_out.is_set(), tail="".join(lines[-40:])
    )


def pytest_summary(output: str) -> str:
    """pytest's closing counts, e.g. ``'12 passed, 1 failed'``, from the end of its output."""
    for line in reversed(output.strip().splitlines()):
        found = re.findall(r"(\d+) (passed|failed|errors?|skipped|xfailed|xpassed)", line)
        if found:
            return ", ".join(f"{n} {what}" for n, what in found)
    return "no pytest summary"


def find_chapters(notebooks: Path, only: Sequence[str] | None = None) -> list[Path]:
    """The chapters ``NN_*.ipynb`` in ``notebooks``, sorted; ``only`` keeps those whose name starts with one of its items."""
    chapters = sorted(notebooks.glob("[0-9][0-9]_*.ipynb"))
    if only:
        chapters = [c for c in chapters if any(c.name.startswith(o) for o in only)]
    return chapters


def chapter_command(notebook: Path, sanitize: Path, timeout: int) -> list[str]:
    """One pytest run of one chapter under nbval, in this Python's own kernel."""
    return [
        sys.executable,
        "-m",
        "pytest",
        str(notebook),
        "--nbval-lax",
        "--nbval-current-env",
        "--nbval-sanitize-with",
        str(sanitize),
        f"--nbval-cell-timeout={timeout}",
        "-q",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
    ]


def train_command(settings: dict[str, Any], json_path: Path) -> list[str]:
    """The training benchmark at ``settings`` (flags of benchmarks/train_vs_d2l.py)."""
    h, w = settings["crop"]
    command = [
        sys.executable,
        str(HERE / "train_vs_d2l.py"),
        "--crop",
        str(h),
        str(w),
        "--batch",
        str(settings["batch"]),
        "--epochs",
        str(settings["epochs"]),
        "--device",
        settings["device"],
        "--json",
        str(json_path),
    ]
    command += ["--data", settings["data"], "--repeat", str(settings["repeat"]), "--weights", settings["weights"]]
    if settings["data"] == "synthetic":
        command += ["--n-train", str(settings["n_train"]), "--n-val", str(settings["n_val"])]
    return command


def trainer_rows(train_json: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    """``{"fcnlib": {...}, "d2l": {...}}`` with examples_per_s, pixel_acc, peak_mem_bytes from train_vs_d2l's JSON.

    train_vs_d2l.py writes, per trainer, ``examples_per_sec`` (wall clock, median over
    repeats) and ``test_pixel_acc`` (both nets evaluated the same way); ``peak_mem_bytes``
    is read when present (else the table shows the whole benchmark's nvidia-smi peak).
    """
    rows = {}
    for name in ("fcnlib", "d2l"):
        r = train_json.get(name) or {}
        rows[name] = {
            "examples_per_s": r.get("examples_per_sec"),
            "pixel_acc": r.get("test_pixel_acc"),
            "peak_mem_bytes": r.get("peak_mem_bytes"),
        }
    return rows


# ---------------------------------------------------------------------------- the table


def _fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "n/a" if value is None else format(value, spec) + suffix


def _rate(value: float | None) -> str:
    """Examples/s: thousands separated; one decimal for the tiny rates of a CPU dry run."""
    return _fmt(value, ",.0f" if value is None or value >= 100 else ".1f")


def _gib(n_bytes: float | None) -> str:
    return "n/a" if n_bytes is None else f"{n_bytes / 2**30:.1f} GiB"


def summarize(results: dict[str, Any]) -> dict[str, Any]:
    """Derived numbers: the speed ratio, each trainer's fraction of the bf16 floor, and the goals."""
    rows = results.get("trainers") or {}
    ours, d2l = rows.get("fcnlib", {}), rows.get("d2l", {})
    floor = (results.get("flops") or {}).get("floor_images_per_s")
    ratio = None
    if ours.get("examples_per_s") and d2l.get("examples_per_s"):
        ratio = ours["examples_per_s"] / d2l["examples_per_s"]
    fraction = {
        name: (r["examples_per_s"] / floor if floor and r.get("examples_per_s") else None) for name, r in rows.items()
    }
    goals = {
        f"fcnlib at least {GOAL_RATIO:g}x d2l's examples/s": None if ratio is None else ratio >= GOAL_RATIO,
        f"fcnlib at least {GOAL_IMAGES_PER_S:,.0f} images/s": (
            None if ours.get("examples_per_s") is None else ours["examples_per_s"] >= GOAL_IMAGES_PER_S
        ),
        "fcnlib's test pixel accuracy no worse than d2l's": (
            None
            if ours.get("pixel_acc") is None or d2l.get("pixel_acc") is None
            else ours["pixel_acc"] >= d2l["pixel_acc"]
        ),
    }
    return dict(speed_ratio=ratio, floor_fraction=fraction, goals=goals)


def format_table(results: dict[str, Any]) -> str:
    """The results as markdown: chapters, trainers, floor, goals. Missing numbers print as ``n/a``."""
    s = results.get("summary") or summarize(results)
    out = [
        f"# gpu_check on {results.get('device', 'n/a')} ({results.get('profile', 'n/a')} profile"
        f"{', DRY RUN on the CPU' if results.get('dry_run') else ''})",
        "",
    ]
    chapters = results.get("chapters") or []
    if chapters:
        out += ["| chapter | result | time | peak GPU memory |", "| --- | --- | ---: | ---: |"]
        for c in chapters:
            verdict = "pass" if c["passed"] else ("TIMEOUT" if c.get("timed_out") else "FAIL")
            out.append(
                f"| {c['name']} | {verdict} ({c.get('summary', '')}) | {c['seconds']:.1f} s | "
                f"{_fmt(c.get('peak_mib'), ',.0f', ' MiB')} |"
            )
        out.append("")
    train = results.get("train")
    if train:
        t = train.get("settings", {})
        crop = t.get("crop", ["?", "?"])
        out += [
            f"Training (benchmarks/train_vs_d2l.py): FCN-32s ResNet-18, {crop[0]}x{crop[1]} crops, "
            f"batch {t.get('batch', '?')}, {t.get('epochs', '?')} epoch(s), {t.get('data', '?')} data; "
            f"GPU memory peak of the whole benchmark (nvidia-smi): {_fmt(train.get('peak_mib'), ',.0f', ' MiB')}"
            + ("" if train.get("passed", True) else " -- BENCHMARK FAILED, see the log"),
            "",
            "| trainer | examples/s | vs d2l | test pixel acc | peak GPU memory | of bf16 floor |",
            "| --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        for name, label in (("fcnlib", "fcnlib.train"), ("d2l", "d2l.train_ch13")):
            r = (results.get("trainers") or {}).get(name, {})
            vs = None
            if r.get("examples_per_s") and (results["trainers"].get("d2l") or {}).get("examples_per_s"):
                vs = r["examples_per_s"] / results["trainers"]["d2l"]["examples_per_s"]
            out.append(
                f"| {label} | {_rate(r.get('examples_per_s'))} | {_fmt(vs, '.2f', 'x')} | "
                f"{_fmt(r.get('pixel_acc'), '.3f')} | {_gib(r.get('peak_mem_bytes'))} | "
                f"{_fmt(None if s['floor_fraction'].get(name) is None else 100 * s['floor_fraction'][name], '.1f', '%')} |"
            )
        out.append("")
    f = results.get("flops")
    if f:
        rate = f.get("bf16_matmul_flops")
        out += [
            "| FLOPs per step | per image | bf16 matmul rate | compute floor | rough memory floor |",
            "| ---: | ---: | ---: | ---: | ---: |",
            f"| {f['total'] / 1e12:.3f} TFLOP | {f['per_image'] / 1e9:.2f} GFLOP | "
            f"{_fmt(None if rate is None else rate / 1e12, '.0f', ' TFLOP/s')} | "
            f"{_fmt(f.get('floor_images_per_s'), ',.0f', ' images/s')} | "
            f"{_fmt(f.get('memory_floor_images_per_s'), ',.0f', ' images/s')} |",
            "",
        ]
    if results.get("flops_error"):
        out += [f"FLOP count / bf16 rate FAILED: {results['flops_error']}", ""]
    if train:
        out += ["Goals (issue 8):"]
        for goal, met in s["goals"].items():
            out.append(f"- {goal}: {'n/a' if met is None else ('yes' if met else 'NO')}")
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------------------- main


def _out_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    if os.environ.get("OUT"):
        return Path(os.environ["OUT"])
    return HERE / "results"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Exit codes: 0 all passed, 1 a step failed, 2 no CUDA, 3 no packages.",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="the whole orchestration on the CPU, quick profile, one chapter, tiny training",
    )
    parser.add_argument(
        "--steps", default="chapters,train,flops", help="comma-separated subset of chapters,train,flops (default: all)"
    )
    parser.add_argument(
        "--chapters", nargs="*", metavar="NN", help="only chapters whose name starts with these (e.g. 01 04)"
    )
    parser.add_argument(
        "--notebooks", default=str(ROOT / "notebooks"), help="folder of the chapters (default: notebooks/)"
    )
    parser.add_argument("--wheels", default=str(ROOT / "wheels"), help="offline wheels folder (default: wheels/)")
    parser.add_argument("--out", help="results folder (default: $OUT if set, else benchmarks/results/)")
    args = parser.parse_args(argv)
    steps = [s.strip() for s in args.steps.split(",") if s.strip()]
    unknown = sorted(set(steps) - {"chapters", "train", "flops"})
    if unknown:
        parser.error(f"unknown step(s) {unknown}: choose from chapters, train, flops")

    import torch

    if not args.dry_run and not torch.cuda.is_available():
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        print(
            NO_CUDA_MESSAGE.format(
                torch_version=torch.__version__,
                visible="" if visible is None else f"; CUDA_VISIBLE_DEVICES={visible!r}",
            ),
            file=sys.stderr,
        )
        return EXIT_NO_CUDA

    def say(message: str) -> None:
        print(f"[gpu_check {time.strftime('%H:%M:%S')}] {message}", flush=True)

    try:
        installed = ensure_packages(Path(args.wheels), say)
    except FileNotFoundError as err:
        print(f"gpu_check: {err}", file=sys.stderr)
        return EXIT_NO_PACKAGES

    sys.path.insert(0, str(ROOT))  # fcnlib from this checkout, installed or not
    settings = run_settings(args.dry_run)
    out = _out_dir(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "gpu_check_dry_run" if args.dry_run else "gpu_check"
    device_name = torch.cuda.get_device_name() if settings["device"] == "cuda" else "cpu"
    results: dict[str, Any] = dict(
        device=device_name,
        profile=settings["profile"],
        dry_run=args.dry_run,
        torch=torch.__version__,
        python=sys.version.split()[0],
        steps=steps,
        installed=installed,
    )

    env = dict(
        os.environ,
        FCNLIB_PROFILE=settings["profile"],
        PYTHONUNBUFFERED="1",
        MPLBACKEND="Agg",
        PYTHONPATH=os.pathsep.join([str(ROOT)] + [p for p in [os.environ.get("PYTHONPATH")] if p]),
    )
    if args.dry_run:
        env["FCNLIB_DEVICE"] = "cpu"
    failed = False
    with open(out / f"{stem}.log", "w") as log:
        if "chapters" in steps:
            only = args.chapters
            chapters = find_chapters(Path(args.notebooks), only)
            if args.dry_run and not only:
                chapters = chapters[:1]
            if not chapters:
                say(
                    f"chapters: no notebooks matching NN_*.ipynb in {args.notebooks}"
                    + (f" starting with {only}" if only else "")
                )
                failed = True
            results["chapters"] = []
            for nb in chapters:
                say(f"chapter {nb.stem}: pytest --nbval-lax, {settings['profile']} profile ...")
                with GpuMemoryMonitor() as mem:
                    run = run_logged(
                        chapter_command(nb, ROOT / "notebooks" / "sanitize.cfg", settings["chapter_timeout"]),
                        env,
                        log,
                        timeout=settings["chapter_timeout"],
                    )
                passed = run["returncode"] == 0
                failed |= not passed
                entry = dict(
                    name=nb.stem,
                    passed=passed,
                    seconds=run["seconds"],
                    timed_out=run["timed_out"],
                    summary=pytest_summary(run["tail"]),
                    peak_mib=mem.peak_mib,
                )
                results["chapters"].append(entry)
                say(f"chapter {nb.stem}: {'pass' if passed else 'FAIL'} ({entry['summary']}) in {run['seconds']:.1f} s")
        if "train" in steps:
            train_json = out / "train_vs_d2l.json"
            train_json.unlink(missing_ok=True)
            say(
                f"train: benchmarks/train_vs_d2l.py at {settings['crop'][0]}x{settings['crop'][1]}, batch {settings['batch']}, "
                f"{settings['epochs']} epochs on {settings['device']} ..."
            )
            with GpuMemoryMonitor() as mem:
                run = run_logged(
                    train_command(settings, train_json), env, log, timeout=settings["train_timeout"], echo=True
                )
            passed = run["returncode"] == 0 and train_json.is_file()
            failed |= not passed
            raw = json.loads(train_json.read_text()) if train_json.is_file() else {}
            results["train"] = dict(
                passed=passed,
                seconds=run["seconds"],
                peak_mib=mem.peak_mib,
                raw=raw,
                settings=dict(
                    crop=list(settings["crop"]),
                    batch=settings["batch"],
                    epochs=settings["epochs"],
                    data=settings["data"],
                    repeat=settings["repeat"],
                ),
            )
            results["trainers"] = trainer_rows(raw)
            say(f"train: {'done' if passed else 'FAILED (see the log)'} in {run['seconds']:.0f} s")
        if "flops" in steps:
            sys.path.insert(0, str(HERE))
            import flops

            h, w = settings["crop"]
            say(
                f"flops: counting one training step at {h}x{w}, batch {settings['batch']}"
                + (" and measuring the bf16 matmul rate" if settings["device"] == "cuda" else "")
                + " ..."
            )
            try:
                results["flops"] = flops.main(
                    ["--batch", str(settings["batch"]), "--crop", str(h), str(w)]
                    + (["--no-gpu"] if settings["device"] != "cuda" else [])
                )
            except Exception as err:  # keep the table of the steps that did run
                failed = True
                results["flops_error"] = f"{type(err).__name__}: {err}"
                say(f"flops: FAILED ({results['flops_error']})")

    results["summary"] = summarize(results)
    table = format_table(results)
    (out / f"{stem}.json").write_text(json.dumps(results, indent=2, default=str))
    (out / f"{stem}.md").write_text(table + "\n")
    print("\n" + table)
    print(f"results: {out / (stem + '.json')}, {out / (stem + '.md')}, log {out / (stem + '.log')}")
    return EXIT_FAILED if failed else EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
