"""Fixtures for the real-browser tests: a throwaway JupyterLab server and headless Debian Chromium.

JupyterLab runs from this virtual environment on 127.0.0.1, on a free port, with a random
token, in a temporary copy of notebooks/ (so the repository's notebooks are never
touched), with the quick profile and with its own settings, workspaces and runtime
folders. Its notebook windowing mode is set to "none", so cells below the fold are
rendered too. Chromium is Debian's ``/usr/bin/chromium`` driven by Playwright (its own
browser download is not needed), started with an empty profile and the flags that keep
it off the network. Both are stopped in the fixtures' teardown, kernels included.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_MISSING = f"Chromium not found at {CHROMIUM}: install it with apt-get install chromium; browser test skipped"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
SCREENSHOTS = REPO / "build" / "ui"

# User settings JupyterLab reads from JUPYTERLAB_SETTINGS_DIR (one file per plugin).
LAB_SETTINGS = {
    # Render every cell, not only those on screen: the tests look at outputs far down the page.
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    # No news or update checks (no network here) and no pop-up asking about them.
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
}


@dataclass
class Lab:
    """A running JupyterLab: open ``url(name)`` in the browser."""

    base_url: str
    token: str
    root: Path
    log: Path

    def url(self, notebook: str) -> str:
        """The notebook alone in a fresh workspace of its own (no tabs restored from earlier tests)."""
        workspace = notebook.replace(".", "-")
        return f"{self.base_url}/lab/workspaces/{workspace}/tree/{notebook}?reset&token={self.token}"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """Stop JupyterLab (it shuts its kernels down), then anything left in its process group."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)  # jupyter_server stops kernels on SIGTERM
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # the group this fixture created (start_new_session)
    except ProcessLookupError:
        pass
    if proc.poll() is None:
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    if not CHROMIUM.exists():
        pytest.skip(CHROMIUM_MISSING)
    return CHROMIUM


@pytest.fixture(scope="session")
def lab(chromium_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    root = tmp_path_factory.mktemp("jupyterlab")
    notebooks = root / "notebooks"
    shutil.copytree(REPO / "notebooks", notebooks, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = root / "settings"
    for name, value in LAB_SETTINGS.items():
        path = settings / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))
    for folder in ("workspaces", "runtime"):
        (root / folder).mkdir()
    port, token = _free_port(), secrets.token_hex(24)
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "JUPYTER_TOKEN")}
    env.update(
        FCNLIB_PROFILE="quick",
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(root / "workspaces"),
        JUPYTER_RUNTIME_DIR=str(root / "runtime"),
        PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
    )
    cmd = [
        sys.executable,
        "-m",
        "jupyterlab",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={notebooks}",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    log = root / "jupyterlab.log"
    with open(log, "wb") as log_file:
        proc = subprocess.Popen(
            cmd, cwd=notebooks, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    lab = Lab(f"http://127.0.0.1:{port}", token, notebooks, log)
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {proc.returncode}:\n{lab.log_tail()}")
            try:
                with urllib.request.urlopen(f"{lab.base_url}/api/status?token={token}", timeout=5) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"JupyterLab did not answer within 180 s:\n{lab.log_tail()}")
            time.sleep(0.5)
        # Check that JupyterLab read our settings (else off-screen cells would not be rendered).
        url = f"{lab.base_url}/lab/api/settings/@jupyterlab/notebook-extension:tracker?token={token}"
        with urllib.request.urlopen(url, timeout=30) as r:
            tracker = json.load(r)
        mode = tracker.get("settings", {}).get("windowingMode")
        assert mode == "none", f"JupyterLab ignored the settings in {settings}: windowingMode is {mode!r}"
        yield lab
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def browser(chromium_path: Path, tmp_path_factory: pytest.TempPathFactory):
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is missing: pip install -e '.[test]'"
    )
    profile = tmp_path_factory.mktemp("chromium-profile")  # empty: no history, no extensions
    pw = sync_api.sync_playwright().start()
    try:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(chromium_path),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1500, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()
    finally:
        pw.stop()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
