"""The ImageNet weights path: cached files checked against the SHA-256 prefix in their name, wrong files
that fall back (auto) or raise (imagenet) with advice that works, and the bounded shared downloader."""

from __future__ import annotations

import hashlib
import http.server
import socket
import threading
import time
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch
import torchvision
from loopback import LoopbackServer, serving
from torch import nn

import fcnlib.weights
from fcnlib.model import fcn_resnet18
from fcnlib.weights import DownloadError, download_file, imagenet_weights_path


@pytest.fixture(autouse=True)
def isolated_hub(tmp_path, monkeypatch):
    # torch.hub.set_dir would outlive the test (a later TORCH_HOME is then ignored): patch its variable instead.
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    monkeypatch.setattr(fcnlib.weights, "_warned_offline", False)
    monkeypatch.setenv("FCNLIB_RESNET18_URL", f"http://127.0.0.1:{_closed_port()}/resnet18-f37072fd.pth")


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cache(obj, monkeypatch, tmp_path: Path, prefix: str | None = None) -> Path:
    """Save ``obj`` where fcnlib looks for it, under torchvision's name pattern with its own hash (or ``prefix``)."""
    src = tmp_path / "w.pth"
    torch.save(obj, src)
    payload = src.read_bytes()
    prefix = prefix or hashlib.sha256(payload).hexdigest()[:8]
    monkeypatch.setenv("FCNLIB_RESNET18_URL", f"http://127.0.0.1:{_closed_port()}/resnet18-{prefix}.pth")
    path = imagenet_weights_path()
    assert path.name == f"resnet18-{prefix}.pth"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path


def _resnet18_state() -> dict:
    torch.manual_seed(123)
    return torchvision.models.resnet18(weights=None).state_dict()


def test_cached_weights_are_loaded_into_the_backbone(monkeypatch, tmp_path):
    state = _resnet18_state()
    path = _cache(state, monkeypatch, tmp_path)
    net = fcn_resnet18(weights="imagenet")
    assert str(path) in net.weights_source
    assert torch.equal(net.layer4[1].conv2.weight, state["layer4.1.conv2.weight"])
    assert torch.equal(net.bn1.running_mean, state["bn1.running_mean"])


