"""ImageNet weights for the ResNet-18 backbone: torch's hub cache, hash check, a bounded download, the fallback
to a random backbone; :func:`download_file` and :func:`file_digest` serve every download (VOC's too)."""

from __future__ import annotations

import contextlib
import hashlib
import http.client
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import torch
from torch import nn

from .profiles import offline_setting, resnet18_url_setting

RESNET18_URL = "https://download.pytorch.org/models/resnet18-f37072fd.pth"  # torchvision's; -<SHA-256 prefix>.pth
CHUNK = 1 << 20
STALL_WINDOW_S = 20.0  # weights="auto" waits at most this long for a server that sends (almost) nothing
_BACKBONE = ("conv1.", "bn1.", "layer1.", "layer2.", "layer3.", "layer4.")
_warned_offline = False
_verified: dict[Path, tuple[int, int]] = {}  # path -> (size, mtime_ns) whose hash matched


class DownloadError(TimeoutError):
    """A download fell below its minimum rate or ran past its deadline; the message says what to do."""


def _bar(total: int | None, desc: str, show: bool, **options):
    """A tqdm byte counter (hidden unless ``show``)."""
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=desc, disable=not show, **options)


def file_digest(path: str | Path, algorithm: str = "sha256", progress: bool = False) -> str:
    """Hex digest (``hashlib`` algorithm name) of a file, read in 1 MB chunks."""
    path, digest = Path(path), hashlib.new(algorithm)
    with open(path, "rb") as f, _bar(path.stat().st_size, f"checking {path.name}", progress, leave=False) as bar:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
            bar.update(len(chunk))
    return digest.hexdigest()


class _Watchdog:
    """Shuts a download's sockets from a thread of its own once fewer than ``min_rate * window`` bytes arrived in
    a ``window`` (reconnections included) or ``deadline`` s have passed: a bound that holds whatever the server
    does (trickling its headers too). ``reason`` says which; ``received`` is counted by the reader."""

    def __init__(self, min_rate: float, window: float, deadline: float) -> None:
        self.min_rate, self.window, self.deadline, self.received = min_rate, window, deadline, 0
        self.sockets: list[socket.socket] = []
        self.reason: str | None = None
        self._done, self._started = threading.Event(), time.monotonic()
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        start, mark = self._started, 0
        while not self._done.wait(min(0.1, self.window / 10)):
            now = time.monotonic()
            if now - self._started > self.deadline:
                self.reason = f"did not finish within {self.deadline:.0f} s"
            elif now - start >= self.window:
                got, start, mark = self.received - mark, now, self.received
                if got / self.window < self.min_rate:
                    rate = f"below the minimum of {self.min_rate:,.0f} bytes/s"
                    self.reason = f"stalled: {got:,} bytes in the last {self.window:.0f} s, {rate}"
            if self.reason is not None:
                for sock in list(self.sockets):
                    with contextlib.suppress(OSError):
                        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # wakes the reader with an end of file
                return

    def stop(self) -> None:
        self._done.set()

    def check(self, url: str, part: Path, cause: BaseException | None = None) -> None:
        """Raise :class:`DownloadError` (what was kept, how to resume) if the watchdog ended the download."""
        if self.reason is not None:
            size = part.stat().st_size if part.exists() else 0
            kept = f"the {size:,} bytes received are kept in {part}: run again to resume (another network or mirror may be faster), or place the whole file there by hand"
            raise DownloadError(f"{url} {self.reason}; {kept}") from cause


def _opener(sockets: list) -> urllib.request.OpenerDirector:
    """A urllib opener (proxies and redirects as usual) whose HTTP(S) connections list their sockets in ``sockets``."""

    def watched(http_class: type) -> type:
        class Watched(http_class):
            def connect(self) -> None:
                create = self._create_connection

                def listed(*args, **kwargs) -> socket.socket:  # the plain socket, before a TLS handshake on it
                    sockets.append(sock := create(*args, **kwargs))
                    return sock

                self._create_connection = listed
                super().connect()
                sockets.append(self.sock)

        return Watched

    def do_open(self, http_class, req, **kwargs):
        return urllib.request.AbstractHTTPHandler.do_open(self, watched(http_class), req, **kwargs)

    handlers = (urllib.request.HTTPHandler, urllib.request.HTTPSHandler)
    return urllib.request.build_opener(*(type(f"Watched{h.__name__}", (h,), {"do_open": do_open}) for h in handlers))


