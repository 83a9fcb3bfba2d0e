"""FCN-16s and FCN-8s (fcnlib.models, fcnlib.skips) against an independent functional computation.

The reference forward pass below uses torchvision's own ResNet-18 modules for the backbone
(loaded with the FCN's backbone weights) and ``F.conv2d`` / ``F.conv_transpose2d`` with a
bilinear kernel written out here for the head, so it shares no code with ``FCN.forward``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

import fcnlib
from fcnlib.model import init_from, param_groups
from fcnlib.shapes import Layer, chain_sizes, coordinate_map, resnet18_fcn_layers, vgg16_fcn_layers

C = 5
H, W = 64, 96


def tent_kernel(k: int) -> torch.Tensor:
    """The bilinear upsampling kernel of size k, as in Long et al.'s Caffe code (surgery.upsample_filt)."""
    factor = (k + 1) // 2
    center = factor - 1 if k % 2 == 1 else factor - 0.5
    og = np.ogrid[:k, :k]
    return torch.tensor((1 - abs(og[0] - center) / factor) * (1 - abs(og[1] - center) / factor), dtype=torch.float32)


def diagonal(kernel: torch.Tensor, channels: int) -> torch.Tensor:
    weight = torch.zeros(channels, channels, *kernel.shape)
    for c in range(channels):
        weight[c, c] = kernel
    return weight


def up(x: torch.Tensor, factor: int) -> torch.Tensor:
    """Bilinear transposed convolution: kernel 2f, stride f, padding f/2 (the paper's and d2l's recipe)."""
    return F.conv_transpose2d(x, diagonal(tent_kernel(2 * factor), x.shape[1]), stride=factor, padding=factor // 2)


def backbone_features(net: nn.Module, x: torch.Tensor) -> dict:
    """layer2/3/4 features from torchvision's ResNet-18 with the FCN's backbone weights."""
    resnet = torchvision.models.resnet18(weights=None)
    state = {
        k: v
        for k, v in net.state_dict().items()
        if k.split(".")[0] in ("conv1", "bn1", "layer1", "layer2", "layer3", "layer4")
    }
    missing, unexpected = resnet.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) == {"fc.weight", "fc.bias"}
    resnet.eval()
    h = resnet.maxpool(resnet.relu(resnet.bn1(resnet.conv1(x))))
    f8 = resnet.layer2(resnet.layer1(h))
    f16 = resnet.layer3(f8)
    return {"layer2": f8, "layer3": f16, "layer4": resnet.layer4(f16)}


def reference_forward(net: nn.Module, x: torch.Tensor, variant: str) -> torch.Tensor:
    f = backbone_features(net, x)
    s = F.conv2d(f["layer4"], net.final_conv.weight, net.final_conv.bias)
    if variant in ("16s", "8s"):
        s = up(s, 2) + F.conv2d(f["layer3"], net.score_layer3.weight, net.score_layer3.bias)
    if variant == "8s":
        s = up(s, 2) + F.conv2d(f["layer2"], net.score_layer2.weight, net.score_layer2.bias)
    return up(s, {"32s": 32, "16s": 16, "8s": 8}[variant])


