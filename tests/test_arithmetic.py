"""Output-size formulas against PyTorch's own layers, over many random settings."""

import itertools
import random
import re

import pytest
import torch
from torch import nn

from fcnlib import conv_output_size, conv_transpose_output_size, upsampling_params
from fcnlib.shapes import explain_conv_transpose_output_size


def _torch_conv_size(n, k, s, p, d):
    layer = nn.Conv2d(1, 1, k, stride=s, padding=p, dilation=d, bias=False)
    return layer(torch.zeros(1, 1, n, n)).shape[-1]


def _torch_tconv_size(n, k, s, p, op, d):
    layer = nn.ConvTranspose2d(1, 1, k, stride=s, padding=p, output_padding=op, dilation=d, bias=False)
    return layer(torch.zeros(1, 1, n, n)).shape[-1]


def _settings(rng, n=400):
    for _ in range(n):
        yield (
            rng.randint(1, 12),
            rng.randint(1, 7),
            rng.randint(1, 4),
            rng.randint(0, 5),
            rng.randint(0, 4),
            rng.randint(1, 3),
        )


def test_conv_output_size_matches_conv2d_including_refusals():
    rng = random.Random(0)
    accepted = refused = 0
    for n, k, s, p, _, d in _settings(rng):
        try:
            expected = _torch_conv_size(n, k, s, p, d)
        except RuntimeError:
            with pytest.raises(ValueError):
                conv_output_size(n, k, s, p, d)
            refused += 1
            continue
        assert conv_output_size(n, k, s, p, d) == expected, (n, k, s, p, d)
        accepted += 1
    assert accepted > 100 and refused > 10  # both branches really exercised


def test_conv_transpose_output_size_matches_conv_transpose2d_including_refusals():
    rng = random.Random(1)
    accepted = refused = 0
    for n, k, s, p, op, d in _settings(rng, 600):
        try:
            expected = _torch_tconv_size(n, k, s, p, op, d)
        except RuntimeError:
            with pytest.raises(ValueError):
                conv_transpose_output_size(n, k, s, p, op, d)
            refused += 1
            continue
        assert conv_transpose_output_size(n, k, s, p, op, d) == expected, (n, k, s, p, op, d)
        accepted += 1
    assert accepted > 100 and refused > 50


def test_pairs_and_the_seed_numbers():
    assert conv_transpose_output_size((10, 15), 64, 32, 16) == (320, 480)
    assert conv_output_size((320, 480), 7, 2, 3) == (160, 240)
    # a pair in one argument only makes the result a pair
    assert conv_transpose_output_size(10, (64, 4), (32, 2), (16, 1)) == (320, 20)
    layer = nn.ConvTranspose2d(1, 1, (3, 5), stride=(2, 3), padding=(1, 2), output_padding=(1, 0))
    assert conv_transpose_output_size((7, 9), (3, 5), (2, 3), (1, 2), (1, 0)) == tuple(
        layer(torch.zeros(1, 1, 7, 9)).shape[-2:]
    )


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(size=4, kernel_size=3, stride=2, output_padding=2), ["output_padding", "smaller than stride"]),
        (dict(size=1, kernel_size=1, stride=1, padding=1), ["padding", "trims"]),
        (dict(size=4, kernel_size=3, padding=-1), ["padding", "negative"]),
        (dict(size=0, kernel_size=3), ["size", "at least 1"]),
        (dict(size=4, kernel_size=3, stride=0), ["stride", "at least 1"]),
        (dict(size=(4, 4), kernel_size=3, stride=(1, 2), output_padding=(0, 2)), ["output_padding[width]"]),
    ],
)
def test_refusals_name_the_parameter_and_the_rule(kwargs, words):
    with pytest.raises(ValueError) as err:
        conv_transpose_output_size(**kwargs)
    for word in words:
        assert word in str(err.value)


def test_bad_types_are_refused_plainly():
    with pytest.raises(TypeError, match="kernel_size"):
        conv_output_size(8, (3, 3, 3))
    with pytest.raises(TypeError, match="stride"):
        conv_output_size(8, 3, stride=1.5)


@pytest.mark.parametrize("factor", [1, 2, 3, 4, 5, 7, 8, 16, 32])
def test_upsampling_params_scale_every_size_exactly(factor):
    k, s, p = upsampling_params(factor)
    assert s == factor
    for n in (1, 2, 5, 10, 15):
        assert _torch_tconv_size(n, k, s, p, 0, 1) == n * factor
    assert upsampling_params(32) == (64, 32, 16)  # d2l's layer


def test_upsampling_params_refuses_bad_factors():
    with pytest.raises(ValueError, match="at least 1"):
        upsampling_params(0)
    with pytest.raises(TypeError):
        upsampling_params(2.0)


