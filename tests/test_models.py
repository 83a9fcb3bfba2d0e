"""FCN models: shapes, initialisation, and the ImageNet weights path, offline."""

import hashlib
import http.server
import socket
import time
import warnings

import pytest
import torch
import torch.nn.functional as F
import torchvision
from loopback import LoopbackServer, serving
from test_upsampling import seed_bilinear_kernel
from torch import nn

import fcnlib
from fcnlib.model import fcn_resnet18
from fcnlib.weights import imagenet_weights_path


@pytest.fixture(autouse=True)
def isolated_hub(tmp_path, monkeypatch):
    """Every test gets an empty torch hub cache and an unreachable weights URL."""
    old = torch.hub.get_dir()
    torch.hub.set_dir(str(tmp_path / "hub"))
    monkeypatch.setattr(fcnlib.weights, "_warned_offline", False)
    monkeypatch.setenv("FCNLIB_RESNET18_URL", f"http://127.0.0.1:{_closed_port()}/resnet18-f37072fd.pth")
    yield
    torch.hub.set_dir(old)


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
@pytest.mark.parametrize("size", [(64, 96), (96, 128), (160, 224)])
def test_output_shape(variant, size):
    net = fcn_resnet18(num_classes=5, variant=variant, weights=None).eval()
    with torch.no_grad():
        y = net(torch.rand(2, 3, *size))
    assert y.shape == (2, 5, *size)


def test_seed_layout_and_stage_shapes():
    net = fcn_resnet18(weights=None)
    names = [n for n, _ in net.named_children()]
    assert names == [
        "conv1",
        "bn1",
        "relu",
        "maxpool",
        "layer1",
        "layer2",
        "layer3",
        "layer4",
        "final_conv",
        "transpose_conv",
    ]
    t = net.transpose_conv
    assert (t.kernel_size, t.stride, t.padding) == ((64, 64), (32, 32), (16, 16))
    # The backbone is exactly torchvision's ResNet-18 without avgpool and fc (the seed's net[:-2]).
    ref = nn.Sequential(*list(torchvision.models.resnet18(weights=None).children())[:-2])
    ref.load_state_dict(_backbone_state(net))
    net.eval(), ref.eval()
    x = torch.rand(1, 3, 320, 480)
    with torch.no_grad():
        feats = ref(x)
        assert feats.shape == (1, 512, 10, 15)
        expected = F.conv_transpose2d(
            F.conv2d(feats, net.final_conv.weight, net.final_conv.bias),
            net.transpose_conv.weight,
            stride=32,
            padding=16,
        )
        assert torch.allclose(net(x), expected, atol=1e-5)


def _backbone_state(net):
    mapping = {"conv1": "0", "bn1": "1", "layer1": "4", "layer2": "5", "layer3": "6", "layer4": "7"}
    out = {}
    for k, v in net.state_dict().items():
        head, rest = k.split(".", 1)
        if head in mapping:
            out[f"{mapping[head]}.{rest}"] = v
    return out


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
def test_upsampling_layers_start_bilinear(variant):
    net = fcn_resnet18(num_classes=4, variant=variant, weights=None)
    layers = net.upsampling_layers()
    assert len(layers) == {"32s": 1, "16s": 2, "8s": 3}[variant]
    for layer in layers:
        assert torch.equal(layer.weight, seed_bilinear_kernel(4, 4, layer.kernel_size[0]))
    xavier = fcn_resnet18(num_classes=4, variant=variant, weights=None, upsample_init="xavier")
    for layer in xavier.upsampling_layers():
        w = layer.weight.detach()
        assert not torch.equal(w, seed_bilinear_kernel(4, 4, layer.kernel_size[0]))
        # Xavier uniform: bound sqrt(6 / (fan_in + fan_out))
        fan_in, fan_out = nn.init._calculate_fan_in_and_fan_out(w)
        assert w.abs().max() <= (6 / (fan_in + fan_out)) ** 0.5 + 1e-6


def test_fresh_skip_layers_add_nothing_until_trained():
    """Zero-initialised skip scores: FCN-8s starts as layer4's scores upsampled 2x, 2x, then 8x."""
    torch.manual_seed(0)
    net8 = fcn_resnet18(num_classes=3, variant="8s", weights=None).eval()
    x = torch.rand(1, 3, 128, 160)
    with torch.no_grad():
        f = net8.maxpool(net8.relu(net8.bn1(net8.conv1(x))))
        f32 = net8.layer4(net8.layer3(net8.layer2(net8.layer1(f))))
        score = F.conv2d(f32, net8.final_conv.weight, net8.final_conv.bias)
        k2, k8 = seed_bilinear_kernel(3, 3, 4), seed_bilinear_kernel(3, 3, 16)
        up = F.conv_transpose2d(F.conv_transpose2d(score, k2, stride=2, padding=1), k2, stride=2, padding=1)
        expected = F.conv_transpose2d(up, k8, stride=8, padding=4)
        assert score.abs().max() > 0.01  # a real signal, not all zeros
        assert torch.allclose(net8(x), expected, atol=1e-5)


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="variant"):
        fcn_resnet18(variant="4s", weights=None)
    with pytest.raises(ValueError, match="weights"):
        fcn_resnet18(weights="pretrained")
    with pytest.raises(ValueError, match="upsample_init"):
        fcn_resnet18(weights=None, upsample_init="zeros")
    net = fcn_resnet18(weights=None)
    with pytest.raises(ValueError, match="multiples of 32"):
        net(torch.rand(1, 3, 160, 240))
    with pytest.raises(ValueError, match=r"\[N, 3, H, W\]"):
        net(torch.rand(3, 64, 64))


