"""fcnlib.viz: the shared image conversion and the architecture figure, against independent references."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from fcnlib.viz._common import image_array


def test_image_array_denormalises_clips_and_checks_shapes():
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])  # ImageNet's statistics
    pixels = np.random.default_rng(0).random((4, 5, 3))
    normalised = torch.from_numpy((pixels - mean) / std).permute(2, 0, 1).float()
    assert np.allclose(image_array(normalised, normalized=None), pixels, atol=1e-6)  # leaves [0, 1]: undone
    assert np.allclose(image_array(normalised, normalized=True), pixels, atol=1e-6)
    overshoot = torch.full((3, 2, 2), 1.02)  # a bilinear upsampling's slight overshoot: clipped, not denormalised
    assert np.array_equal(image_array(overshoot), np.ones((2, 2, 3), dtype=np.float32))
    uint8 = torch.randint(0, 256, (3, 4, 5), dtype=torch.uint8)
    assert np.array_equal(image_array(uint8), uint8.permute(1, 2, 0).numpy())
    assert image_array(torch.rand(1, 6, 7)).shape == (6, 7)  # one channel: grey
    with pytest.raises(ValueError, match="expected an image"):
        image_array(np.zeros((4, 4, 2)))


def test_skip_architecture_shapes_match_resnet18s_stages():
    import torchvision

    from fcnlib.viz import plot_skip_architecture

    net = torchvision.models.resnet18(weights=None).eval()
    x = torch.zeros(1, 3, 224, 288)
    shapes = {}
    with torch.no_grad():
        for name, child in list(net.named_children())[:-2]:
            x = child(x)
            shapes[name] = tuple(x.shape[1:])
    fig = plot_skip_architecture("16s", input_size=(224, 288), num_classes=5)
    texts = [t.get_text() for t in fig.axes[0].texts]
    for name, box in [("maxpool", "conv1+pool"), ("layer1", "layer1"), ("layer2", "layer2"), ("layer4", "layer4")]:
        c, h, w = shapes[name]
        assert f"{c}x{h}x{w}" in texts and f"{box}\n1/{224 // h}" in texts
    c, h, w = shapes["layer3"]
    assert any(t.endswith(f"5x{h}x{w}") and t.startswith("up_layer4 2x") for t in texts)
    assert "transpose_conv\n16x" in texts and "FCN-16s scores\n5x224x288" in texts
    plt.close(fig)


def _segment_meets_box(p0, p1, box, margin) -> bool:
    """Whether the segment p0-p1 (display coordinates) comes within margin pixels of box (a Bbox)."""
    t = np.linspace(0, 1, 200)[:, None]
    x, y = (np.asarray(p0) + t * (np.asarray(p1) - np.asarray(p0))).T
    return bool(((x > box.x0 - margin) & (x < box.x1 + margin) & (y > box.y0 - margin) & (y < box.y1 + margin)).any())


@pytest.mark.parametrize("variant", ["32s", "16s", "8s"])
def test_skip_architecture_draws_every_variants_path_in_full_and_labels_stay_clear(variant):
    from matplotlib.patches import FancyArrowPatch

    from fcnlib.viz import plot_skip_architecture

    fig = plot_skip_architecture(variant, input_size=(320, 480), num_classes=21)
    ax = fig.axes[0]
    fig.canvas.draw()
    texts = {t.get_text(): t for t in ax.texts}
    for other, stride in (("32s", 32), ("16s", 16), ("8s", 8)):  # each variant ends in its own upsampling and scores
        ink = "black" if other == variant else "0.6"  # the chosen variant's in black, the others' in grey
        assert texts[f"transpose_conv\n{stride}x"].get_color() == texts[f"FCN-{other} scores\n21x320x480"].get_color()
        assert texts[f"FCN-{other} scores\n21x320x480"].get_color() == ink
    assert sum(isinstance(p, FancyArrowPatch) for p in ax.patches) == 5 + 3 + 4 + 3  # backbone, scores, skips, outputs
    renderer = fig.canvas.get_renderer()
    boxes = {s: t.get_window_extent(renderer) for s, t in texts.items()}
    segments = [ax.transData.transform(p._posA_posB) for p in ax.patches if isinstance(p, FancyArrowPatch)]
    segments += [ax.transData.transform(line.get_xydata()) for line in ax.lines]
    for s, box in boxes.items():  # no label touches another label or any line (3 pixels apart at least)
        assert not any(box.expanded(1, 1).padded(3).overlaps(other) for o, other in boxes.items() if o != s), s
        assert not any(_segment_meets_box(p0, p1, box, 3) for p0, p1 in segments), s
    plt.close(fig)