def test_explanation_fills_in_the_terms_or_states_the_rule():
    assert explain_conv_transpose_output_size(10, 64, 32, 16) == "(10 - 1) x 32 - 2 x 16 + 1 x (64 - 1) + 0 + 1 = 320"
    text = explain_conv_transpose_output_size(4, 3, 2, 0, 2)
    assert text.startswith("Impossible setting") and "output_padding" in text


def test_check_int_and_as_pair():
    from fcnlib.shapes import as_pair, check_int

    assert check_int(3, "n") == 3 and check_int(0, "n", 0) == 0
    with pytest.raises(ValueError, match=r"^n must be an int >= 1, got 0$"):
        check_int(0, "n", 1)
    for bad in (True, 2.0, "2", None):
        with pytest.raises(TypeError, match="n must be an int"):
            check_int(bad, "n", 1)
    assert as_pair(3, "size") == (3, 3) and as_pair((2, 5), "size") == (2, 5) and as_pair([4, 1], "size") == (4, 1)
    for bad in ((1, 2, 3), (1.0, 2), (True, 2), "ab", None, False):
        with pytest.raises(TypeError, match=r"size must be an int or an \(h, w\) pair of ints"):
            as_pair(bad, "size")
    with pytest.raises(ValueError, match="size must be ints >= 1"):
        as_pair((4, 0), "size", minimum=1)


def test_resnet18_stages_match_torchvision():
    import torchvision

    from fcnlib.shapes import RESNET18_STAGES

    resnet = torchvision.models.resnet18(weights=None)
    for stage in RESNET18_STAGES:
        module = getattr(resnet, stage.name)
        layer = module[0].conv1 if stage.name.startswith("layer") else module  # the layer that sets the size
        size = lambda v: v if isinstance(v, int) else v[0]  # noqa: E731
        assert (size(layer.kernel_size), size(layer.stride), size(layer.padding)) == stage[1:4], stage.name
        channels = module[-1].bn2.num_features if stage.name.startswith("layer") else resnet.conv1.out_channels
        assert channels == stage.channels, stage.name


def test_variant_strides_are_the_fcns_score_maps():
    from fcnlib.model import fcn_resnet18
    from fcnlib.shapes import VARIANT_STRIDES

    x = torch.zeros(1, 3, 64, 96)
    for variant, strides in VARIANT_STRIDES.items():
        net = fcn_resnet18(num_classes=2, variant=variant, weights=None).eval()
        with torch.no_grad():
            maps = net.intermediates(x)
        fused = [maps["score32"]] + [maps[k] for k in ("fused16", "fused8") if k in maps]
        assert [64 // m.shape[-2] for m in fused] == list(strides)
        assert net.output_stride == strides[-1]


def test_device_of():
    from torch import nn

    from fcnlib.model import device_of

    assert device_of(nn.Linear(2, 2)) == torch.device("cpu")
    assert device_of(nn.ReLU()) == torch.device("cpu")  # no parameters, no buffers
    bn = nn.BatchNorm2d(2, affine=False)  # buffers only
    assert device_of(bn.to("meta")) == torch.device("meta")
    assert device_of(nn.Linear(2, 2).to("meta")) == torch.device("meta")


def test_every_refusal_message_is_true_and_its_advice_works_in_pytorch():
    """Issue 25: 'trims 4 pixels, more than the 4 pixels' was said where the trim equals what is produced. Each
    setting PyTorch refuses: the numbers and words of the message against PyTorch, then the advised value in it."""
    checked = set()
    for n, k, s, p, op, d in itertools.product(range(1, 4), range(1, 4), range(1, 4), range(0, 5), range(0, 4), (1, 2)):
        try:
            _torch_tconv_size(n, k, s, p, op, d)
            continue
        except RuntimeError:
            pass
        with pytest.raises(ValueError) as err:
            conv_transpose_output_size(n, k, s, p, op, d)
        message = str(err.value)
        if op >= max(s, d):
            limit = int(re.search(r"Use output_padding < (\d+)", message).group(1))
            assert _torch_tconv_size(n, k, s, 0, limit - 1, d) > 0  # the advice: PyTorch accepts it
            with pytest.raises(RuntimeError, match="output padding must be smaller"):
                _torch_tconv_size(n, k, s, 0, limit, d)
            checked.add("output_padding")
            continue
        trimmed, made = map(
            int, re.search(r"trims 2\*\d+ = (\d+) pixels, (?:all|more than the) (\d+)", message).groups()
        )
        assert trimmed == 2 * p and made == _torch_tconv_size(n, k, s, 0, op, d)  # produced before trimming
        assert ("more than the" in message) == (trimmed > made) and ("all" in message) == (trimmed == made)
        assert ("leaving none" in message) == (trimmed == made)
        best = int(re.search(r"use padding <= (\d+)", message).group(1))
        assert _torch_tconv_size(n, k, s, best, op, d) >= 1  # the advice, followed
        with pytest.raises(RuntimeError):
            _torch_tconv_size(n, k, s, best + 1, op, d)
        checked.add("equal" if trimmed == made else "more")
    assert checked == {"output_padding", "equal", "more"}