def test_auto_falls_back_fast_and_warns_once_when_offline():
    start = time.perf_counter()
    with pytest.warns(UserWarning, match="randomly initialised"):
        net = fcn_resnet18(weights="auto")
    assert "random backbone" in net.weights_source
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fcn_resnet18(weights="auto")  # second time: no warning
    assert time.perf_counter() - start < 30


def test_auto_does_not_hang_on_a_silent_server(monkeypatch):
    """A host that accepts the connection but never answers (a captive network)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    monkeypatch.setenv("FCNLIB_RESNET18_URL", f"http://127.0.0.1:{server.getsockname()[1]}/resnet18-f37072fd.pth")
    start = time.perf_counter()
    try:
        with pytest.warns(UserWarning):
            net = fcn_resnet18(weights="auto")
    finally:
        server.close()
    assert "random backbone" in net.weights_source
    assert time.perf_counter() - start < 30  # the probe times out after 5 s


def test_imagenet_required_says_where_to_put_the_file():
    with pytest.raises(RuntimeError) as err:
        fcn_resnet18(weights="imagenet")
    assert str(imagenet_weights_path()) in str(err.value)


def test_offline_env_var_skips_the_download(monkeypatch):
    monkeypatch.setenv("FCNLIB_OFFLINE", "1")
    with pytest.warns(UserWarning, match="FCNLIB_OFFLINE"):
        assert "FCNLIB_OFFLINE" in fcn_resnet18(weights="auto").weights_source


def _fake_imagenet_file():
    torch.manual_seed(123)
    state = torchvision.models.resnet18(weights=None).state_dict()
    return state


class _FileHandler(http.server.BaseHTTPRequestHandler):
    payload = b""

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.payload)))
        self.end_headers()

    def do_GET(self):
        self.do_HEAD()
        self.wfile.write(self.payload)

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("good_hash", [True, False])
def test_download_is_verified_against_the_hash_in_the_file_name(tmp_path, monkeypatch, good_hash):
    state = _fake_imagenet_file()
    src = tmp_path / "w.pth"
    torch.save(state, src)
    payload = src.read_bytes()
    prefix = hashlib.sha256(payload).hexdigest()[:8] if good_hash else "00000000"
    _FileHandler.payload = payload
    with serving(LoopbackServer(_FileHandler)) as server:
        monkeypatch.setenv("FCNLIB_RESNET18_URL", server.url(f"/resnet18-{prefix}.pth"))
        if good_hash:
            net = fcn_resnet18(weights="imagenet")
            assert torch.equal(net.layer1[0].conv1.weight, state["layer1.0.conv1.weight"])
            assert imagenet_weights_path().is_file()
        else:
            with pytest.raises(RuntimeError, match="place it at"):
                fcn_resnet18(weights="imagenet")
            assert not imagenet_weights_path().is_file()


@pytest.mark.parametrize(
    ("x", "error", "advice"),
    [
        (torch.zeros(1, 3, 32, 32, dtype=torch.float64), TypeError, r"torch\.float32.*x\.to\(torch\.float32\)"),
        (torch.zeros(1, 3, 32, 32, dtype=torch.uint8), TypeError, r"fcnlib\.data\.normalize_image"),
        (torch.zeros(3, 32, 32), ValueError, r"\[N, 3, H, W\].*unsqueeze\(0\)"),
        (torch.zeros(1, 1, 32, 32), ValueError, r"\[N, 3, H, W\]"),
        (torch.zeros(1, 3, 40, 64), ValueError, "multiples of 32"),
        ([[0.0]], TypeError, "tensor"),
    ],
)
def test_wrong_inputs_get_an_error_that_says_what_to_do(x, error, advice):
    net = fcn_resnet18(num_classes=3, weights=None).eval()
    with pytest.raises(error, match=advice):
        net(x)


def test_the_advice_for_uint8_and_float64_works():
    from fcnlib.data import normalize_image

    net = fcn_resnet18(num_classes=3, variant="8s", weights=None).eval()
    pixels = torch.randint(0, 256, (2, 3, 64, 32), dtype=torch.uint8)
    with torch.no_grad():
        out = net(normalize_image(pixels))
        assert out.shape == (2, 3, 64, 32) and out.dtype == torch.float32
        assert net(normalize_image(pixels).double().to(torch.float32)).shape == (2, 3, 64, 32)
        # A float64 net takes float64 input: the expected dtype is the parameters'.
        assert net.double()(normalize_image(pixels).double()).dtype == torch.float64
