"""Reading VOC-format data: labels, image modes, errors, pad + crop, normalisation, load_data_voc.

References: d2l's VOCSegDataset (which images it keeps, its normalised features),
torchvision's Normalize, and PIL reading the files directly.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from d2l import torch as d2l  # the reference (installed by make setup)
from PIL import Image
from torchvision.transforms import v2

import fcnlib.data as data
from fcnlib.data import (
    VOC_CLASSES,
    VOC_COLORMAP,
    VOCDataset,
    denormalize,
    load_data_voc,
    make_synthetic_voc,
    normalize_image,
    voc_palette,
)

# d2l reads images with torchvision.io, which warns that it is deprecated (torchvision >= 0.29).
pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")


# ----------------------------------------------------------------------------- helpers
def write_tree(
    root: Path,
    items: dict[str, tuple[Image.Image, Image.Image]],
    split: str = "train",
    image_format: str | None = None,
) -> Path:
    """A VOC2012 folder under ``root`` holding the given (image, label) pairs in one split."""
    voc = root / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / sub).mkdir(parents=True, exist_ok=True)
    for name, (image, label) in items.items():
        fmt = image_format or ("JPEG" if image.mode in ("RGB", "L", "CMYK") else "PNG")
        image.save(voc / "JPEGImages" / f"{name}.jpg", format=fmt)
        label.save(voc / "SegmentationClass" / f"{name}.png")
    (voc / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("\n".join(items) + "\n")
    return voc


def palette_label(indices: np.ndarray) -> Image.Image:
    label = Image.fromarray(indices.astype(np.uint8))
    label.putpalette(voc_palette())
    return label


def coordinate_pair(h: int, w: int) -> tuple[Image.Image, Image.Image]:
    """An image whose pixel (y, x) is (x, y, 77) and a label of 8x8 checks: positions can be read back."""
    yy, xx = np.mgrid[0:h, 0:w]
    rgb = np.stack([xx, yy, np.full_like(xx, 77)], -1).astype(np.uint8)
    label = (xx // 8 + 3 * (yy // 8)) % 21
    label[::7, ::5] = 255
    return Image.fromarray(rgb), palette_label(label)


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    return make_synthetic_voc(tmp_path_factory.mktemp("synth"), 6, 3, seed=1, image_size=(64, 96))


# ----------------------------------------------------------------------------- constants
def test_constants_match_d2l() -> None:
    assert VOC_CLASSES == d2l.VOC_CLASSES and VOC_COLORMAP == d2l.VOC_COLORMAP
    palette = np.array(voc_palette()).reshape(256, 3)
    assert palette[:21].tolist() == d2l.VOC_COLORMAP
    assert palette[255].tolist() == [224, 224, 192]


def test_default_root(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FCNLIB_DATA_DIR", raising=False)
    monkeypatch.setenv("FCNLIB_DATA", str(tmp_path))  # the older meaning of FCNLIB_DATA: a folder
    assert data.default_root() == tmp_path
    monkeypatch.setenv("FCNLIB_DATA", "voc")  # a dataset name, not a folder
    monkeypatch.setenv("FCNLIB_DATA_DIR", str(tmp_path / "d"))
    assert data.default_root() == tmp_path / "d"
    monkeypatch.delenv("FCNLIB_DATA")
    monkeypatch.delenv("FCNLIB_DATA_DIR")
    repo_data = Path(data.__file__).resolve().parents[2] / "data"
    expected = repo_data if (repo_data / "README.md").is_file() else Path("data")
    assert data.default_root() == expected


# ----------------------------------------------------------------------------- labels
def test_palette_indices_match_pil_and_d2l(synth: Path) -> None:
    ds = VOCDataset(synth.parent.parent, "train")
    colormap2label = d2l.voc_colormap2label()
    for i in range(len(ds)):
        image, label = ds.read_raw(i)
        assert image.dtype == torch.uint8 and label.dtype == torch.int64
        with Image.open(ds.label_path(i)) as png:
            assert np.array_equal(label.numpy(), np.asarray(png))
            rgb = torch.from_numpy(np.array(png.convert("RGB"))).permute(2, 0, 1)
        # d2l maps colours back to indices and void to background (0); elsewhere they agree.
        d2l_index = d2l.voc_label_indices(rgb, colormap2label)
        void = label == 255
        assert void.any()
        assert torch.equal(d2l_index[~void], label[~void]) and (d2l_index[void] == 0).all()


def test_void_is_kept_in_items(synth: Path) -> None:
    ds = VOCDataset(synth, "train", crop_size=(48, 64))
    assert any((ds[i][1] == 255).any() for i in range(len(ds)))


def test_rgb_masks_are_mapped_with_one_warning(tmp_path: Path) -> None:
    items = {}
    expected = {}
    for k in range(3):
        indices = np.zeros((16, 24), dtype=np.uint8)
        indices[2:8, 3:12] = 15 - k
        indices[10:14, 4:20] = 255
        rgb = np.array(voc_palette(), dtype=np.uint8).reshape(256, 3)[indices]
        rgb[0, 0] = (1, 2, 3)  # not a VOC colour -> void
        indices[0, 0] = 255
        items[f"m{k}"] = (Image.new("RGB", (24, 16), (90, 90, 90)), Image.fromarray(rgb))
        expected[f"m{k}"] = indices
    write_tree(tmp_path, items)
    ds = VOCDataset(tmp_path, "train")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        labels = [ds.read_raw(i)[1] for i in range(len(ds))] + [ds[0][1]]
    rgb_warnings = [w for w in caught if "RGB mask" in str(w.message)]
    assert len(rgb_warnings) == 1 and "m0.png" in str(rgb_warnings[0].message)
    for name, label in zip(ds.names, labels):
        assert np.array_equal(label.numpy(), expected[name])


def test_label_values_outside_the_classes_are_refused(tmp_path: Path) -> None:
    indices = np.zeros((16, 16), dtype=np.uint8)
    indices[4, 4] = 30
    write_tree(tmp_path, {"bad": (Image.new("RGB", (16, 16)), palette_label(indices))})
    with pytest.raises(ValueError, match=r"bad\.png.*\[30\]"):
        VOCDataset(tmp_path)[0]


# ----------------------------------------------------------------------------- images
def test_image_modes_become_rgb(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (20, 30), dtype=np.uint8)
    rgba = rng.integers(0, 256, (20, 30, 4), dtype=np.uint8)
    cmyk = Image.fromarray(rng.integers(0, 256, (20, 30, 3), dtype=np.uint8)).convert("CMYK")
    label = palette_label(np.zeros((20, 30)))
    voc = write_tree(
        tmp_path,
        {"gray": (Image.fromarray(gray), label), "rgba": (Image.fromarray(rgba), label), "cmyk": (cmyk, label)},
    )
    ds = VOCDataset(tmp_path)
    images = {name: ds.read_raw(i)[0] for i, name in enumerate(ds.names)}
    for name, image in images.items():
        assert image.shape == (3, 20, 30) and image.dtype == torch.uint8, name
    # Grayscale: three equal channels, the stored grey values (JPEG: within a few levels).
    g = images["gray"].int()
    assert torch.equal(g[0], g[1]) and torch.equal(g[1], g[2])
    stored = np.asarray(Image.open(voc / "JPEGImages" / "gray.jpg")).astype(int)
    assert np.array_equal(g[0].numpy(), stored)
    # RGBA (lossless PNG content): as a viewer shows it, over a white page (tests/test_reading_pictures.py).
    over_white = rgba[..., :3] * (rgba[..., 3:] / 255) + 255 * (1 - rgba[..., 3:] / 255)
    assert np.abs(images["rgba"].permute(1, 2, 0).numpy() - over_white).max() <= 0.5 + 1e-9
    # CMYK JPEG: as PIL converts it.
    with Image.open(voc / "JPEGImages" / "cmyk.jpg") as img:
        assert img.mode == "CMYK"
        assert np.array_equal(images["cmyk"].permute(1, 2, 0).numpy(), np.asarray(img.convert("RGB")))
    assert ds[0][0].dtype == torch.float32


def test_size_mismatch_names_both_files(tmp_path: Path) -> None:
    write_tree(tmp_path, {"a": (Image.new("RGB", (30, 20)), palette_label(np.zeros((20, 31))))})
    with pytest.raises(ValueError, match=r"a\.jpg is 20x30 but its label .*a\.png is 20x31"):
        VOCDataset(tmp_path)[0]


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    voc = write_tree(tmp_path, {"a": (Image.new("RGB", (8, 8)), palette_label(np.zeros((8, 8))))})
    (voc / "JPEGImages" / "a.jpg").write_bytes(b"this is not a jpeg")
    with pytest.raises(ValueError, match=r"cannot read image .*a\.jpg"):
        VOCDataset(tmp_path)[0]
    (voc / "SegmentationClass" / "a.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(ValueError, match=r"cannot read label .*a\.png"):
        data.read_label(voc / "SegmentationClass" / "a.png")


def test_missing_files_and_root(tmp_path: Path) -> None:
    voc = write_tree(tmp_path, {"a": (Image.new("RGB", (8, 8)), palette_label(np.zeros((8, 8))))})
    (voc / "ImageSets" / "Segmentation" / "train.txt").write_text("a\nghost\n")
    with pytest.raises(FileNotFoundError, match=r"1 of the 2 ids .*ghost"):
        VOCDataset(tmp_path)
    with pytest.raises(FileNotFoundError, match="no 'val' split"):
        VOCDataset(tmp_path, "val")
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError) as err:
        VOCDataset(missing)
    message = str(err.value)
    assert str(missing) in message and "download_voc" in message and "make_synthetic_voc" in message
    with pytest.raises(ValueError, match="split"):
        VOCDataset(voc, "test")


def test_root_may_be_the_voc2012_folder(synth: Path) -> None:
    assert VOCDataset(synth).names == VOCDataset(synth.parent.parent).names


# ----------------------------------------------------------------------------- crops
def test_padding_keeps_every_image_that_d2l_drops(tmp_path: Path) -> None:
    crop = (48, 64)
    sizes = {"big": (60, 80), "short": (40, 80), "narrow": (60, 50), "small": (30, 40), "exact": (48, 64)}
    rng = np.random.default_rng(1)
    items = {
        name: (
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)),
            palette_label(rng.integers(0, 21, (h, w))),
        )
        for name, (h, w) in sizes.items()
    }
    voc = write_tree(tmp_path, items)
    reference = d2l.VOCSegDataset(True, crop, str(voc))
    kept = sum(h >= crop[0] and w >= crop[1] for h, w in sizes.values())
    assert len(reference) == kept == 2  # d2l drops the three small ones
    ds = VOCDataset(tmp_path, "train", crop_size=crop)
    assert len(ds) == len(sizes)
    for i, name in enumerate(ds.names):
        image, label = ds[i]
        assert image.shape == (3, *crop) and label.shape == crop and label.dtype == torch.int64
        h, w = sizes[name]
        # The padding: image 0 (the mean colour after normalisation), label 255.
        pad_rows, pad_cols = max(crop[0] - h, 0), max(crop[1] - w, 0)
        assert (label == 255).sum() >= pad_rows * crop[1] + pad_cols * crop[0] - pad_rows * pad_cols
        padded = label == 255
        assert (image[:, padded] == 0).all() if (pad_rows or pad_cols) else True


def test_normalisation_matches_d2l(synth: Path) -> None:
    crop = (64, 96)  # the full size: d2l keeps every image and its features are whole images
    reference = d2l.VOCSegDataset(True, crop, str(synth))
    ds = VOCDataset(synth, "train")
    assert len(reference) == len(ds)
    for i in range(len(ds)):
        image, _ = ds[i]
        # Same formula and constants; the JPEG decoders (torchvision vs PIL) may differ by a level or two.
        assert torch.allclose(image, reference.features[i], atol=3 / 255 / 0.224)
        raw, _ = ds.read_raw(i)
        exact = v2.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])(raw.float() / 255)
        assert torch.allclose(image, exact, atol=1e-6)


def test_normalize_and_denormalize() -> None:
    x = torch.randint(0, 256, (2, 3, 5, 7), dtype=torch.uint8)
    reference = v2.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])(x.float() / 255)
    assert torch.allclose(normalize_image(x), reference, atol=1e-6)
    assert torch.allclose(normalize_image(x[0]), reference[0], atol=1e-6)
    assert torch.allclose(denormalize(normalize_image(x)), x.float() / 255, atol=1e-6)
    assert denormalize(torch.full((3, 2, 2), 50.0)).max() == 1 and denormalize(torch.full((3, 2, 2), -50.0)).min() == 0
    with pytest.raises(ValueError, match=r"\[3, H, W\]"):
        normalize_image(torch.zeros(4, 5, 5, dtype=torch.uint8))
    with pytest.raises(TypeError):
        normalize_image(np.zeros((3, 4, 4)))


def test_sample_photo_size_is_an_int_or_a_pair_of_ints() -> None:
    from matplotlib import cbook
    from PIL import Image as PILImage

    with cbook.get_sample_data("grace_hopper.jpg") as f:  # the reference: PIL directly
        face = PILImage.open(f).convert("RGB").crop((96, 40, 416, 360)).resize((16, 16), PILImage.BICUBIC)
    expected = torch.from_numpy(np.asarray(face).copy()).permute(2, 0, 1).float() / 255
    assert torch.equal(data.sample_photo(16), expected) and torch.equal(data.sample_photo((16, 16)), expected)
    with pytest.raises(TypeError, match="size"):
        data.sample_photo((16, 16.5))
    with pytest.raises(ValueError, match="size"):
        data.sample_photo(0)


def _locate(image: torch.Tensor) -> tuple[int, int, bool]:
    """Where a crop of a coordinate image came from: (top, left, flipped)."""
    rgb = (denormalize(image) * 255).round().long()
    x, y = rgb[0], rgb[1]
    flipped = bool(x[0, 0] > x[0, -1])
    return int(y[0, 0]), int(x[0, -1] if flipped else x[0, 0]), flipped


@pytest.mark.parametrize("flip", [False, True])
def test_crops_of_image_and_label_stay_aligned(tmp_path: Path, flip: bool) -> None:
    full_size, crop = (90, 120), (64, 96)
    write_tree(tmp_path, {"grid": coordinate_pair(*full_size)}, image_format="PNG")
    full = VOCDataset(tmp_path, "train")
    full_image, full_label = full[0]
    ds = VOCDataset(tmp_path, "train", crop_size=crop, flip=flip)
    torch.manual_seed(0)
    positions, flips = set(), set()
    for _ in range(12):
        image, label = ds[0]
        top, left, flipped = _locate(image)
        expect_image = full_image[:, top : top + crop[0], left : left + crop[1]]
        expect_label = full_label[top : top + crop[0], left : left + crop[1]]
        if flipped:
            expect_image, expect_label = expect_image.flip(-1), expect_label.flip(-1)
        assert torch.equal(image, expect_image) and torch.equal(label, expect_label)
        positions.add((top, left))
        flips.add(flipped)
    assert len(positions) > 3, "the crop position is random"
    assert flips == ({False, True} if flip else {False})


def test_val_crops_are_central_and_repeatable(tmp_path: Path) -> None:
    write_tree(
        tmp_path, {"grid": coordinate_pair(90, 120), "tiny": coordinate_pair(40, 50)}, split="val", image_format="PNG"
    )
    full = VOCDataset(tmp_path, "val")
    with pytest.raises(ValueError, match="augmentation for training"):
        VOCDataset(tmp_path, "val", crop_size=(64, 96), flip=True)
    ds = VOCDataset(tmp_path, "val", crop_size=(64, 96))
    image, label = ds[0]
    assert torch.equal(image, ds[0][0])
    full_image, full_label = full[0]
    assert torch.equal(image, full_image[:, 13:77, 12:108]) and torch.equal(label, full_label[13:77, 12:108])
    # A small image sits in the middle of the padding.
    image, label = ds[1]
    small_image, small_label = full[1]
    assert torch.equal(label[12:52, 23:73], small_label) and torch.equal(image[:, 12:52, 23:73], small_image)
    assert (label[:12] == 255).all() and (image[:, :12] == 0).all()


# ----------------------------------------------------------------------------- load_data_voc
def test_load_data_voc_generates_once_and_reuses(tmp_path: Path, capsys) -> None:
    train_iter, test_iter = load_data_voc(4, (32, 64), root=tmp_path, n_train=10, n_val=5, image_size=(48, 64))
    line = capsys.readouterr().out.strip()
    assert "generated teaching dataset" in line and "10 train and 5 val images" in line and "generated in" in line
    voc = tmp_path / "synthetic" / "VOCdevkit" / "VOC2012"
    stamp = (voc / "classes.json").stat().st_mtime_ns
    assert len(train_iter) == 10 // 4  # the last partial batch is dropped, as in d2l
    x, y = next(iter(train_iter))
    assert x.shape == (4, 3, 32, 64) and x.dtype == torch.float32 and y.shape == (4, 32, 64) and y.dtype == torch.int64
    assert sum(len(yb) for _, yb in test_iter) == 5  # every validation image, in order
    assert train_iter.dataset.num_classes == len(data.SYNTHETIC_CLASSES)

    load_data_voc(4, (32, 64), root=tmp_path, n_train=10, n_val=5, image_size=(48, 64))
    assert "generated in" not in capsys.readouterr().out
    assert (voc / "classes.json").stat().st_mtime_ns == stamp
    load_data_voc(4, (32, 64), root=tmp_path, n_train=12, n_val=5, image_size=(48, 64))
    assert "12 train" in capsys.readouterr().out
    assert json.loads((voc / "classes.json").read_text())["generator"]["n_train"] == 12


def test_load_data_voc_prefers_voc2012(tmp_path: Path, capsys) -> None:
    voc = make_synthetic_voc(tmp_path, 5, 3, image_size=(40, 40))
    (voc / "classes.json").unlink()  # looks like the real thing now
    train_iter, test_iter = load_data_voc(2, 32, root=tmp_path)
    assert "Pascal VOC2012" in capsys.readouterr().out
    assert train_iter.dataset.classes == VOC_CLASSES and not (tmp_path / "synthetic").exists()
    with pytest.raises(ValueError, match="batch_size"):
        load_data_voc(8, 32, root=tmp_path)


# ----------------------------------------------------------------------------- batches and decoders
def _mixed_tree(root: Path, n: int = 11) -> Path:
    """Images of several sizes, some smaller than a 48x64 crop (they need padding)."""
    rng = np.random.default_rng(3)
    sizes = [(60, 80), (40, 80), (60, 50), (30, 40), (48, 64), (75, 100)]
    items = {}
    for k in range(n):
        h, w = sizes[k % len(sizes)]
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        indices = rng.integers(0, 21, (h, w)).astype(np.uint8)
        indices[::5, ::3] = 255
        items[f"im{k:02d}"] = (Image.fromarray(pixels), palette_label(indices))
    return write_tree(root, items)


@pytest.mark.parametrize("threads", [1, 3])
def test_batches_are_the_items_stacked(tmp_path: Path, threads: int) -> None:
    """DataLoader batches (written in place by __getitems__) equal the items of __getitem__ stacked."""
    from torch.utils.data import DataLoader, default_collate

    _mixed_tree(tmp_path)
    ds = VOCDataset(tmp_path, "train", crop_size=(48, 64), flip=True, decode_threads=threads)

    class OneByOne(torch.utils.data.Dataset):  # no __getitems__: PyTorch's item-by-item path
        def __len__(self) -> int:
            return len(ds)

        def __getitem__(self, i: int):
            return ds[i]

    def batches(dataset, collate):
        torch.manual_seed(0)
        return list(DataLoader(dataset, 4, shuffle=True, collate_fn=collate))

    reference = batches(OneByOne(), default_collate)
    for collate in (data.collate_batch, default_collate):  # ours hands the batch on; the default stacks it
        got = batches(ds, collate)
        assert len(got) == len(reference) == 3
        for (x, y), (rx, ry) in zip(got, reference):
            assert x.dtype == torch.float32 and y.dtype == torch.int64 and x.is_contiguous()
            assert torch.equal(x, rx) and torch.equal(y, ry)
    assert any((y == 255).all(dim=1).any() for _, y in reference), "some crops were padded"
    # Loading inside inference mode (as fcnlib.evaluate does) works on the threads too.
    with torch.inference_mode():
        got = batches(ds, data.collate_batch)
    assert all(torch.equal(x, rx) and torch.equal(y, ry) for (x, y), (rx, ry) in zip(got, reference))


def test_load_data_voc_batches_are_not_copied(tmp_path: Path) -> None:
    voc = _mixed_tree(tmp_path, n=8)
    (voc / "ImageSets" / "Segmentation" / "val.txt").write_text("im00\nim01\n")
    train_iter, _ = load_data_voc(4, (48, 64), root=tmp_path)
    items = train_iter.dataset.__getitems__([0, 1, 2, 3])
    assert isinstance(items, data.CroppedBatch) and len(items) == 4
    x, y = data.collate_batch(items)
    assert x is items.images and y is items.labels
    assert torch.equal(items[2][0], x[2])
    # Full-size items (no crop) cannot share one batch tensor: the plain path.
    full = VOCDataset(tmp_path, "train")
    assert not isinstance(full.__getitems__([0, 1]), data.CroppedBatch)


def test_dataset_with_decoder_threads_pickles(tmp_path: Path) -> None:
    import pickle

    _mixed_tree(tmp_path, n=4)
    ds = VOCDataset(tmp_path, "train", crop_size=(48, 64), decode_threads=2)
    ds.__getitems__([0, 1])  # starts the threads
    clone = pickle.loads(pickle.dumps(ds))  # what a DataLoader worker process receives (spawn)
    torch.manual_seed(1)
    a = ds[2]
    torch.manual_seed(1)
    b = clone[2]
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    with pytest.raises(ValueError, match="decode_threads"):
        VOCDataset(tmp_path, "train", decode_threads=0)


def test_fast_decoders_match_pil(tmp_path: Path) -> None:
    """read_image/read_label decode common files with torchvision; the pixels must be PIL's."""
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    indices = rng.integers(0, 21, (37, 53)).astype(np.uint8)
    indices[3:9, 4:30] = 255
    Image.fromarray(pixels).save(tmp_path / "photo.jpg", quality=90)
    palette_label(indices).save(tmp_path / "palette.png")
    Image.fromarray(indices).save(tmp_path / "gray.png")  # mode "L": values are the indices too
    image = data.read_image(tmp_path / "photo.jpg")
    with Image.open(tmp_path / "photo.jpg") as img:
        assert np.array_equal(image.permute(1, 2, 0).numpy(), np.asarray(img))
    for name in ("palette.png", "gray.png"):
        label, was_rgb = data.read_label(tmp_path / name)
        assert not was_rgb and label.dtype == np.uint8 and np.array_equal(label, indices), name
    # A 4-bit palette PNG and a 16-bit grayscale one take PIL's path: indices, and a clear refusal.
    small = Image.fromarray((indices % 16).astype(np.uint8), mode="P")
    small.putpalette(voc_palette()[:48])
    small.save(tmp_path / "four_bit.png", bits=4)
    assert np.array_equal(data.read_label(tmp_path / "four_bit.png")[0], indices % 16)
    Image.fromarray(indices.astype(np.uint16) * 300).save(tmp_path / "sixteen.png")
    with pytest.raises(ValueError, match=r"sixteen\.png"):
        data.read_label(tmp_path / "sixteen.png")


def test_truncated_files_are_named_not_half_read(tmp_path: Path) -> None:
    rng = np.random.default_rng(6)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "cut.jpg")
    palette_label(rng.integers(0, 21, (64, 64))).save(tmp_path / "cut.png")
    for name in ("cut.jpg", "cut.png"):
        raw = (tmp_path / name).read_bytes()
        (tmp_path / name).write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"cannot read image .*cut\.jpg"):
        data.read_image(tmp_path / "cut.jpg")
    with pytest.raises(ValueError, match=r"cannot read label .*cut\.png"):
        data.read_label(tmp_path / "cut.png")


def test_normalize_into_a_batch_slot() -> None:
    x = torch.randint(0, 256, (3, 5, 7), dtype=torch.uint8)
    batch = torch.full((2, 3, 5, 7), -1.0)
    result = normalize_image(x, out=batch[1])
    assert result.data_ptr() == batch[1].data_ptr()
    assert torch.equal(batch[1], normalize_image(x)) and (batch[0] == -1).all()
    with pytest.raises(ValueError, match="float32"):
        normalize_image(x, out=torch.empty(3, 5, 7, dtype=torch.float64))
