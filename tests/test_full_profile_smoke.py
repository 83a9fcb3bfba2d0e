"""The GPU path without the GPU: every chapter, top to bottom in a fresh kernel, in the full profile on the CPU.

320x480 crops, batch 32, FCNLIB_MAX_STEPS=1 batch per epoch (training and evaluation). VOC2012 comes
from a VOC-format tar (make_synthetic_voc at 375x500, no classes.json, so read as VOC) served on
127.0.0.1 through FCNLIB_VOC_MIRRORS and FCNLIB_VOC_SHA1; the ImageNet weights file (a randomly
initialised ResNet-18 under the right kind of name) comes from the same server through
FCNLIB_RESNET18_URL into a temporary TORCH_HOME, where chapter 7 finds torchvision's pretrained fcn_resnet50 (a
randomly initialised one saved under torchvision's file name) and runs it. Every other address goes through a proxy on the same
server that refuses and records it: the chapters must not try the real internet. `make test-full-smoke`.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
import torch
import torchvision
from loopback import LoopbackServer, serving, voc_tar_bytes

from fcnlib.data import VOC_TAR_NAME, make_synthetic_voc

pytestmark = pytest.mark.slow
NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CHAPTERS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
PROBE = """import json as _json, fcnlib as _f
_P = _f.profile()
_loaders = [v for v in list(globals().values()) if isinstance(v, _f.data.StepLimit)]
_train = [v for v in _loaders if v.drop_last][:1]
print("SMOKE " + _json.dumps(dict(
    profile=[_P.name, _P.device.type, list(_P.crop_size), _P.batch_size],
    loaders=[[v.dataset.source, v.batch_size, list(v.dataset.crop_size)] for v in _loaders],
    train_batch=[list(next(iter(v))[0].shape) for v in _train],
)))"""


class Mirror(LoopbackServer):
    def __init__(self) -> None:
        super().__init__(Handler)
        self.served: list[str] = []
        self.refused: list[str] = []  # what went through the proxy: the real internet


class Handler(BaseHTTPRequestHandler):
    server: Mirror

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        body = self.server.files.get(self.path)
        if self.path.startswith(("http://", "https://")) or body is None:
            self.server.refused.append(self.path)
            self.send_error(403 if self.path.startswith("http") else 404)
            return
        self.server.served.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_CONNECT(self) -> None:  # noqa: N802 (an https:// address through the proxy)
        self.server.refused.append(self.path)
        self.send_error(403)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def mirror(tmp_path_factory) -> Iterator[Mirror]:
    """The server, holding VOC_TAR_NAME (40 train + 8 val images of 375x500) and a ResNet-18 file."""
    src = tmp_path_factory.mktemp("voc_src")
    (make_synthetic_voc(src, 40, 8, image_size=(375, 500)) / "classes.json").unlink()
    weights = io.BytesIO()
    torch.save(torchvision.models.resnet18().state_dict(), weights)
    srv = Mirror()
    srv.files["/" + VOC_TAR_NAME] = voc_tar_bytes(src)
    srv.weights_name = f"resnet18-{hashlib.sha256(weights.getvalue()).hexdigest()[:8]}.pth"
    srv.files["/" + srv.weights_name] = weights.getvalue()
    with serving(srv):
        yield srv


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """FCNLIB_DATA_DIR and TORCH_HOME, shared by the chapters as on a learner's machine; the hub cache holds
    torchvision's fcn_resnet50 file for chapter 7, so that it runs the pretrained net without a download."""
    torch_home = tmp_path_factory.mktemp("torch")
    url = torchvision.models.segmentation.FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1.url
    (cached := torch_home / "hub" / "checkpoints" / url.rsplit("/", 1)[-1]).parent.mkdir(parents=True)
    net = torchvision.models.segmentation.fcn_resnet50(weights=None, weights_backbone=None, aux_loss=True)
    torch.save(net.state_dict(), cached)
    return {"data": tmp_path_factory.mktemp("data"), "torch": torch_home}


def run_chapter(path: Path) -> tuple[str | None, list[str]]:
    """Execute ``path`` (not saved) plus the probe cell: (the failing cell's summary or None, its output lines)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    from tools.notebook_setup import quiet_output_widgets

    nb = nbformat.read(str(path), as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    client = NotebookClient(  # store_widget_state: without it, nbclient 0.11 hangs after an explorer's cell
        nb,
        timeout=900,
        kernel_name="python3",
        store_widget_state=True,
        widget_registry=quiet_output_widgets(),  # nor can an explorer's output echo hang it
        resources={"metadata": {"path": str(path.parent)}},
    )
    failure = None
    try:
        client.execute()
    except CellExecutionError:
        for i, cell in enumerate(nb.cells):
            errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            if errors:
                first_line = "".join(cell.source).splitlines()[0] if cell.source else ""
                failure = f"cell {i} ({first_line!r}): {errors[0]['ename']}: {errors[0]['evalue'][:400]}"
                break
        failure = failure or "the kernel failed outside any cell"
    text = [
        line
        for cell in nb.cells
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream"
        for line in o.get("text", "").splitlines()
    ]
    return failure, text


@pytest.mark.parametrize("path", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_chapter_runs_in_the_full_profile_on_the_cpu(path, mirror, folders, monkeypatch):
    proxy = mirror.url("")
    env = dict(
        FCNLIB_PROFILE="full",
        FCNLIB_DEVICE="cpu",
        FCNLIB_MAX_STEPS="1",
        FCNLIB_DATA_DIR=str(folders["data"]),
        FCNLIB_VOC_MIRRORS=mirror.url("/" + VOC_TAR_NAME),
        FCNLIB_VOC_SHA1=hashlib.sha1(mirror.files["/" + VOC_TAR_NAME]).hexdigest(),
        FCNLIB_RESNET18_URL=mirror.url("/" + mirror.weights_name),
        TORCH_HOME=str(folders["torch"]),
        http_proxy=proxy,
        https_proxy=proxy,
        HTTP_PROXY=proxy,
        HTTPS_PROXY=proxy,
        no_proxy="127.0.0.1,localhost",
        NO_PROXY="127.0.0.1,localhost",
    )
    for name in ("FCNLIB_DATA", "FCNLIB_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    start = time.perf_counter()
    failure, lines = run_chapter(path)
    print(f"\n{path.name}: {time.perf_counter() - start:.0f} s")
    assert failure is None, f"{path.name} failed in the full profile: {failure}"
    assert mirror.refused == [], f"{path.name} tried the internet: {mirror.refused}"
    probe = json.loads(next(line for line in lines if line.startswith("SMOKE "))[6:])
    assert probe["profile"] == ["full", "cpu", [320, 480], 32]
    if "load_data_voc(" in path.read_text():
        assert probe["loaders"] and all(v == ["VOC2012", 32, [320, 480]] for v in probe["loaders"]), probe
        assert probe["train_batch"] == [[32, 3, 320, 480]]
        assert any(
            line.startswith("Using Pascal VOC2012 at $FCNLIB_DATA_DIR/VOCdevkit/VOC2012: 40 train") for line in lines
        )
        assert "/" + VOC_TAR_NAME in mirror.served  # downloaded through the loopback mirror
    assert not any(str(folders["data"]) in line for line in lines), "a machine path was printed"