def download_file(
    url: str,
    part: Path,
    timeout: float = 30.0,
    retries: int = 5,
    progress: bool = True,
    min_rate: float = 10_000.0,
    window: float = 60.0,
    deadline: float = 4 * 3600.0,
) -> None:
    """Append the rest of ``url`` to ``part`` (an HTTP Range request resumes it), retrying dropped connections.
    ``timeout``: seconds to wait for a server. :class:`DownloadError` below ``min_rate`` bytes/s over any
    ``window`` s (reconnections included) or past ``deadline`` s in all, within a tenth of a second whatever the
    server sends; ``URLError``/``OSError`` when no byte arrives. A server that ignores Range (answers 200) makes
    the file start again from zero. Only name resolution (DNS) is outside these bounds."""
    failures, watch = 0, _Watchdog(min_rate, window, deadline)
    opener = _opener(watch.sockets)
    try:
        while True:
            offset = part.stat().st_size if part.exists() else 0
            headers = {"User-Agent": "fcnlib (fcn-notebooks)", **({"Range": f"bytes={offset}-"} if offset else {})}
            received, wait = 0, max(0.1, min(timeout, window, deadline))  # per connection attempt and read
            try:
                with opener.open(urllib.request.Request(url, headers=headers), timeout=wait) as response:
                    if not (offset and getattr(response, "status", 200) == 206):
                        offset = 0  # a full answer: start over (also when the server ignored our Range)
                    length = response.headers.get("Content-Length")
                    total = offset + int(length) if length is not None else None
                    name = part.name.removesuffix(".part")
                    with open(part, "ab" if offset else "wb") as f, _bar(total, name, progress, initial=offset) as bar:
                        read = getattr(response, "read1", response.read)  # read1: what has arrived, not a full chunk
                        while chunk := read(CHUNK):
                            f.write(chunk)
                            received, watch.received = received + len(chunk), watch.received + len(chunk)
                            bar.update(len(chunk))
                watch.check(url, part)
                if total is not None and part.stat().st_size < total:
                    raise http.client.IncompleteRead(b"", total - part.stat().st_size)
                return
            except urllib.error.HTTPError as err:
                if err.code == 416 and offset:
                    return  # nothing left to fetch: the part is complete (the checksum will tell)
                raise
            except (http.client.HTTPException, OSError) as err:
                if isinstance(err, DownloadError):
                    raise
                watch.check(url, part, err)
                failures += 1
                if isinstance(err, urllib.error.URLError) or received == 0 or failures > retries:
                    raise  # never connected, no progress, or too many drops: give up on this address
    finally:
        watch.stop()


def imagenet_weights_path(url: str | None = None) -> Path:
    """Where torch's hub cache keeps (and fcnlib looks for) the ImageNet ResNet-18 file of ``url``."""
    url = url or resnet18_url_setting() or RESNET18_URL
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def _hash_problem(path: Path) -> str | None:
    """Why ``path`` fails the SHA-256 prefix in its name (torchvision's ``name-<hex>.pth``), or None."""
    match, stat = re.search(r"-([0-9a-f]{6,64})\.\w+$", path.name), path.stat()
    if match is None or _verified.get(path) == (stat.st_size, stat.st_mtime_ns):
        return None
    if not (found := file_digest(path)).startswith(match.group(1)):
        return f"its SHA-256 starts with {found[:8]}, but its name says {match.group(1)} (damaged or another file)"
    _verified[path] = (stat.st_size, stat.st_mtime_ns)
    return None


