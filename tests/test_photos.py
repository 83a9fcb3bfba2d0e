"""Chapter 7's machinery: torchvision's pretrained fcn_resnet50 from torch's hub cache or a bounded download (a
one-line answer offline, never a hang, a warning or a traceback), the most refined net the chapters saved, and the
photo figure. The weights are a randomly initialised fcn_resnet50 saved under torchvision's own file name."""

from __future__ import annotations

import hashlib
import http.server
import io
import time
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
import torchvision
from loopback import LoopbackServer, serving
from torchvision.models.segmentation import FCN_ResNet50_Weights, fcn_resnet50

import fcnlib
from fcnlib.data import VOC_CLASSES, VOC_COLORMAP, sample_photo
from fcnlib.inference import full_scores
from fcnlib.weights import pretrained_fcn_resnet50

WEIGHTS = FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1  # what torchvision knows: its URL, file name, classes


@pytest.fixture(scope="module")
def state_bytes() -> bytes:
    """A randomly initialised fcn_resnet50 with torchvision's layout for these weights (aux head, 21 classes)."""
    torch.manual_seed(7)
    net = fcn_resnet50(weights=None, weights_backbone=None, aux_loss=True, num_classes=21)
    buffer = io.BytesIO()
    torch.save(net.state_dict(), buffer)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def torch_home(tmp_path, monkeypatch) -> Path:
    """An empty TORCH_HOME; torch.hub.get_dir() follows it (no set_dir left over from another test)."""
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv("FCNLIB_OFFLINE", raising=False)
    return tmp_path / "torch"


def _cached() -> Path:
    """Where torch.hub.load_state_dict_from_url keeps torchvision's file: hub dir / checkpoints / URL's name."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS.url.rsplit("/", 1)[-1]


def _closed_url(name: str) -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}/{name}"


def _quietly(call):
    """``call()``'s result, asserting that it warned nothing."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    assert not caught, [str(w.message) for w in caught]
    return result


def test_the_file_is_torchvisions_and_sits_where_torch_hub_caches_it(torch_home):
    assert WEIGHTS.url.startswith("https://download.pytorch.org/models/fcn_resnet50_coco-")
    assert _cached() == torch_home / "hub" / "checkpoints" / Path(WEIGHTS.url).name
    names = ["background" if c == "__background__" else c for c in WEIGHTS.meta["categories"]]
    assert [n.replace(" ", "").replace("/", "") for n in VOC_CLASSES] == names  # VOC's classes, VOC's order
    assert Path(WEIGHTS.url).name in (Path(__file__).parents[1] / "README.md").read_text()  # the README names it


@pytest.mark.parametrize("offline", [True, False])
def test_without_cache_or_network_one_plain_line_comes_at_once(monkeypatch, capsys, offline):
    if offline:
        monkeypatch.setenv("FCNLIB_OFFLINE", "1")
    url = WEIGHTS.url if offline else _closed_url(Path(WEIGHTS.url).name)  # a refused connection: no network
    start = time.perf_counter()
    net, line = _quietly(lambda: pretrained_fcn_resnet50(url=url))
    assert net is None and time.perf_counter() - start < 5
    assert "\n" not in line and line.startswith("torchvision's pretrained fcn_resnet50 is not available here")
    assert ("FCNLIB_OFFLINE" if offline else "downloading it failed") in line
    folder = str(_cached().parent).replace(str(Path.home()), "~", 1)  # torch.hub.get_dir() / "checkpoints"
    assert line.endswith(f"put {url} (135 MB) into {folder}.") and "Traceback" not in line
    assert capsys.readouterr() == ("", "")
    assert not _cached().exists()