@pytest.fixture(scope="module")
def x() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(2, 3, H, W)


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
def test_shapes_at_fusion_points(variant: str, x: torch.Tensor) -> None:
    torch.manual_seed(1)
    net = fcnlib.fcn_resnet18(C, variant, weights=None).eval()
    with torch.no_grad():
        t = net.intermediates(x)
        out = net(x)
    assert t["layer2"].shape == (2, 128, H // 8, W // 8)
    assert t["layer3"].shape == (2, 256, H // 16, W // 16)
    assert t["layer4"].shape == (2, 512, H // 32, W // 32)
    assert t["score32"].shape == (2, C, H // 32, W // 32)
    if variant in ("16s", "8s"):
        assert t["up32to16"].shape == t["score16"].shape == t["fused16"].shape == (2, C, H // 16, W // 16)
    else:
        assert "fused16" not in t
    if variant == "8s":
        assert t["up16to8"].shape == t["score8"].shape == t["fused8"].shape == (2, C, H // 8, W // 8)
    else:
        assert "fused8" not in t
    assert t["out"].shape == (2, C, H, W)
    torch.testing.assert_close(t["out"], out, rtol=0, atol=0)


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
def test_forward_matches_functional_reference(variant: str, x: torch.Tensor) -> None:
    torch.manual_seed(2)
    net = fcnlib.fcn_resnet18(C, variant, weights=None).eval()
    with torch.no_grad():  # give the zero-initialised skip layers something to add
        for name in ("score_layer3", "score_layer2"):
            if hasattr(net, name):
                getattr(net, name).weight.normal_(0, 0.05)
                getattr(net, name).bias.normal_(0, 0.1)
        torch.testing.assert_close(net(x), reference_forward(net, x, variant), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("variant", ["16s", "8s"])
def test_fresh_skip_layers_are_zero_and_add_nothing(variant: str, x: torch.Tensor) -> None:
    torch.manual_seed(3)
    net32 = fcnlib.fcn_resnet18(C, "32s", weights=None).eval()
    net = fcnlib.fcn_resnet18(C, variant, weights=None).eval()
    init_from(net, net32)
    for name in ("score_layer3", "score_layer2")[: 1 if variant == "16s" else 2]:
        layer = getattr(net, name)
        assert layer.weight.abs().sum() == 0 and layer.bias.abs().sum() == 0
    with torch.no_grad():
        f = backbone_features(net32, x)
        coarse = F.conv2d(f["layer4"], net32.final_conv.weight, net32.final_conv.bias)
        # With zero skips, a fresh FCN-16s is FCN-32s's coarse scores upsampled 2x, then 16x;
        # a fresh FCN-8s 2x, 2x, then 8x. Only the layer4 path counts.
        expected = up(up(coarse, 2), 16) if variant == "16s" else up(up(up(coarse, 2), 2), 8)
        out = net(x)
        torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-4)
        # ... which is close to, but smoother than, FCN-32s's one-step 32x upsampling.
        out32 = net32(x)
        torch.testing.assert_close(out32, up(coarse, 32), rtol=1e-4, atol=1e-4)
        assert not torch.allclose(out, out32, atol=1e-3)
        assert (out.argmax(1) == out32.argmax(1)).float().mean() > 0.6


@pytest.mark.parametrize("variant", ["16s", "8s"])
def test_upsamplers_are_bilinear(variant: str) -> None:
    net = fcnlib.fcn_resnet18(C, variant, weights=None)
    factor = {"16s": 16, "8s": 8}[variant]
    layers = [net.up_layer4] + ([net.up_layer3] if variant == "8s" else [])
    for layer in layers:
        assert (layer.kernel_size, layer.stride, layer.padding) == ((4, 4), (2, 2), (1, 1))
        assert layer.bias is None
        torch.testing.assert_close(layer.weight.detach(), diagonal(tent_kernel(4), C))
        # The 1-D kernel of 2x bilinear upsampling is [1/4, 3/4, 3/4, 1/4].
        torch.testing.assert_close(layer.weight[0, 0, 1], torch.tensor([0.1875, 0.5625, 0.5625, 0.1875]))
    t = net.transpose_conv
    assert (t.kernel_size, t.stride, t.padding) == ((2 * factor,) * 2, (factor,) * 2, (factor // 2,) * 2)
    torch.testing.assert_close(t.weight.detach(), diagonal(tent_kernel(2 * factor), C))


def test_2x_upsampler_is_bilinear_interpolation_inside() -> None:
    """Away from the border, the 2x transposed convolution is F.interpolate's bilinear resize."""
    net = fcnlib.fcn_resnet18(C, "16s", weights=None)
    torch.manual_seed(4)
    s = torch.randn(1, C, 6, 7)
    with torch.no_grad():
        ours = net.up_layer4(s)
    theirs = F.interpolate(s, scale_factor=2, mode="bilinear", align_corners=False)
    torch.testing.assert_close(ours[..., 1:-1, 1:-1], theirs[..., 1:-1, 1:-1])


def test_init_from_copies_backbone_and_keeps_new_layers() -> None:
    torch.manual_seed(5)
    net32 = fcnlib.fcn_resnet18(C, "32s", weights=None)
    with torch.no_grad():
        net32.transpose_conv.weight.mul_(2.0)  # "trained": no longer the bilinear kernel
        net32.bn1.running_mean.add_(1.0)
    net16 = fcnlib.fcn_resnet18(C, "16s", weights=None)
    report = init_from(net16, net32)
    assert "layer4.1.conv2.weight" in report.copied and "bn1.running_mean" in report.copied
    assert "final_conv.weight" in report.copied
    assert {"score_layer3.weight", "score_layer3.bias", "up_layer4.weight", "transpose_conv.weight"} <= set(report.kept)
    for name, value in net16.state_dict().items():
        if name in report.copied:
            assert torch.equal(value, net32.state_dict()[name]), name
    torch.testing.assert_close(net16.transpose_conv.weight.detach(), diagonal(tent_kernel(32), C))
    # 8s from 16s: now the 2x upsampler up_layer4 and score_layer3 come along as well.
    with torch.no_grad():
        net16.score_layer3.weight.fill_(0.5)
    net8 = fcnlib.fcn_resnet18(C, "8s", weights=None)
    report8 = init_from(net8, net16)
    assert {"score_layer3.weight", "up_layer4.weight"} <= set(report8.copied)
    assert {"score_layer2.weight", "up_layer3.weight", "transpose_conv.weight"} <= set(report8.kept)
    assert torch.equal(net8.score_layer3.weight, net16.score_layer3.weight)


def test_init_from_bad_input() -> None:
    net = fcnlib.fcn_resnet18(C, "16s", weights=None)
    with pytest.raises(TypeError):
        init_from(net, {"layer4": 1})
    with pytest.raises(ValueError, match="backbone"):
        init_from(net, nn.Linear(2, 2))


def test_param_groups() -> None:
    net = fcnlib.fcn_resnet18(C, "8s", weights=None)
    groups = param_groups(net, 0.01, skip_lr_mult=10)
    assert [g["lr"] for g in groups] == [0.01, pytest.approx(0.1)]
    ids = [id(p) for g in groups for p in g["params"]]
    assert sorted(ids) == sorted(id(p) for p in net.parameters())  # every parameter exactly once
    skip = {id(p) for p in list(net.score_layer3.parameters()) + list(net.score_layer2.parameters())}
    assert {id(p) for p in groups[1]["params"]} == skip
    assert len(param_groups(fcnlib.fcn_resnet18(C, "32s", weights=None), 0.01, 10)) == 1
    with pytest.raises(ValueError):
        param_groups(net, 0.0)


def test_intermediates_bad_input() -> None:
    net = fcnlib.fcn_resnet18(C, "8s", weights=None)
    with pytest.raises(ValueError, match="multiples of 32"):
        net.intermediates(torch.zeros(1, 3, 40, 64))
    with pytest.raises(TypeError):
        net.intermediates(torch.zeros(1, 3, 32, 32).numpy())


# ---- alignment: the crop offsets of the paper's Caffe nets ---------------------------------


def test_vgg_crop_offsets_match_the_papers_nets() -> None:
    """The crop offsets in the released voc-fcn32s/16s/8s Caffe nets: 19; 5 and 27; 5, 9 and 31."""
    vgg = vgg16_fcn_layers(pad=100)
    names = [layer.name for layer in vgg]
    up2, up_pool4 = Layer("upscore2", "deconv", 4, 2), Layer("upscore_pool4", "deconv", 4, 2)
    assert coordinate_map(vgg + [Layer("upscore", "deconv", 64, 32)]) == (1.0, -19.0)
    assert coordinate_map(vgg[names.index("pool4") + 1 :] + [up2]) == (1.0, 5.0)
    assert coordinate_map(vgg + [up2, Layer("upscore16", "deconv", 32, 16)]) == (1.0, -27.0)
    assert coordinate_map(vgg[names.index("pool3") + 1 :] + [up2, up_pool4]) == (1.0, 9.0)
    assert coordinate_map(vgg + [up2, up_pool4, Layer("upscore8", "deconv", 16, 8)]) == (1.0, -31.0)


def _torch_chain(layers: list) -> nn.Sequential:
    modules = []
    for layer in layers:
        k, s, p = layer.kernel_size, layer.stride, layer.padding
        if layer.kind == "conv":
            modules.append(nn.Conv2d(1, 1, k, s, p))
        elif layer.kind == "pool":
            modules.append(nn.MaxPool2d(k, s, p, ceil_mode=True))  # Caffe rounds pooling sizes up
        else:
            modules.append(nn.ConvTranspose2d(1, 1, k, s, p))
    return nn.Sequential(*modules)


@pytest.mark.parametrize("size", [224, 320, 333])
def test_chain_sizes_match_torch_layers(size: int) -> None:
    layers = vgg16_fcn_layers(pad=100) + [Layer("upscore", "deconv", 64, 32)]
    net = _torch_chain(layers)
    sizes = chain_sizes(size, layers)
    h = torch.zeros(1, 1, size, 40)
    with torch.no_grad():
        for module, (name, expected) in zip(net, sizes[1:]):
            h = module(h)
            assert h.shape[-2] == expected, name
    # The padding of 100 makes the output larger than the input: hence the crop.
    assert sizes[-1][1] > size


def test_resnet_layout_needs_no_crop() -> None:
    layers = resnet18_fcn_layers() + [Layer("transpose_conv", "deconv", 64, 32, 16)]
    for size in (64, 320, 480):
        assert chain_sizes(size, layers)[-1] == ("transpose_conv", size)
    scale, offset = coordinate_map(layers)
    assert scale == 1.0 and offset == -15.5  # a constant sub-block shift, not a crop


def _ramp_chain(layers: list) -> nn.Sequential:
    """1-D layers that map a ramp (pixel i holds the value i) to the coordinates they look at.

    Averaging windows (convolutions, pools) return the centre of their window; bilinear
    transposed convolutions interpolate the ramp. Away from the borders both are exact.
    """
    modules = []
    for layer in layers:
        k, s, p = layer.kernel_size, layer.stride, layer.padding
        if layer.kind == "conv":
            m = nn.Conv1d(1, 1, k, s, p, bias=False)
            nn.init.constant_(m.weight, 1.0 / k)
        elif layer.kind == "pool":
            m = nn.AvgPool1d(k, s, p, ceil_mode=True)
        else:
            m = nn.ConvTranspose1d(1, 1, k, s, p, bias=False)
            with torch.no_grad():
                factor = (k + 1) // 2
                center = factor - 1 if k % 2 == 1 else factor - 0.5
                m.weight[0, 0] = 1 - (torch.arange(k) - center).abs() / factor  # the 1-D tent
        modules.append(m)
    return nn.Sequential(*modules)


@pytest.mark.parametrize("which", ["vgg32s", "vgg8s", "pool4c", "resnet32s", "resnet_up2"])
def test_coordinate_map_against_a_ramp(which: str) -> None:
    vgg = vgg16_fcn_layers(pad=100)
    names = [layer.name for layer in vgg]
    up2 = Layer("up2", "deconv", 4, 2, 0)
    chains = {
        "vgg32s": vgg + [Layer("upscore", "deconv", 64, 32)],
        "vgg8s": vgg + [up2, Layer("upscore_pool4", "deconv", 4, 2), Layer("upscore8", "deconv", 16, 8)],
        "pool4c": vgg[names.index("pool4") + 1 :] + [up2],
        "resnet32s": resnet18_fcn_layers() + [Layer("transpose_conv", "deconv", 64, 32, 16)],
        "resnet_up2": [Layer("layer4", "conv", 3, 2, 1), Layer("up_layer4", "deconv", 4, 2, 1)],
    }
    layers = chains[which]
    n = 1200
    with torch.no_grad():
        out = _ramp_chain(layers)(torch.arange(n, dtype=torch.float64).float().view(1, 1, n))[0, 0].double()
    scale, offset = coordinate_map(layers)
    u = torch.arange(out.shape[0], dtype=torch.float64)
    expected = scale * u + offset
    inside = (expected > 250) & (expected < n - 250)  # far from the zero padding at both ends
    assert inside.sum() > 50
    torch.testing.assert_close(out[inside], expected[inside], rtol=0, atol=1e-3)


def test_alignment_bad_input() -> None:
    with pytest.raises(ValueError):
        coordinate_map([])
    with pytest.raises(ValueError, match="kind"):
        coordinate_map([Layer("x", "dense", 1)])
    with pytest.raises(TypeError):
        chain_sizes(10, [(3, 1, 1)])


# ---- identical settings and staged training -------------------------------------------------


class TinySet(torch.utils.data.Dataset):
    """Eight 64x64 images with a bright square (class 1) or disc (class 2) on a dark background."""

    num_classes = 3

    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.items = []
        yy, xx = torch.meshgrid(torch.arange(64), torch.arange(64), indexing="ij")
        for i in range(8):
            label = torch.zeros(64, 64, dtype=torch.long)
            cy, cx = torch.randint(20, 44, (2,), generator=g).tolist()
            if i % 2:
                label[cy - 10 : cy + 10, cx - 10 : cx + 10] = 1
            else:
                label[(yy - cy) ** 2 + (xx - cx) ** 2 < 100] = 2
            image = (label > 0).float().expand(3, -1, -1) + 0.1 * torch.randn(3, 64, 64, generator=g)
            self.items.append((image, label))

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        return self.items[i]


def _tiny_loaders():
    data = TinySet()
    return (
        torch.utils.data.DataLoader(data, batch_size=4, shuffle=True),
        torch.utils.data.DataLoader(data, batch_size=4),
    )


def test_train_variant_starts_all_variants_identically() -> None:
    from dataclasses import replace as with_overrides

    # no step taken, so a constant rate: torch's one-cycle schedule needs at least one step to plan
    P = with_overrides(fcnlib.profile("quick", device=torch.device("cpu")), num_epochs=0, lr=0.01, schedule="constant")
    train_iter, test_iter = _tiny_loaders()
    nets = {v: skips_train(v, train_iter, test_iter, P)[0] for v in ("32s", "16s", "8s")}
    for name, value in nets["32s"].state_dict().items():
        if name.startswith(("layer", "conv1", "bn1", "final_conv")):
            assert torch.equal(value, nets["16s"].state_dict()[name]) and torch.equal(
                value, nets["8s"].state_dict()[name]
            )
    assert nets["8s"].score_layer2.weight.abs().sum() == 0
    with pytest.raises(ValueError, match="optimizer"):
        skips_train("8s", train_iter, test_iter, P, optimizer="rmsprop")


def test_train_variant_and_staged_training_run() -> None:
    from dataclasses import replace as with_overrides

    from fcnlib.experiments import train_staged

    P = with_overrides(fcnlib.profile("quick", device=torch.device("cpu")), num_epochs=1, lr=0.01)
    train_iter, test_iter = _tiny_loaders()
    net32, history = skips_train("32s", train_iter, test_iter, P)
    assert len(history) == 1 and 0 <= history[0]["miou"] <= 1
    staged = train_staged(
        train_iter, test_iter, P, start=net32, lr_scale=(1.0, 0.1, 0.1), weights=None, progress=False, plot=False
    )
    assert staged["32s"] == (net32, None)
    assert len(staged["16s"][1]) == 1 and len(staged["8s"][1]) == 1
    # FCN-8s started from the trained FCN-16s: its layer3 scores are no longer zero.
    assert staged["16s"][0].score_layer3.weight.abs().sum() > 0
    with pytest.raises(ValueError, match="lr_scale"):
        train_staged(train_iter, test_iter, P, lr_scale=(1.0,))


def skips_train(variant, train_iter, test_iter, P, **kwargs):
    from fcnlib.experiments import train_variant

    return train_variant(variant, train_iter, test_iter, P, weights=None, progress=False, plot=False, **kwargs)


# ---- figures of the chapter -------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
def test_skip_architecture_figure_shows_the_shapes(variant: str) -> None:
    import matplotlib.pyplot as plt

    from fcnlib.viz.architecture import plot_skip_architecture

    fig = plot_skip_architecture(variant, input_size=(320, 480), num_classes=21)
    texts = " ".join(t.get_text() for t in fig.axes[0].texts)
    for shape in ("512x10x15", "256x20x30", "128x40x60", "21x10x15", "21x20x30", "21x40x60", "21x320x480"):
        assert shape in texts  # the grey paths of the other variants are drawn too
    assert f"FCN-{variant}" in fig.axes[0].get_title()
    plt.close(fig)
    with pytest.raises(ValueError):
        plot_skip_architecture("4s")
    with pytest.raises(ValueError, match="multiples of 32"):
        plot_skip_architecture("8s", input_size=(100, 480))


def test_chapter_figures_run_and_check_their_input() -> None:
    import matplotlib.pyplot as plt

    from fcnlib.viz.segmentation import show_boundary_band, show_coarse_prediction, show_model_comparison

    image = torch.rand(3, 64, 96)
    label = torch.zeros(64, 96, dtype=torch.long)
    label[10:40, 20:60] = 2
    label[9, 20:60] = 255
    fig = show_coarse_prediction(image, label[::32, ::32], label, 32, target=label)
    assert len(fig.axes) == 4
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["background", "bicycle", "void"]
    with pytest.raises(ValueError, match="coarse"):
        show_coarse_prediction(image, label[::16, ::16], label, 32)
    fig2 = show_boundary_band(label, widths=(1, 3))
    assert len(fig2.axes) == 3
    texts = [t.get_text() for t in fig2.legends[0].get_texts()]
    assert texts == ["background", "bicycle", "void", "outside the band (colours faded)"]
    fig3 = show_model_comparison(
        image.unsqueeze(0).repeat(2, 1, 1, 1),
        {"a": label.repeat(2, 1, 1)},
        label.repeat(2, 1, 1),
        classes=["bg", "x", "y"],
    )
    assert len(fig3.axes) == 6 and [t.get_text() for t in fig3.legends[0].get_texts()] == ["bg", "y", "void"]
    with pytest.raises(ValueError, match="one label map per image"):
        show_model_comparison(image.unsqueeze(0), {"a": label.repeat(2, 1, 1)})
    from fcnlib.viz.curves import plot_histories

    history = [dict(epoch=1, loss=2.0, miou=0.1), dict(epoch=2, loss=1.0, miou=0.2)]
    fig4 = plot_histories({"32s": history, "8s": history})
    assert len(fig4.axes) == 2 and len(fig4.axes[1].lines) == 2
    assert list(fig4.axes[1].lines[0].get_ydata()) == [0.1, 0.2]
    with pytest.raises(ValueError):
        plot_histories({})
    for f in (fig, fig2, fig3, fig4):
        plt.close(f)


def test_comparison_settings_and_table() -> None:
    from fcnlib.experiments import PAPER_TABLE2, comparison_settings, comparison_table

    quick = fcnlib.profile("quick", device=torch.device("cpu"))
    full = fcnlib.profile("full", device=torch.device("cpu"))
    assert comparison_settings(quick) == dict(
        seed=0, optimizer=quick.optimizer, lr=quick.lr, wd=quick.wd, momentum=quick.momentum, schedule=quick.schedule
    )
    assert comparison_settings(full, seed=3) == dict(
        seed=3, optimizer="sgd", lr=full.lr, wd=full.wd, momentum=0.0, schedule="constant"
    )
    # Table 2 of the CVPR 2015 paper, as printed there.
    assert PAPER_TABLE2["FCN-8s"] == dict(pixel_acc=90.3, mean_acc=75.9, miou=62.7, fw_iou=83.2)
    table = comparison_table(
        {"FCN-8s": dict(pixel_acc=0.5, mean_acc=0.25, miou=0.125, fw_iou=1.0, band=0.0625)},
        paper=PAPER_TABLE2,
        extra=[("band", "boundary")],
    )
    lines = table.splitlines()
    assert lines[0].split() == ["pixel", "acc.", "mean", "acc.", "mean", "IU", "f.w.", "IU", "boundary"]
    assert lines[1].split() == ["FCN-8s", "(ours)", "50.0", "25.0", "12.5", "100.0", "6.2"]
    assert lines[2].split() == ["FCN-8s", "(paper)", "90.3", "75.9", "62.7", "83.2", "-"]
    alone = comparison_table({"FCN-8s": dict(pixel_acc=0.5, mean_acc=0.25, miou=0.125, fw_iou=1.0)})
    assert alone.splitlines()[1].split() == ["FCN-8s", "50.0", "25.0", "12.5", "100.0"]  # no "(ours)" alone
    with pytest.raises(ValueError, match="band"):
        comparison_table({"x": dict(pixel_acc=0.5, mean_acc=0.25, miou=0.125, fw_iou=1.0)}, extra=[("band", "b")])
