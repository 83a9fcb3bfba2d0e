"""The generated teaching dataset: a valid VOC2012 tree (read back by d2l's own reader), deterministic per seed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from d2l import torch as d2l  # the reference (installed by make setup)
from PIL import Image

from fcnlib.data import SHAPES, VOCDataset, make_synthetic_voc

# d2l reads images with torchvision.io, which warns that it is deprecated (torchvision >= 0.29).
pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")

N_TRAIN, N_VAL, SIZE = 10, 4, (64, 80)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    return make_synthetic_voc(tmp_path_factory.mktemp("synth"), N_TRAIN, N_VAL, seed=3, image_size=SIZE)


def _files(voc_dir: Path) -> dict:
    return {str(p.relative_to(voc_dir)): p.read_bytes() for p in sorted(voc_dir.rglob("*")) if p.is_file()}


def test_layout_and_split_lists(tree: Path) -> None:
    assert tree.parts[-2:] == ("VOCdevkit", "VOC2012")
    seg = tree / "ImageSets" / "Segmentation"
    train, val = (seg / "train.txt").read_text().split(), (seg / "val.txt").read_text().split()
    assert len(train) == N_TRAIN and len(val) == N_VAL and not set(train) & set(val)
    for name in train + val:
        with Image.open(tree / "JPEGImages" / f"{name}.jpg") as img:
            assert img.format == "JPEG" and img.mode == "RGB" and img.size == (SIZE[1], SIZE[0])
        with Image.open(tree / "SegmentationClass" / f"{name}.png") as lab:
            assert lab.format == "PNG" and lab.mode == "P" and lab.size == (SIZE[1], SIZE[0])
            palette = np.array(lab.getpalette()[:768]).reshape(-1, 3)
    # The PNG palette is VOC's: d2l's colours for the classes, VOC's (224, 224, 192) for void.
    assert palette[:21].tolist() == d2l.VOC_COLORMAP
    assert palette[255].tolist() == [224, 224, 192]


def test_classes_json_names_and_colours(tree: Path) -> None:
    info = json.loads((tree / "classes.json").read_text())
    assert info["source"] == "synthetic"
    assert info["classes"] == ["background", *SHAPES]
    assert info["colormap"] == d2l.VOC_COLORMAP[: len(SHAPES) + 1]
    ds = VOCDataset(tree.parent.parent, "val")
    assert ds.classes == info["classes"] and ds.colormap == info["colormap"]
    assert ds.num_classes == len(SHAPES) + 1 and ds.source == "synthetic"


def test_d2l_reads_the_tree_and_agrees_on_labels(tree: Path) -> None:
    """d2l's reader (torchvision decoding, colour -> index table) sees the same labels; void is VOC's colour."""
    features, labels = d2l.read_voc_images(str(tree), is_train=True)
    ds = VOCDataset(tree, "train")
    colormap2label = d2l.voc_colormap2label()
    assert len(features) == len(ds) == N_TRAIN
    for i, (feature, label_rgb) in enumerate(zip(features, labels)):
        image, label = ds.read_raw(i)
        assert feature.shape == image.shape and feature.dtype == torch.uint8
        # Two JPEG decoders (torchvision's, PIL's) may differ by a grey level or two.
        assert (feature.int() - image.int()).abs().max() <= 3
        d2l_index = d2l.voc_label_indices(label_rgb, colormap2label)
        void = label == 255
        assert torch.equal(d2l_index[~void], label[~void])
        assert (label_rgb.permute(1, 2, 0)[void] == torch.tensor([224, 224, 192], dtype=torch.uint8)).all()


def test_labels_objects_and_void_outlines(tree: Path) -> None:
    seen = set()
    for png in sorted((tree / "SegmentationClass").glob("*.png")):
        label = np.asarray(Image.open(png))
        values = set(np.unique(label).tolist())
        assert values <= set(range(len(SHAPES) + 1)) | {255}
        assert (label == 0).any() and ((label > 0) & (label < 255)).any(), "every scene has background and an object"
        assert (label == 255).any(), "objects are outlined with void"
        # Void separates classes: two touching pixels never hold two different (non-void) classes.
        for a, b in ((label[:, 1:], label[:, :-1]), (label[1:], label[:-1])):
            assert not ((a != b) & (a != 255) & (b != 255)).any()
        seen |= values
    big = make_synthetic_voc(tree.parent.parent.parent / "many", 40, 1, seed=0, image_size=SIZE)
    for png in (big / "SegmentationClass").glob("*.png"):
        seen |= set(np.unique(np.asarray(Image.open(png))).tolist())
    assert set(range(len(SHAPES) + 1)) <= seen, "every shape class occurs"


def test_deterministic_per_seed(tree: Path, tmp_path: Path) -> None:
    again = make_synthetic_voc(tmp_path / "again", N_TRAIN, N_VAL, seed=3, image_size=SIZE)
    assert _files(again) == _files(tree)
    other = make_synthetic_voc(tmp_path / "other", N_TRAIN, N_VAL, seed=4, image_size=SIZE)
    a = np.asarray(Image.open(tree / "JPEGImages" / "synth_000000.jpg"))
    b = np.asarray(Image.open(other / "JPEGImages" / "synth_000000.jpg"))
    assert not np.array_equal(a, b)


def test_parallel_generation_writes_the_same_files(tree: Path, tmp_path: Path) -> None:
    parallel = make_synthetic_voc(tmp_path, N_TRAIN, N_VAL, seed=3, image_size=SIZE, workers=2)
    assert _files(parallel) == _files(tree)


def test_mixed_sizes_and_regeneration(tmp_path: Path) -> None:
    sizes = [(48, 64), (64, 48)]
    voc = make_synthetic_voc(tmp_path, 12, 2, image_size=sizes)
    found = {Image.open(p).size[::-1] for p in (voc / "JPEGImages").glob("*.jpg")}
    assert found == set(sizes)
    # Generating again replaces the old synthetic tree (no stale files left behind).
    voc = make_synthetic_voc(tmp_path, 3, 1, image_size=(32, 32))
    assert len(list((voc / "JPEGImages").glob("*.jpg"))) == 4
    assert not [p for p in (tmp_path / "VOCdevkit").iterdir() if p.name != "VOC2012"]


def test_refuses_to_overwrite_a_real_dataset(tmp_path: Path) -> None:
    voc = make_synthetic_voc(tmp_path, 2, 1, image_size=(32, 32))
    (voc / "classes.json").unlink()  # now it looks like a real VOC2012
    with pytest.raises(ValueError, match="not generated by fcnlib"):
        make_synthetic_voc(tmp_path, 2, 1, image_size=(32, 32))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_train=0, n_val=1), "n_train"),
        (dict(n_train=2, n_val=-1), "n_val"),
        (dict(n_train=2, n_val=1, shapes=("disc", "blob")), "shapes"),
        (dict(n_train=2, n_val=1, image_size=(8, 8)), "at least 16"),
        (dict(n_train=2, n_val=1, max_objects=0), "max_objects"),
        (dict(n_train=2, n_val=1, radius=(0.5, 0.2)), "radius"),
        (dict(n_train=2, n_val=1, color_hint=1.5), "color_hint"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        make_synthetic_voc(tmp_path, **kwargs)


def _hue(rgb: np.ndarray) -> np.ndarray:
    """Hue in [0, 1) of RGB pixels [N, 3] (the standard HSV formula, written out here as the reference)."""
    rgb = rgb.astype(float) / 255
    mx, mn = rgb.max(1), rgb.min(1)
    delta = np.where(mx > mn, mx - mn, 1)
    r, g, b = rgb.T
    h = np.where(mx == r, ((g - b) / delta) % 6, np.where(mx == g, (b - r) / delta + 2, (r - g) / delta + 4))
    return h / 6


@pytest.mark.parametrize("hint", [1.0, 0.0])
def test_color_hint_ties_hue_to_class(tmp_path: Path, hint: float) -> None:
    """color_hint=1: objects of class k have hue near k / n_shapes; color_hint=0: hues are spread at random."""
    voc = make_synthetic_voc(tmp_path, 24, 1, image_size=SIZE, color_hint=hint, max_objects=1)
    close = []
    for name in (voc / "ImageSets" / "Segmentation" / "train.txt").read_text().split():
        label = np.asarray(Image.open(voc / "SegmentationClass" / f"{name}.png"))
        image = np.asarray(Image.open(voc / "JPEGImages" / f"{name}.jpg")).reshape(-1, 3)
        cls = int(np.median(label[(label > 0) & (label < 255)]))
        angles = 2 * np.pi * _hue(image[(label == cls).ravel()])
        hue = (np.arctan2(np.sin(angles).mean(), np.cos(angles).mean()) / (2 * np.pi)) % 1  # circular mean
        distance = abs(hue - (cls - 1) / len(SHAPES))
        close.append(min(distance, 1 - distance) < 0.1)
    if hint == 1.0:
        assert np.mean(close) >= 0.9
    else:
        assert np.mean(close) < 0.6