def test_a_cached_file_loads_as_torchvision_loads_it_and_predicts_at_the_photos_size(state_bytes, capsys):
    _cached().parent.mkdir(parents=True)
    _cached().write_bytes(state_bytes)
    net, line = _quietly(pretrained_fcn_resnet50)
    assert net is not None and line.endswith("from torch's hub cache") and capsys.readouterr() == ("", "")
    assert net.aux_classifier is None and not net.training
    theirs = torchvision.models.segmentation.fcn_resnet50(weights=WEIGHTS).eval()  # torchvision reads the same file
    photo = (sample_photo((64, 96)) * 255).round().to(torch.uint8)  # sides multiples of 32: no padding
    normalise = WEIGHTS.transforms()
    x = torchvision.transforms.v2.functional.normalize(photo.float() / 255, normalise.mean, normalise.std)
    with torch.no_grad():
        expected = theirs(x[None])["out"][0]
    assert torch.allclose(full_scores(net, photo), expected, atol=1e-4)
    odd = (sample_photo((70, 90)) * 255).round().to(torch.uint8)  # any size: padded, cut back to the photo's
    assert fcnlib.predict_full(net, odd).shape == (70, 90)


@pytest.mark.parametrize(
    "content, detail",
    [
        (lambda: torchvision.models.resnet18().state_dict(), "Missing key"),
        (lambda: {k: v.fill_(float("nan")) if v.is_floating_point() else v for k, v in _state().items()}, "NaN"),
        (lambda: b"not a torch file", "UnpicklingError"),
    ],
)
def test_a_wrong_cached_file_gives_a_line_that_says_delete_it(content, detail):
    _cached().parent.mkdir(parents=True)
    obj = content()
    if isinstance(obj, bytes):
        _cached().write_bytes(obj)
    else:
        torch.save(obj, _cached())
    net, line = _quietly(pretrained_fcn_resnet50)
    assert net is None and "is not its weights" in line and "delete it and run again" in line
    assert detail in line, line


def _state() -> dict:
    return fcn_resnet50(weights=None, weights_backbone=None, aux_loss=True, num_classes=21).state_dict()


class _Files(http.server.BaseHTTPRequestHandler):
    server: LoopbackServer

    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            if getattr(self.server, "trickle", False):  # a stalled server: a byte now and then, forever
                for i in range(len(body)):
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                    time.sleep(0.2)
            else:
                self.wfile.write(body)
        except OSError:  # the client gave up
            pass

    def log_message(self, *args):
        pass


def test_a_download_from_a_loopback_server_is_checked_kept_and_loaded(state_bytes):
    name = f"fcn_resnet50_coco-{hashlib.sha256(state_bytes).hexdigest()[:8]}.pth"
    with serving(LoopbackServer(_Files)) as server:
        server.files[f"/{name}"] = state_bytes
        server.files["/fcn_resnet50_coco-00000000.pth"] = state_bytes  # a name its hash does not match
        bad, line = _quietly(lambda: pretrained_fcn_resnet50(url=server.url("/fcn_resnet50_coco-00000000.pth")))
        assert bad is None and "failed its check" in line
        assert not list(Path(torch.hub.get_dir(), "checkpoints").glob("fcn_resnet50_coco-00000000.pth*"))
        net, line = _quietly(lambda: pretrained_fcn_resnet50(url=server.url(f"/{name}"), progress=False))
    assert net is not None and "downloaded into torch's hub cache" in line
    assert (Path(torch.hub.get_dir()) / "checkpoints" / name).read_bytes() == state_bytes
    expected = torch.load(io.BytesIO(state_bytes), weights_only=True)
    assert torch.equal(net.classifier[4].weight, expected["classifier.4.weight"])


def test_a_trickling_server_is_given_up_within_the_bound(state_bytes):
    with serving(LoopbackServer(_Files)) as server:
        server.trickle = True
        server.files["/fcn_resnet50_coco-12345678.pth"] = state_bytes[:100_000]
        start = time.perf_counter()
        net, line = _quietly(
            lambda: pretrained_fcn_resnet50(
                url=server.url("/fcn_resnet50_coco-12345678.pth"), deadline=3.0, window=1.0, progress=False
            )
        )
        elapsed = time.perf_counter() - start
    assert net is None and elapsed < 3.0 + 1.5, elapsed
    assert "downloading it failed" in line and ("stalled" in line or "did not finish" in line), line