def test_damaged_cache_is_caught_by_its_hash(monkeypatch, tmp_path):
    state = _resnet18_state()
    good = _cache(state, monkeypatch, tmp_path)
    raw = bytearray(good.read_bytes())
    raw[len(raw) // 2 : len(raw) // 2 + 64] = b"\xff" * 64  # NaN-making bytes inside a weight tensor
    good.write_bytes(bytes(raw))
    with pytest.warns(UserWarning, match="SHA-256") as caught:
        net = fcn_resnet18(weights="auto")
    assert "random backbone" in net.weights_source and "Delete" in str(caught[0].message)
    assert all(torch.isfinite(p).all() for p in net.parameters())
    with pytest.raises(RuntimeError) as err:
        fcn_resnet18(weights="imagenet")
    assert str(good) in str(err.value) and f"Delete {good}" in str(err.value)
    # The advice works: deleted, it is downloaded again (here from a local server) and loads.
    good.unlink()
    src = tmp_path / "w.pth"
    with _serve(src.read_bytes(), rate=None) as url:
        monkeypatch.setenv("FCNLIB_RESNET18_URL", f"{url}/{good.name}")
        net = fcn_resnet18(weights="imagenet")
    assert torch.equal(net.layer1[0].conv1.weight, state["layer1.0.conv1.weight"])


def _wrong_shapes() -> dict:
    state = _resnet18_state()
    state["layer2.0.conv1.weight"] = torch.zeros(3, 3)
    return state


@pytest.mark.parametrize(
    "obj, detail",
    [
        (nn.Linear(4, 2).state_dict(), "not ResNet-18's state dict"),
        (_wrong_shapes(), "wrong shapes ['layer2.0.conv1.weight']"),
        ([1, 2, 3], "holds a list"),
        ({k: v.fill_(float("nan")) if v.is_floating_point() else v for k, v in _resnet18_state().items()}, "NaN"),
    ],
)
def test_readable_but_wrong_file_falls_back_for_auto(monkeypatch, tmp_path, obj, detail):
    path = _cache(obj, monkeypatch, tmp_path)
    torch.manual_seed(0)
    reference = fcn_resnet18(weights=None).state_dict()
    torch.manual_seed(0)
    with pytest.warns(UserWarning, match="randomly initialised") as caught:
        net = fcn_resnet18(weights="auto")
    assert detail in str(caught[0].message) and str(path) in str(caught[0].message)
    assert "random backbone" in net.weights_source
    # Nothing half-loaded: the backbone is the random initialisation the same seed gives.
    assert all(torch.equal(v, reference[k]) for k, v in net.state_dict().items())
    with pytest.raises(RuntimeError, match=f"Delete {path}"):
        fcn_resnet18(weights="imagenet")


def test_weights_download_uses_the_bounded_downloader(monkeypatch):
    def stalled(url, part, **kwargs):
        assert kwargs["deadline"] <= 1800 and kwargs["timeout"] <= 5 and kwargs["window"] <= 20
        raise DownloadError(f"{url} stalled: 12 bytes in the last 60 s")

    monkeypatch.setattr(fcnlib.weights, "download_file", stalled)
    with pytest.warns(UserWarning, match="stalled"):
        assert "stalled" in fcn_resnet18(weights="auto").weights_source


# ----------------------------------------------------------------------------- the shared downloader
@contextmanager
def _answering(answer) -> Iterator[str]:
    """A server on 127.0.0.1 calling ``answer(handler, stop)`` for each GET; yields its address, then sets stop."""
    stop = threading.Event()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            try:
                answer(self, stop)
            except OSError:  # the client went away
                return

        def log_message(self, *args):
            pass

    with serving(LoopbackServer(Handler)) as server:
        try:
            yield server.url("")
        finally:
            stop.set()


def _serve(payload: bytes, rate: float | None, limit_s: float = 6.0):
    """A server on 127.0.0.1 sending ``payload`` at ``rate`` bytes/s (None: at once); yields its address.
    A trickle stops after ``limit_s`` or when the block ends."""

    def answer(handler, stop):
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        if rate is None:
            handler.wfile.write(payload)
            return
        start, sent = time.monotonic(), 0
        while sent < len(payload) and time.monotonic() - start < limit_s and not stop.is_set():
            step = max(1, int(rate / 20))
            handler.wfile.write(payload[sent : sent + step])
            handler.wfile.flush()
            sent += step
            time.sleep(0.05)

    return _answering(answer)


def test_a_trickling_server_is_abandoned_by_the_stall_rule(tmp_path):
    part = tmp_path / "big.bin.part"
    start = time.monotonic()
    with _serve(b"x" * 1_000_000, rate=200) as url, pytest.raises(DownloadError) as err:
        download_file(f"{url}/big.bin", part, timeout=2, min_rate=1000, window=1.0, progress=False)
    took = time.monotonic() - start
    message = str(err.value)
    assert 0.9 < took < 4 and "stalled" in message and "below the minimum of 1,000 bytes/s" in message
    assert str(part) in message and "run again to resume" in message
    assert 0 < part.stat().st_size < 1000  # what arrived is kept for a resume


def test_the_overall_deadline_holds_even_above_the_minimum_rate(tmp_path):
    part = tmp_path / "big.bin.part"
    start = time.monotonic()
    with _serve(b"x" * 1_000_000, rate=20_000) as url, pytest.raises(DownloadError, match="did not finish within 2 s"):
        download_file(f"{url}/big.bin", part, timeout=2, min_rate=1000, window=0.5, deadline=2.0, progress=False)
    assert 1.9 < time.monotonic() - start < 5


# ----------------------------------------------------------------------------- issue 25: bounds that hold
def _misbehaving(kind: str):
    """A server that never finishes: ``"headers"`` trickles its header lines, ``"reconnect"`` sends 100 bytes of
    each answer, waits, closes and does it again on every new request, ``"body"`` trickles 20 bytes/s."""

    def answer(handler, stop):
        if kind == "headers":
            handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        else:
            handler.send_response(200)
            handler.send_header("Content-Length", "1000000")
            handler.end_headers()
        if kind == "reconnect":
            time.sleep(0.05)
            handler.wfile.write(b"x" * 100)
            return
        while not stop.is_set():
            handler.wfile.write(b"X-Slow: 1\r\n" if kind == "headers" else b"x")
            handler.wfile.flush()
            time.sleep(0.05)

    return _answering(answer)


def _bounded(call, limit_s: float):
    """Run ``call`` in a thread; its exception (or None) and the seconds it took, failing if it runs past limit_s."""
    outcome = {}

    def run():
        start = time.monotonic()
        try:
            call()
        except BaseException as err:  # noqa: BLE001 - handed to the test
            outcome["error"] = err
        outcome["took"] = time.monotonic() - start

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(limit_s)
    assert not thread.is_alive(), f"still waiting on the server after {limit_s} s: the bound does not hold"
    return outcome.get("error"), outcome["took"]


@pytest.mark.parametrize("kind", ["body", "headers", "reconnect"])
def test_the_stall_window_bounds_every_kind_of_trickle(tmp_path, kind):
    """Bytes keep arriving (so no read times out), far below min_rate: the download ends one window after it
    started, whether the server trickles its body, its headers, or answers anew each time it is asked."""
    part = tmp_path / "big.bin.part"
    with _misbehaving(kind) as url:
        err, took = _bounded(
            lambda: download_file(
                f"{url}/big.bin", part, timeout=2, retries=1000, min_rate=10_000, window=1.0, progress=False
            ),
            limit_s=10,
        )
    assert isinstance(err, DownloadError) and "stalled" in str(err) and "run again to resume" in str(err), err
    assert 0.9 < took < 1.6, took


def test_weights_auto_gives_up_on_a_trickling_server_within_its_bound(monkeypatch):
    """fcn_resnet18(weights="auto") against a server trickling bytes: a random backbone after STALL_WINDOW_S
    (20 s; 1 s here), not the 64 s a 60 s window plus a timeout allowed."""
    assert fcnlib.weights.STALL_WINDOW_S <= 20
    monkeypatch.setattr(fcnlib.weights, "STALL_WINDOW_S", 1.0)
    with _misbehaving("body") as url:
        monkeypatch.setenv("FCNLIB_RESNET18_URL", f"{url}/resnet18-f37072fd.pth")
        with pytest.warns(UserWarning, match="stalled"):
            err, took = _bounded(lambda: fcn_resnet18(weights="auto"), limit_s=10)
    assert err is None and took < 2.5, (err, took)
    part = imagenet_weights_path().with_name("resnet18-f37072fd.pth.part")
    assert part.stat().st_size > 0  # kept for a resume


def test_https_addresses_go_through_the_same_watched_connections(tmp_path):
    with pytest.raises(urllib.error.URLError):
        download_file(f"https://127.0.0.1:{_closed_port()}/x.bin", tmp_path / "x.part", timeout=2, progress=False)


def test_a_resnet34_state_dict_is_not_taken_for_resnet18(monkeypatch, tmp_path):
    """Without a hash in the file name only the contents can tell: ResNet-34 has ResNet-18's keys and shapes, and
    more layers (layer1.2, ...)."""
    torch.manual_seed(0)
    monkeypatch.setenv("FCNLIB_RESNET18_URL", f"http://127.0.0.1:{_closed_port()}/resnet18.pth")
    path = imagenet_weights_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(torchvision.models.resnet34(weights=None).state_dict(), path)
    with pytest.warns(UserWarning, match=r"layers ResNet-18 lacks \['layer1\.2\..*a deeper ResNet"):
        net = fcn_resnet18(weights="auto")
    assert "random backbone" in net.weights_source
    with pytest.raises(RuntimeError, match=f"Delete {path}"):
        fcn_resnet18(weights="imagenet")
    state = _resnet18_state()  # the advice, followed: the right file in its place
    torch.save(state, path)
    net = fcn_resnet18(weights="imagenet")
    assert torch.equal(net.layer3[1].conv1.weight, state["layer3.1.conv1.weight"])
    head = dict(state, **{"fc.weight": torch.zeros(10, 512), "fc.bias": torch.zeros(10)})
    torch.save(head, path)
    with pytest.raises(RuntimeError, match=r"wrong shapes \['fc.weight'\]"):
        fcn_resnet18(weights="imagenet")