def _backbone_state(path: Path, net: nn.Module) -> dict[str, torch.Tensor]:
    """The backbone tensors in ``path``, checked against ``net`` (``ValueError`` saying what is wrong)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated, or not a torch file
        raise ValueError(f"it cannot be read ({type(err).__name__}: {str(err)[:120]})") from err
    if not isinstance(state, dict):
        raise ValueError(f"it holds a {type(state).__name__}, not a state dict")
    wanted = {k: v for k, v in net.state_dict().items() if k.startswith(_BACKBONE)}
    missing = [k for k in wanted if k not in state]
    wrong = [k for k in wanted if k in state and getattr(state[k], "shape", None) != wanted[k].shape]
    extra = [k for k in state if str(k).startswith(_BACKBONE) and k not in wanted]  # ResNet-34's layer1.2, ...
    wrong += ["fc.weight"] if getattr(state.get("fc.weight"), "shape", (1000, 512)) != (1000, 512) else []
    if missing or wrong or extra:
        found = f"missing {missing[:3]}, wrong shapes {wrong[:3]}, layers ResNet-18 lacks {extra[:3]}"
        raise ValueError(f"it is not ResNet-18's state dict ({found}: another network, e.g. a deeper ResNet?)")
    if not all(torch.isfinite(state[k]).all() for k in wanted if state[k].is_floating_point()):
        raise ValueError("it holds NaN or infinite weights")
    return {k: state[k] for k in wanted}


def fetch_to_cache(url: str, path: Path, timeout: float = 5.0, deadline: float = 1800.0, **limits) -> str | None:
    """Download ``url`` to ``path`` (through ``path.part``, which a later call resumes) with
    :func:`download_file`'s bounds (``timeout``, ``deadline``, ``limits``: ``min_rate``, ``window``, ``progress``);
    the file is kept only when its SHA-256 starts with the hex in its name (torchvision's ``name-<hex>.pth``).
    Returns None, or why it failed (no network, too slow, damaged); never raises for those."""
    part = path.with_name(path.name + ".part")
    limits = {"window": STALL_WINDOW_S, **limits}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        download_file(url, part, timeout=timeout, retries=2, deadline=deadline, **limits)
        os.replace(part, path)
        if (problem := _hash_problem(path)) is not None:  # kept only when its hash matches its name
            path.unlink()
            raise ValueError(f"the downloaded file failed its check: {problem}")
    except urllib.error.URLError:  # no network, no DNS, refused: the same advice, no machine details
        return f"downloading {url} failed (the server could not be reached)"
    except (OSError, ValueError, http.client.HTTPException) as err:
        return f"downloading {url} failed ({err})"
    return None


def load_imagenet_backbone(net: nn.Module, required: bool, url: str | None = None, timeout: float = 5.0) -> str:
    """Copy ImageNet ResNet-18 weights (the cached file, its SHA-256 prefix checked, else a download unless
    ``FCNLIB_OFFLINE=1``) into ``net``'s backbone; return what happened. On failure ``required=False`` warns
    (once per session) and keeps the random backbone; ``required=True`` raises ``RuntimeError`` with the fix."""
    global _warned_offline
    url = url or resnet18_url_setting() or RESNET18_URL
    path = imagenet_weights_path(url)
    fix, reason = f"Download {url} on a machine with internet and place it at {path}", None
    if path.is_file():
        reason = _hash_problem(path)
    elif offline_setting():
        reason = "FCNLIB_OFFLINE is set"
    else:
        reason = fetch_to_cache(url, path, timeout=timeout, deadline=1800.0)
    if reason is None:
        try:
            net.load_state_dict(_backbone_state(path, net), strict=False)
            return f"ImageNet weights from {path}"
        except ValueError as err:
            reason = str(err)
    if path.is_file():
        reason, fix = f"{path} is not usable: {reason}", f"Delete {path} (fcnlib downloads it again), or d{fix[1:]}"
    message = f"ImageNet weights for ResNet-18 are not available: {reason}. {fix}"
    if required:
        raise RuntimeError(message + ", or use weights=None for a randomly initialised backbone.")
    if not _warned_offline:
        warnings.warn(message + ". Continuing with a randomly initialised backbone.", stacklevel=3)
        _warned_offline = True
    return f"random backbone ({reason})"


def _fcn_resnet50_state(path: Path, net: nn.Module) -> None:
    """Load ``path`` into torchvision's ``net`` (every tensor, shapes equal, all finite); ValueError saying why not."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
        net.load_state_dict(state)  # strict: the same layers, the same shapes
    except Exception as err:  # truncated, not a torch file, or another network's state dict
        raise ValueError(f"{type(err).__name__}: {' '.join(str(err).split())[:200]}") from err
    if not all(torch.isfinite(t).all() for t in net.state_dict().values() if t.is_floating_point()):
        raise ValueError("it holds NaN or infinite weights")


def pretrained_fcn_resnet50(url: str | None = None, timeout: float = 5.0, deadline: float = 300.0, **limits):
    """torchvision's ``fcn_resnet50`` with its ``COCO_WITH_VOC_LABELS_V1`` weights (VOC's 21 classes), in eval mode
    on the CPU, its auxiliary head dropped (``net(x)["out"]``: scores ``[N, 21, H, W]`` at the input's size).
    The file (``url``, default torchvision's): torch's hub cache (``torch.hub.get_dir() / "checkpoints"``), else
    downloaded there by :func:`fetch_to_cache` (unless ``FCNLIB_OFFLINE=1``) within ``deadline`` s and ``limits``
    (``min_rate`` bytes/s, default 100 kB/s, ...), kept when its SHA-256 matches its name; a cached file is checked,
    like torchvision does, by loading it (strictly, finite). Returns ``(net, where it came from)``, or ``(None, one
    plain line saying why not and how to get it)``; prints nothing, warns nothing, raises nothing for a missing
    network or a bad file."""
    from torchvision.models.segmentation import FCN_ResNet50_Weights, fcn_resnet50

    weights = FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1
    url = url or weights.url
    name = url.rsplit("/", 1)[-1]
    path = Path(torch.hub.get_dir()) / "checkpoints" / name
    came_from, reason = "from torch's hub cache", None
    if not path.is_file() and offline_setting():
        reason = "FCNLIB_OFFLINE is set and torch's hub cache has no copy"
    elif not path.is_file():
        came_from = "downloaded into torch's hub cache"
        reason = fetch_to_cache(url, path, timeout=timeout, deadline=deadline, **{"min_rate": 100_000.0, **limits})
    if reason is None:
        net = fcn_resnet50(
            weights=None, weights_backbone=None, aux_loss=True, num_classes=len(weights.meta["categories"])
        )
        try:
            _fcn_resnet50_state(path, net)
        except ValueError as err:
            reason = f"the {name} in torch's hub cache is not its weights ({err}): delete it and run again"
        else:
            net.aux_classifier = None  # used in training only
            return net.eval(), f"torchvision's fcn_resnet50 ({weights}), {came_from}"
    reason = reason.split("; ")[0].replace(f"downloading {url}", "no cached copy, and downloading it")
    folder = str(path.parent).replace(str(Path.home()), "~", 1)  # torch.hub.get_dir() / "checkpoints"
    fix = f"put {url} ({weights.meta['_file_size']:.0f} MB) into {folder}"
    return None, f"torchvision's pretrained fcn_resnet50 is not available here: {reason}. To use it, {fix}."