# ----------------------------------------------------------------------------- the most refined saved net
class _Scenes(torch.utils.data.Dataset):
    def __init__(self, num_classes: int) -> None:
        g = torch.Generator().manual_seed(0)
        self.num_classes = num_classes
        self.images, self.labels = torch.rand(4, 3, 32, 32, generator=g), torch.randint(0, num_classes, (4, 32, 32))

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i):
        return self.images[i], self.labels[i]


def _loader(num_classes: int = 3):
    return torch.utils.data.DataLoader(_Scenes(num_classes), batch_size=2)


def test_the_latest_net_is_chapter_6s_fcn8s_else_chapter_4s_fcn32s(tmp_path):
    settings = dict(lr=0.01, wd=1e-3, num_epochs=1, devices="cpu", weights=None, progress=False)
    load = fcnlib.experiments.load_latest_fcn
    net, name, how = load(tmp_path, _loader(), None, **settings)  # nothing saved: FCN-32s trained and saved
    assert name == "FCN-32s" and how.startswith("no FCN-8s checkpoint; FCN-32s: no checkpoint")
    assert (tmp_path / "fcn32s.pt").is_file() and not net.training
    torch.manual_seed(3)
    net8 = fcnlib.fcn_resnet18(3, "8s", weights=None)
    fcnlib.training.save_checkpoint(tmp_path / "fcn8s.pt", net8)
    net, name, how = load(tmp_path, _loader(), None, **settings)
    assert name == "FCN-8s" and how.startswith("loaded") and how.endswith("fcn8s.pt") and not net.training
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), net8.state_dict().values()))
    net, name, how = load(tmp_path, _loader(4), None, **settings)  # 4 classes: neither checkpoint fits
    assert name == "FCN-32s" and "the FCN-8s checkpoint does not fit" in how and "does not fit" in how.split(";")[1]
    assert net.final_conv.out_channels == 4


# ----------------------------------------------------------------------------- the figure
def test_the_photo_figure_draws_the_label_colours_and_each_classs_share():
    photo = torch.zeros(3, 8, 12, dtype=torch.uint8)
    pred = torch.zeros(8, 12, dtype=torch.long)
    pred[:, 3:] = 15  # person on three quarters of the pixels, background on one quarter
    confidence = torch.linspace(0, 1, 96).reshape(8, 12)
    fig = fcnlib.viz.show_photo_prediction(photo, {"net": pred}, confidence=confidence)
    photo_ax, map_ax, conf_ax = fig.axes[:3]
    drawn = map_ax.images[0].get_array()
    assert tuple(drawn[0, 5]) == tuple(VOC_COLORMAP[15]) and tuple(drawn[0, 0]) == tuple(VOC_COLORMAP[0])
    assert [t.get_text() for t in map_ax.get_legend().get_texts()] == ["person 75%", "background 25%"]
    assert len(fig.axes) == 4 and conf_ax.images[0].get_clim() == (0, 1)  # the fourth axes: the colour bar
    assert photo_ax.get_title() == "photo, 8x12" and map_ax.get_title() == "net"
    plt.close(fig)
    with pytest.raises(ValueError, match="not the photo's size 8x12"):
        fcnlib.viz.show_photo_prediction(photo, {"net": pred[:4]})
    names, colours = ["sky", "ground"], [[0, 0, 255], [0, 128, 0]]
    fig = fcnlib.viz.show_photo_prediction(photo, {"a": pred.clamp(max=1)}, names, colours)
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["ground 75%", "sky 25%"]
    assert np.array_equal(fig.axes[1].images[0].get_array()[0, 5], [0, 128, 0])
    plt.close(fig)
