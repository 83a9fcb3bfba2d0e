"""Tests for fcnlib.lessons_model against independent references: PyTorch's own layers and
F.unfold, hand-computed values, torchvision's published counts and d2l's VOC label code."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from test_taught_in_the_open import chapter_definitions
from torch import nn

import fcnlib

# ---------------------------------------------------------------- convolutionalisation (typed in chapter 3)

CH3 = chapter_definitions(
    "03_fcn_model.ipynb", "linear_to_conv", "sliding_window_scores", "count_parameters", "format_parameter_table"
)
linear_to_conv, sliding_window_scores = CH3["linear_to_conv"], CH3["sliding_window_scores"]
count_parameters, format_parameter_table = CH3["count_parameters"], CH3["format_parameter_table"]


@pytest.mark.parametrize("kernel_size,channels", [(3, 8), ((2, 3), 4), (1, 16)])
def test_linear_to_conv_equals_linear_on_one_window(kernel_size, channels):
    torch.manual_seed(0)
    kh, kw = (kernel_size, kernel_size) if isinstance(kernel_size, int) else kernel_size
    linear = nn.Linear(channels * kh * kw, 5)
    conv = linear_to_conv(linear, kernel_size)
    x = torch.randn(3, channels, kh, kw)
    assert conv(x).shape == (3, 5, 1, 1)
    torch.testing.assert_close(conv(x).flatten(1), linear(x.flatten(1)), rtol=1e-5, atol=1e-5)


def test_linear_to_conv_on_larger_input_equals_unfold_reference():
    torch.manual_seed(1)
    c, kh, kw = 3, 2, 3
    linear = nn.Linear(c * kh * kw, 4)
    conv = linear_to_conv(linear, (kh, kw))
    x = torch.randn(2, c, 5, 7)
    # Reference: F.unfold lists every window as a column in PyTorch's flatten order.
    cols = F.unfold(x, (kh, kw))  # [N, C*kh*kw, L]
    ref = (linear.weight @ cols + linear.bias[:, None]).reshape(2, 4, 5 - kh + 1, 7 - kw + 1)
    torch.testing.assert_close(conv(x), ref, rtol=1e-5, atol=1e-5)


def test_linear_to_conv_copies_weights_and_handles_no_bias():
    linear = nn.Linear(2 * 2 * 2, 3, bias=False)
    conv = linear_to_conv(linear, 2)
    assert conv.bias is None
    with torch.no_grad():
        conv.weight.zero_()
    assert linear.weight.abs().sum() > 0  # not shared


def test_resnet_fc_as_1x1_conv_averages_to_the_logits():
    """Global average pooling then fc == fc as a 1x1 conv then averaging (linearity)."""
    torch.manual_seed(2)
    resnet = torchvision.models.resnet18(weights=None).eval()
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        logits = resnet(x)
        body = nn.Sequential(*list(resnet.children())[:-2])
        score_map = linear_to_conv(resnet.fc, 1)(body(x))
    assert score_map.shape == (1, 1000, 2, 3)
    torch.testing.assert_close(score_map.mean(dim=(2, 3)), logits, rtol=1e-4, atol=1e-4)


def test_sliding_window_scores_hand_computed():
    # One channel, a 2x2 "sum" classifier and a "first pixel" classifier over a 2x3 map.
    linear = nn.Linear(4, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0]]))
        linear.bias.copy_(torch.tensor([0.5, 0.0]))
    x = torch.tensor([[[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]]])
    out = sliding_window_scores(linear, x, 2)
    expected = torch.tensor([[[[12.5, 16.5]], [[1.0, 2.0]]]])
    torch.testing.assert_close(out, expected)


def test_sliding_window_scores_matches_unfold_and_validates():
    torch.manual_seed(3)
    linear = nn.Linear(2 * 3 * 3, 3)
    x = torch.randn(1, 2, 4, 6)
    ref = (linear.weight @ F.unfold(x, 3) + linear.bias[:, None]).reshape(1, 3, 2, 4)
    torch.testing.assert_close(sliding_window_scores(linear, x, 3), ref, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- shapes and parameters


def test_stage_shapes_hand_computed_sequential():
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, stride=2, padding=1),  # 20x30 -> 10x15
        nn.ReLU(),
        nn.MaxPool2d(5),  # 10x15 -> 2x3
        nn.Flatten(),
        nn.Linear(4 * 2 * 3, 7),
    )
    stages = fcnlib.shapes.stage_shapes(net, (20, 30))
    assert [(s.name, s.kind, s.shape, s.scale) for s in stages] == [
        ("0", "Conv2d", (4, 10, 15), "1/2"),
        ("1", "ReLU", (4, 10, 15), "1/2"),
        ("2", "MaxPool2d", (4, 2, 3), "1/10"),
        ("3", "Flatten", (24,), "-"),
        ("4", "Linear", (7,), "-"),
    ]
    table = fcnlib.shapes.format_stage_table(stages)
    assert table.splitlines()[1].split() == ["0", "Conv2d", "(4,", "10,", "15)", "1/2"]


def test_stage_shapes_follows_execution_order_and_restores_mode():
    class Backwards(nn.Module):
        def __init__(self):
            super().__init__()
            self.second = nn.Conv2d(4, 2, 1)
            self.first = nn.Conv2d(3, 4, 2, stride=2)

        def forward(self, x):
            return self.second(self.first(x))

    net = Backwards().train()
    stages = fcnlib.shapes.stage_shapes(net, 8)
    assert [s.name for s in stages] == ["first", "second"]
    assert stages[1].shape == (2, 4, 4)
    assert net.training
    assert all(not m._forward_hooks for m in net.modules())


def test_stage_shapes_resnet18_matches_torchvision_docs():
    # ResNet-18 on 224x224 ends in a 7x7x512 map (He et al., 2016, table 1).
    stages = fcnlib.shapes.stage_shapes(torchvision.models.resnet18(weights=None), 224)
    by_name = {s.name: s for s in stages}
    assert by_name["layer4"].shape == (512, 7, 7) and by_name["layer4"].scale == "1/32"
    assert by_name["maxpool"].shape == (64, 56, 56)
    assert by_name["fc"].shape == (1000,)


def test_count_parameters_hand_computed():
    net = nn.Sequential(nn.Conv2d(3, 5, 3), nn.BatchNorm2d(5), nn.ReLU(), nn.Linear(3, 4))
    # conv: 5*3*3*3 + 5 = 140; bn: 5 + 5 = 10; relu: none; linear: 3*4 + 4 = 16
    assert count_parameters(net) == 166
    rows = [line.split() for line in format_parameter_table(net).splitlines()[1:]]
    assert rows == [["0", "140", "84.3%"], ["1", "10", "6.0%"], ["3", "16", "9.6%"], ["total", "166", "100.0%"]]


def test_count_parameters_resnet18_published_value():
    # torchvision's ResNet18_Weights.IMAGENET1K_V1.meta["num_params"] is 11,689,512.
    assert count_parameters(torchvision.models.resnet18(weights=None)) == 11_689_512


# ---------------------------------------------------------------- score maps and labels


def test_roughness_hand_computed():
    roughness = chapter_definitions("03_fcn_model.ipynb", "roughness")["roughness"]
    checker = (torch.arange(4)[:, None] + torch.arange(4)[None, :]) % 2 * 2.0 - 1.0
    assert roughness(checker) == pytest.approx(2.0)
    ramp = torch.tensor([[0.0, 1.0, 2.0], [0.0, 1.0, 2.0]])
    # 4 horizontal differences of 1, 3 vertical differences of 0; std of {0,1,2,0,1,2}.
    assert roughness(ramp) == pytest.approx((4 / 7) / np.std([0, 1, 2, 0, 1, 2]))
    # Scale-free, and white noise is close to 2 / sqrt(pi).
    noise = torch.randn(2, 200, 200, generator=torch.Generator().manual_seed(0))
    assert roughness(noise) == pytest.approx(2 / math.sqrt(math.pi), rel=0.02)
    assert roughness(10 * noise) == pytest.approx(roughness(noise))


def test_void_to_background_matches_d2l_label_indices():
    from d2l import torch as d2l  # the reference: d2l's own colour -> index lookup

    g = torch.Generator().manual_seed(0)
    label = torch.randint(0, 21, (12, 16), generator=g)
    label[3:6, 2:9] = 255  # a void outline
    label[0, :] = 255
    colormap = torch.tensor(d2l.VOC_COLORMAP + [[224, 224, 192]], dtype=torch.uint8)
    colour = colormap[torch.where(label == 255, torch.tensor(21), label)]  # [H, W, 3]
    d2l_label = d2l.voc_label_indices(colour.permute(2, 0, 1), d2l.voc_colormap2label())
    torch.testing.assert_close(fcnlib.data.void_to_background(label), d2l_label.long())
    # Not in place, other ignore values and dtypes respected.
    assert (label == 255).sum() > 0
    assert fcnlib.data.void_to_background(
        torch.tensor([[1, 9]], dtype=torch.uint8), ignore_index=9, background=4
    ).tolist() == [[1, 4]]
    with pytest.raises(TypeError, match="integer"):
        fcnlib.data.void_to_background(torch.zeros(2, 2))


# ---------------------------------------------------------------- reproducible training runs


class _Shapes(torch.utils.data.Dataset):
    """Four 32x32 images whose label is the brighter half; records what the loader asks for."""

    def __init__(self, num_classes: int = 3):
        self.num_classes = num_classes
        self.seen: list = []
        g = torch.Generator().manual_seed(0)
        self.images = torch.rand(4, 3, 32, 32, generator=g)
        self.labels = torch.randint(0, num_classes, (4, 32, 32), generator=g)
        self.labels[:, :2] = 255

    def __len__(self):
        return 4

    def __getitem__(self, i):
        jitter = torch.rand(())  # stands in for a random crop: drawn from the global generator
        self.seen.append((i, round(float(jitter), 6)))
        return self.images[i] + 0.01 * jitter, self.labels[i]


def _loaders(num_classes: int = 3):
    data = _Shapes(num_classes)
    return torch.utils.data.DataLoader(data, batch_size=2, shuffle=True), data


def _run(upsample_init: str, seed: int = 0):
    loader, data = _loaders()
    net, history = fcnlib.experiments.train_fcn(
        loader,
        None,
        lr=0.01,
        wd=1e-3,
        num_epochs=2,
        devices="cpu",
        weights=None,
        upsample_init=upsample_init,
        seed=seed,
        plot=False,
        progress=False,
    )
    return net, history, data.seen


def test_train_fcn_is_reproducible_and_shares_data_order_between_inits():
    net_a, hist_a, seen_a = _run("bilinear")
    net_b, hist_b, seen_b = _run("bilinear")
    for (k, va), vb in zip(net_a.state_dict().items(), net_b.state_dict().values()):
        assert torch.equal(va, vb), k
    assert [e["loss"] for e in hist_a] == [e["loss"] for e in hist_b]
    _, hist_x, seen_x = _run("xavier")
    assert seen_x == seen_a and len(seen_a) == 8  # same items, same order, same random draws
    assert [e["loss"] for e in hist_x] != [e["loss"] for e in hist_a]
    _, _, seen_other = _run("bilinear", seed=5)
    assert seen_other != seen_a


def test_train_fcn_needs_num_classes_and_valid_lr():
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.rand(2, 3, 32, 32)), batch_size=1)
    with pytest.raises(ValueError, match="num_classes"):
        fcnlib.experiments.train_fcn(loader, None, lr=0.1, wd=0.0, num_epochs=1, weights=None)
    with pytest.raises(ValueError, match="lr"):
        fcnlib.experiments.train_fcn(_loaders()[0], None, lr=-1, wd=0.0, num_epochs=1, weights=None)


def test_load_or_train_fcn_trains_saves_loads_and_retrains_on_mismatch(tmp_path):
    path = tmp_path / "ckpt" / "fcn32s.pt"
    settings = dict(lr=0.01, wd=1e-3, num_epochs=1, devices="cpu", weights=None, progress=False)
    net1, hist1, msg1 = fcnlib.experiments.load_or_train_fcn(path, _loaders()[0], None, **settings)
    assert path.is_file() and msg1.startswith("no checkpoint") and len(hist1) == 1
    assert not net1.training
    net2, hist2, msg2 = fcnlib.experiments.load_or_train_fcn(path, _loaders()[0], None, **settings)
    assert msg2.startswith("loaded") and len(hist2) == 1
    assert str(tmp_path) not in msg1 + msg2 and msg2.split()[1].endswith("ckpt/fcn32s.pt")  # no machine path
    for (k, v1), v2 in zip(net1.state_dict().items(), net2.state_dict().values()):
        assert torch.equal(v1, v2), k
    first = path.read_bytes()
    net3, _, msg3 = fcnlib.experiments.load_or_train_fcn(path, _loaders(num_classes=4)[0], None, **settings)
    assert "does not fit" in msg3 and net3.final_conv.out_channels == 4
    kept = path.with_name("fcn32s.old-1.pt")  # the learner's 21-class net is kept, not overwritten
    assert kept.read_bytes() == first and "kept as" in msg3 and path.read_bytes() != first
    fcnlib.experiments.load_or_train_fcn(path, _loaders()[0], None, **settings)  # back to 21: the 4-class one kept
    assert path.with_name("fcn32s.old-2.pt").is_file() and kept.read_bytes() == first


def test_runs_table_hand_written():
    a = [{"loss": 1.0, "pixel_acc": 0.5, "miou": 0.25}, {"loss": 0.5, "pixel_acc": 0.75, "miou": 0.5}]
    b = [{"loss": 2.0, "pixel_acc": 0.125, "miou": 0.0625}]
    assert fcnlib.experiments.runs_table({"a": a, "b": b}) == (
        "run           epochs        loss   pixel acc        mIoU\n"
        "a                  2       0.500       0.750       0.500\n"
        "b                  1       2.000       0.125       0.062"
    )
    assert (
        fcnlib.experiments.runs_table({"a": a, "b": b}, keys=("miou",), per_epoch=True)
        == (
            "epoch" + " " * 14 + "a" + " " * 11 + "b\n"  # an 8-wide epoch column, 12-wide run columns
            "1" + " " * 14 + "0.250       0.062\n"
            "2" + " " * 14 + "0.500" + " " * 12
        )
    )
    with pytest.raises(ValueError, match="no completed epoch"):
        fcnlib.experiments.runs_table({"a": []})


def test_runs_table_counts_batches_when_told_the_batches_of_an_epoch():
    a = [{"loss": 1.0, "pixel_acc": 0.5, "miou": 0.25}, {"loss": 0.5, "pixel_acc": 0.75, "miou": 0.5}]
    table = fcnlib.experiments.runs_table({"a": a}, keys=("miou",), batches=10)
    assert table == "run          batches        mIoU\na                 20       0.500"  # 2 epochs of 10
    with pytest.raises(ValueError, match="batches must be an int >= 1"):
        fcnlib.experiments.runs_table({"a": a}, batches=0)


def test_seeds_table_hand_written():
    rows = {
        "x": {"0": dict(loss=1.0, miou=0.25, diverged=False), "1": dict(loss=0.5, miou=0.5, diverged=False)},
        "y": {"0": dict(loss=2.0, miou=0.125, diverged=False), "1": dict(diverged=True)},
        "z": {"0": dict(diverged=True)},
    }
    table = fcnlib.experiments.seeds_table(rows, {"lazy": {"miou": 0.1}}, keys=("loss", "miou"))
    lines = [line.split() for line in table.splitlines()]
    assert lines[0] == ["run", "training", "loss", "test", "mIoU", "diverged"]
    assert lines[1] == ["x", "0.750", "(0.500..1.000)", "0.375", "(0.250..0.500)", "0", "of", "2"]
    assert lines[2] == ["y", "2.000", "(2.000..2.000)", "0.125", "(0.125..0.125)", "1", "of", "2"]
    assert lines[3] == ["z", "-", "-", "1", "of", "1"] and lines[4] == ["lazy", "-", "0.100"]
    assert len({len(line) for line in table.splitlines()[:4]}) == 1  # the columns line up
    with pytest.raises(ValueError, match="at least one run"):
        fcnlib.experiments.seeds_table({"x": {}})


# ---------------------------------------------------------------- the coarse oracle


def _oracle_reference(label: np.ndarray, stride: int, num_classes: int) -> np.ndarray:
    """Block shares by explicit loops, then F.interpolate (bilinear, align_corners=False)."""
    h, w = label.shape
    bh, bw = -(-h // stride), -(-w // stride)
    shares = np.zeros((num_classes, bh, bw))
    for i in range(bh):
        for j in range(bw):
            block = label[i * stride : (i + 1) * stride, j * stride : (j + 1) * stride]
            block = block[block != 255]
            for c in range(num_classes):
                shares[c, i, j] = (block == c).mean() if block.size else 0.0
    up = F.interpolate(torch.from_numpy(shares)[None], scale_factor=stride, mode="bilinear", align_corners=False)
    return up[0, :, :h, :w].argmax(0).numpy()


def test_coarse_oracle_matches_reference_away_from_the_border():
    g = torch.Generator().manual_seed(0)
    # Large blobs: a coarse random map enlarged 12x, then cut to an awkward size, plus void.
    label = F.interpolate(torch.randint(0, 3, (1, 1, 6, 7), generator=g).float(), scale_factor=12)[0, 0].long()
    label = label[:67, :79].clone()
    label[30:33, :] = 255
    for stride in (8, 16):
        ours = fcnlib.inference.coarse_oracle(label, stride, 3).numpy()
        ref = _oracle_reference(label.numpy(), stride, 3)
        b = stride  # bilinear_upsample darkens the outer stride/2 pixels (zeros outside); compare inside
        inner = (slice(b, label.shape[0] - b), slice(b, label.shape[1] - b))
        assert (ours[inner] == ref[inner]).mean() > 0.99


def test_coarse_oracle_hand_examples_and_errors():
    label = torch.zeros(8, 8, dtype=torch.long)
    label[:, 4:] = 1  # an edge exactly on a block boundary
    assert torch.equal(fcnlib.inference.coarse_oracle(label, 1, 2), label)  # stride 1: the label itself
    assert torch.equal(fcnlib.inference.coarse_oracle(label, 4, 2), label)  # blocks are pure: nothing is lost
    small = torch.zeros(8, 8, dtype=torch.long)
    small[3, 3] = 1  # an object far smaller than a block vanishes
    assert fcnlib.inference.coarse_oracle(small, 8, 2).sum() == 0
    with pytest.raises(ValueError, match="outside"):
        fcnlib.inference.coarse_oracle(torch.full((4, 4), 7), 2, 3)
    with pytest.raises(ValueError, match="stride"):
        fcnlib.inference.coarse_oracle(label, 0, 2)
