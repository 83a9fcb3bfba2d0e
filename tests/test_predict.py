"""fcnlib.predict: the seed's predict and label2image, full-image prediction (pad, tile), and the figures."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from PIL import Image
from torch import nn

import fcnlib
from fcnlib.inference import full_scores, label2image, predict, predict_full, tile_starts

MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def reference_normalize(img):
    """ImageNet normalisation with torchvision's own Normalize (independent of fcnlib.data)."""
    return TF.normalize(img.float() / 255, MEAN, STD)


def assert_same_labels(labels, reference_scores, tol=1e-4):
    """``labels`` are the argmax of ``reference_scores [C, H, W]``, except where the top two
    scores are closer than ``tol`` (there float rounding of another summation order may pick
    either); there the chosen class must be within ``tol`` of the best."""
    top2 = reference_scores.topk(2, dim=0).values
    clear = (top2[0] - top2[1]) > tol
    assert torch.equal(labels[clear], reference_scores.argmax(0)[clear])
    chosen = reference_scores.gather(0, labels.unsqueeze(0))[0]
    assert torch.all(top2[0] - chosen <= tol)


def per_pixel_net(num_classes=5, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 8, 1), nn.ReLU(), nn.Conv2d(8, num_classes, 1))


def random_image(h, w, seed=0):
    return torch.randint(0, 256, (3, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


class Stride32Net(nn.Module):
    """A small net with an FCN's constraint and context: 32x downsampling, then 32x upsampling."""

    def __init__(self, num_classes=4):
        super().__init__()
        torch.manual_seed(0)
        self.down = nn.Conv2d(3, num_classes, kernel_size=32, stride=32)
        self.local = nn.Conv2d(3, num_classes, 3, padding=1)

    def forward(self, x):
        assert x.shape[-2] % 32 == 0 and x.shape[-1] % 32 == 0, "multiples of 32 only"
        return F.interpolate(self.down(x), scale_factor=32, mode="bilinear") + self.local(x)


def test_predict_is_the_seeds_predict():
    net = Stride32Net().train()
    img = random_image(64, 96)
    net.eval()
    with torch.no_grad():
        reference = net(reference_normalize(img).unsqueeze(0))[0]
    net.train()
    result = predict(net, img)
    assert result.dtype == torch.int64 and result.shape == (64, 96)
    assert_same_labels(result, reference)
    assert net.training, "predict must restore the net's mode"
    assert_same_labels(fcnlib.predict(net, img), reference)  # the package-level name


@pytest.mark.parametrize("size", [(1, 1), (1, 70), (5, 3), (33, 31), (64, 96), (375, 500)])
def test_pad_and_tile_agree_for_a_per_pixel_net(size):
    net = per_pixel_net()
    img = random_image(*size, seed=size[0])
    with torch.no_grad():
        reference = net(reference_normalize(img).unsqueeze(0))[0]
    pad = predict_full(net, img)
    tile = predict_full(net, img, crop_size=(64, 96), mode="tile")
    assert pad.shape == size and pad.dtype == torch.int64
    assert_same_labels(pad, reference)
    assert_same_labels(tile, reference)
    assert torch.allclose(full_scores(net, img), reference, atol=1e-5)
    assert torch.allclose(full_scores(net, img, crop_size=(64, 96), mode="tile"), reference, atol=1e-5)


def test_tile_strides_and_batch_sizes_agree():
    net = per_pixel_net()
    img = random_image(150, 230, seed=3)
    base = full_scores(net, img)
    for stride, batch in [(None, 1), ((32, 32), 3), ((64, 96), 8), (64, 2)]:
        labels = predict_full(net, img, crop_size=(64, 96), mode="tile", stride=stride, batch_size=batch)
        assert_same_labels(labels, base)


def test_pad_mode_is_reflect_then_crop():
    net = Stride32Net().eval()
    img = random_image(45, 70, seed=4)  # padded to 64x96: 9+10 rows, 13+13 columns
    x = reference_normalize(img)
    padded = TF.pad(x, [13, 9, 13, 10], padding_mode="reflect")  # left, top, right, bottom
    with torch.no_grad():
        expected = net(padded.unsqueeze(0))[0][:, 9 : 9 + 45, 13 : 13 + 70]
    assert torch.allclose(full_scores(net, img), expected, atol=1e-5)
    assert_same_labels(predict_full(net, img), expected)
    constant = TF.pad(x, [13, 9, 13, 10], fill=0.0)
    with torch.no_grad():
        expected_constant = net(constant.unsqueeze(0))[0][:, 9 : 9 + 45, 13 : 13 + 70]
    assert torch.allclose(full_scores(net, img, pad_mode="constant"), expected_constant, atol=1e-5)
    assert not torch.allclose(expected, expected_constant, atol=1e-3)  # the padding matters for this net


class WindowPositionNet(nn.Module):
    """Scores that depend on where a pixel sits *inside its window*: channel 0 = row, 1 = column within the window."""

    def forward(self, x):
        n, _, h, w = x.shape
        rows = torch.arange(h, dtype=torch.float32).view(1, h, 1).expand(n, h, w)
        cols = torch.arange(w, dtype=torch.float32).view(1, 1, w).expand(n, h, w)
        return torch.stack([rows, cols], dim=1) + 0 * x[:, :1]


def test_tile_averages_the_scores_of_every_window():
    h, w, crop, stride = 100, 130, (64, 64), (32, 48)
    scores = full_scores(WindowPositionNet(), random_image(h, w), crop_size=crop, mode="tile", stride=stride)
    # Brute force: every window, every pixel, in plain numpy.
    total, count = np.zeros((2, h, w)), np.zeros((h, w))
    for top in [0, 32, 36]:  # 0, 32, then flush with the bottom: 100 - 64
        for left in [0, 48, 66]:  # 0, 48, then 130 - 64
            for r in range(top, top + 64):
                total[0, r, left : left + 64] += r - top
                count[r, left : left + 64] += 1
            total[1, top : top + 64, left : left + 64] += np.arange(64)[None, :]
    assert np.allclose(scores.numpy(), total / count)
    assert tile_starts(100, 64, 32) == [0, 32, 36] and tile_starts(130, 64, 48) == [0, 48, 66]


def test_tile_starts_cover_the_axis():
    assert tile_starts(500, 480, 240) == [0, 20]
    assert tile_starts(480, 480, 240) == [0]
    assert tile_starts(10, 480, 240) == [0]
    assert tile_starts(1000, 320, 160) == [0, 160, 320, 480, 640, 680]


def test_several_megapixels():
    net = per_pixel_net(num_classes=3)
    img = random_image(1250, 2000, seed=5)  # 2.5 megapixels
    labels = predict_full(net, img)
    with torch.no_grad():
        reference = net(reference_normalize(img).unsqueeze(0))[0]
    assert labels.shape == (1250, 2000)
    assert_same_labels(labels, reference)


def test_pil_input_equals_tensor_input():
    net = per_pixel_net()
    img = random_image(37, 53, seed=6)
    pil = Image.fromarray(img.permute(1, 2, 0).numpy())
    assert torch.equal(predict_full(net, pil), predict_full(net, img))
    assert torch.equal(predict_full(net, pil.convert("RGBA")), predict_full(net, img))


def test_fcn_on_an_odd_sized_image():
    net = fcnlib.fcn_resnet18(num_classes=21, weights=None)
    img = random_image(70, 90, seed=7)
    assert predict_full(net, img).shape == (70, 90)
    assert predict_full(net, img, crop_size=(64, 64), mode="tile").shape == (70, 90)
    with pytest.raises(ValueError, match="multiples of 32"):
        predict(net, img)


def test_bad_input_is_explained():
    net = per_pixel_net()
    with pytest.raises(TypeError, match="uint8"):
        predict_full(net, torch.rand(3, 8, 8))
    with pytest.raises(ValueError, match=r"permute\(2, 0, 1\)"):
        predict_full(net, torch.zeros(8, 8, 3, dtype=torch.uint8))
    with pytest.raises(TypeError, match="numpy"):
        predict_full(net, np.zeros((8, 8, 3), dtype=np.uint8))
    with pytest.raises(ValueError, match="mode"):
        predict_full(net, random_image(8, 8), mode="slide")
    with pytest.raises(ValueError, match="multiples of 32"):
        predict_full(net, random_image(8, 8), crop_size=(50, 64), mode="tile")
    with pytest.raises(ValueError, match="stride"):
        predict_full(net, random_image(8, 8), crop_size=(64, 64), stride=(96, 32), mode="tile")
    with pytest.raises(ValueError, match="class scores"):
        predict_full(nn.Conv2d(3, 2, 3), random_image(32, 32))


@pytest.mark.parametrize("device", DEVICES)
def test_label2image_is_the_seeds(device):
    from d2l import torch as d2l  # the reference colours

    pred = torch.randint(0, 21, (6, 7), generator=torch.Generator().manual_seed(0)).to(device)
    expected = torch.tensor(d2l.VOC_COLORMAP, device=device)[pred.long(), :]  # the seed's label2image
    out = label2image(pred)
    assert out.dtype == torch.uint8 and out.device == pred.device
    assert torch.equal(out.long(), expected.long())
    as_numpy = label2image(pred.cpu().numpy())
    assert isinstance(as_numpy, np.ndarray) and np.array_equal(as_numpy, expected.cpu().numpy())


def test_label2image_void_custom_colormap_and_errors():
    pred = torch.tensor([[0, 1], [255, 2]])
    out = label2image(pred, colormap=[[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    assert out.tolist() == [[[1, 2, 3], [4, 5, 6]], [[224, 224, 192], [7, 8, 9]]]
    assert label2image(torch.zeros(2, 3, 4, dtype=torch.long)).shape == (2, 3, 4, 3)
    with pytest.raises(ValueError, match="outside"):
        label2image(torch.tensor([[21]]))
    with pytest.raises(TypeError, match="integer"):
        label2image(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="RGB triples"):
        label2image(pred, colormap=[[1, 2], [3, 4]])


# ------------------------------------------------------------------------------------------
# Figures (fcnlib.viz.segmentation)
# ------------------------------------------------------------------------------------------


def legend_texts(container):
    legends = getattr(container, "legends", []) or ([container.get_legend()] if container.get_legend() else [])
    return [t.get_text() for legend in legends for t in legend.get_texts()]


def test_show_segmentation_grid_and_legend():
    from fcnlib.data import VOC_CLASSES, VOC_COLORMAP
    from fcnlib.viz import show_segmentation

    images = torch.stack([random_image(16, 24, seed=i) for i in range(3)])
    preds = torch.zeros(3, 16, 24, dtype=torch.long)
    preds[0, :4] = 8  # cat
    targets = preds.clone()
    targets[1, -3:] = 12  # dog
    targets[2, :, :2] = 255
    fig = show_segmentation(images, preds, targets)
    assert len(fig.axes) == 9  # 3 rows (image, prediction, truth) x 3 examples
    assert legend_texts(fig) == [VOC_CLASSES[0], VOC_CLASSES[8], VOC_CLASSES[12], "void"]  # void drawn in truth
    shown = fig.axes[3].images[0].get_array()  # first prediction
    colours = np.asarray(VOC_COLORMAP, dtype=np.uint8)
    assert np.array_equal(np.asarray(shown), colours[preds[0].numpy()])
    assert len(show_segmentation(images, preds).axes) == 6
    with pytest.raises(ValueError, match="as many"):
        show_segmentation(images, preds[:2])


def test_show_overlay_paints_objects_only():
    from fcnlib.viz import show_overlay

    img = random_image(10, 10)
    pred = torch.zeros(10, 10, dtype=torch.long)
    pred[:5] = 15  # person
    fig = show_overlay(img, pred, alpha=0.4)
    ax = fig.axes[0]
    paint = np.asarray(ax.images[1].get_array())
    assert np.allclose(paint[:5, :, 3], 0.4) and np.allclose(paint[5:, :, 3], 0.0)
    assert legend_texts(ax) == ["person"]
    with pytest.raises(ValueError, match="label map"):
        show_overlay(img, torch.zeros(4, 4, dtype=torch.long))


def test_show_samples_uses_the_datasets_classes():
    from torch.utils.data import TensorDataset

    from fcnlib.viz import show_samples

    labels = torch.zeros(3, 8, 8, dtype=torch.long)
    labels[:, :2] = 1
    dataset = TensorDataset(torch.randn(3, 3, 8, 8), labels)  # normalised-looking floats: shown denormalised
    dataset.classes, dataset.colormap = ["sky", "circle"], [[0, 0, 255], [255, 0, 0]]
    fig = show_samples(dataset, n=2)
    assert len(fig.axes) == 4
    assert [ax.get_title() for ax in fig.axes[:2]] == ["#1", "#2"]  # counted from 1, as the chapters count images
    assert show_samples(dataset, indices=[2]).axes[0].get_title() == "#3"
    assert legend_texts(fig) == ["sky", "circle"]


def test_plot_class_frequencies_and_iou():
    from torch.utils.data import TensorDataset

    from fcnlib.viz import plot_class_frequencies, plot_iou

    labels = torch.zeros(2, 4, 5, dtype=torch.long)  # 40 pixels
    labels[0, 0] = 2  # 5 pixels of class 2
    labels[1, :, 0] = 255  # 4 void pixels, not counted
    fig = plot_class_frequencies(TensorDataset(torch.zeros(2, 3, 4, 5), labels), classes=["a", "b", "c"])
    heights = [bar.get_height() for bar in fig.axes[0].patches]
    assert heights == pytest.approx([31 / 36, 0, 5 / 36])
    fig = plot_class_frequencies([3, 1], classes=["x", "y"])
    assert [bar.get_height() for bar in fig.axes[0].patches] == pytest.approx([0.75, 0.25])

    fig = plot_iou({"iou": torch.tensor([0.5, float("nan"), 0.25])}, classes=["a", "b", "c"])
    ax = fig.axes[0]
    assert [bar.get_height() for bar in ax.patches] == pytest.approx([0.5, 0.0, 0.25])
    assert legend_texts(ax) == ["mIoU 0.375"]
    assert "n/a" in [t.get_text() for t in ax.texts]


def test_nan_scores_are_refused_not_called_class_0():
    """Issue 25's kind: a net whose weights went NaN would predict class 0 everywhere without a word."""
    net = per_pixel_net()
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(float("nan"))
    for call in (predict, predict_full, lambda n, img: predict_full(n, img, crop_size=(32, 32), mode="tile")):
        with pytest.raises(ValueError, match=r"scores are NaN or infinite: its weights are invalid.*load_checkpoint"):
            call(net, random_image(32, 32))
