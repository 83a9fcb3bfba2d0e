"""`make lab`, the README's first command: it starts a JupyterLab that answers, also as root (containers, cloud
machines, WSL), where JupyterLab refuses to start without --allow-root.

Reference: JupyterLab's own page, fetched over HTTP from the server the Makefile's recipe starts."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TOKEN = "fcnlib-make-lab-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _make(*args: str, port: int) -> list[str]:
    """make with this interpreter's environment as the Makefile's venv, its set-up step taken as done (the path
    relative to the checkout: make splits words at spaces, and a clone's path may hold one)."""
    venv = os.path.relpath(sys.prefix, REPO)
    return ["make", "-s", "-o", f"{venv}/.fcnlib-installed", *args, f"VENV={venv}", f"PORT={port}"]


def _fetch_lab(port: int, proc: subprocess.Popen, log: Path, wait: float = 120) -> str:
    deadline = time.monotonic() + wait
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={TOKEN}", timeout=5) as response:
                return response.read().decode("utf-8", "replace")
        except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"make lab stopped or did not answer ({proc.poll()}):\n{log.read_text()}") from err
            time.sleep(0.5)


def test_make_lab_starts_a_server_that_answers_as_this_user(tmp_path):
    port = _free_port()
    recipe = subprocess.run(_make("-n", "lab", port=port), cwd=REPO, capture_output=True, text=True, check=True)
    assert ("--allow-root" in recipe.stdout) == (os.geteuid() == 0), recipe.stdout
    env = dict(os.environ, JUPYTER_TOKEN=TOKEN, BROWSER="true", JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"))
    env.update(JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"), JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "set"))
    log = tmp_path / "lab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(
            _make("lab", port=port), cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        page = _fetch_lab(port, proc, log)
        assert "JupyterLab" in page and "Running as root is not recommended" not in log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # make and the server it started: one process group
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    try:  # nothing of the group is left running
        os.killpg(proc.pid, 0)
        raise AssertionError("a process of make lab is still running")
    except ProcessLookupError:
        pass
