"""Labels are never read silently wrong: foreign palettes mapped by colour, unknown colours reported per
file and refused above a threshold, split lists with a byte-order mark, and batches of unequal sizes."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from fcnlib.data import VOC_COLORMAP, VOCDataset, collate_batch, make_synthetic_voc, read_label, voc_palette

# torchvision's image decoders warn that they are deprecated (torchvision >= 0.29).
pytestmark = pytest.mark.filterwarnings("ignore:The image decoding:DeprecationWarning")
VOC_RGB = np.array(voc_palette(), dtype=np.uint8).reshape(256, 3)


def _tree(root: Path, labels: dict[str, Image.Image], split_text: str | None = None) -> Path:
    voc = root / "VOCdevkit" / "VOC2012"
    for sub in ("JPEGImages", "SegmentationClass", "ImageSets/Segmentation"):
        (voc / sub).mkdir(parents=True, exist_ok=True)
    for name, label in labels.items():
        Image.new("RGB", label.size, (90, 90, 90)).save(voc / "JPEGImages" / f"{name}.jpg")
        label.save(voc / "SegmentationClass" / f"{name}.png")
    text = split_text if split_text is not None else "\n".join(labels) + "\n"
    (voc / "ImageSets" / "Segmentation" / "train.txt").write_bytes(text.encode("utf-8-sig"))
    return voc


def _person_on_background() -> np.ndarray:
    indices = np.zeros((40, 60), dtype=np.uint8)
    indices[10:30, 20:45] = 15  # person
    return indices


def test_foreign_palette_is_mapped_by_colour_and_said_once(tmp_path: Path) -> None:
    """An editor re-quantised the mask to two colours: index 0 = the person's colour, index 1 = black."""
    truth = _person_on_background()
    labels = {}
    for name in ("a", "b"):
        png = Image.fromarray(np.where(truth == 15, 0, 1).astype(np.uint8), mode="P")
        png.putpalette([192, 128, 128, 0, 0, 0])  # VOC's person colour, then black
        labels[name] = png
    _tree(tmp_path, labels)
    ds = VOCDataset(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got = [ds.read_raw(i)[1].numpy() for i in range(len(ds))]
    for label in got:
        assert np.array_equal(label, truth)  # raw indices would give person 0 and background 1 (aeroplane)
    palette_warnings = [w for w in caught if "palette is not this dataset's" in str(w.message)]
    assert len(palette_warnings) == 1 and "a.png" in str(palette_warnings[0].message)
    assert read_label(tmp_path / "VOCdevkit/VOC2012/SegmentationClass/b.png")[1] == "palette"


def _unknown_share(rgb: np.ndarray) -> float:
    """Share of pixels whose colour is neither a VOC class colour nor VOC's void colour (plain Python sets)."""
    known = {tuple(c) for c in VOC_COLORMAP} | {(224, 224, 192)}
    pixels = [tuple(p) for p in rgb.reshape(-1, 3).tolist()]
    return sum(p not in known for p in pixels) / len(pixels)


def test_each_rgb_file_reports_its_share_of_unknown_colours(tmp_path: Path) -> None:
    labels, shares = {}, {}
    for k, n_bad in enumerate((3, 40)):  # 3 and 40 of 2,400 pixels in colours of no class
        rgb = VOC_RGB[_person_on_background()].copy()
        rgb.reshape(-1, 3)[:n_bad] = (1, 2, 3)
        labels[f"m{k}"], shares[f"m{k}"] = Image.fromarray(rgb), _unknown_share(rgb)
    _tree(tmp_path, labels)
    ds = VOCDataset(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for i in range(len(ds)):
            label = ds.read_raw(i)[1]
            assert (label == 255).sum() == round(shares[ds.names[i]] * label.numel())
    reports = [str(w.message) for w in caught if "outside the colour table" in str(w.message)]
    assert len(reports) == 2
    for name, report in zip(("m0", "m1"), reports):
        assert f"{name}.png" in report and f"{shares[name]:.1%}" in report
        assert "another dataset or tool" in report  # one foreign colour, far from every class colour


def _jpeg_damaged(path: Path) -> np.ndarray:
    """A VOC mask saved once as JPEG (quality 90), then re-saved as PNG: returns its RGB pixels."""
    indices = np.zeros((96, 128), dtype=np.uint8)
    indices[10:60, 10:70], indices[40:90, 60:120] = 15, 12  # person, dog
    indices[38:42, :] = 255
    buffer = io.BytesIO()
    Image.fromarray(VOC_RGB[indices]).save(buffer, format="JPEG", quality=90)
    rgb = np.asarray(Image.open(buffer).convert("RGB"))
    Image.fromarray(rgb).save(path)
    return rgb


def test_jpeg_damaged_mask_is_refused_with_the_likely_cause(tmp_path: Path) -> None:
    rgb = _jpeg_damaged(tmp_path / "damaged.png")
    share = _unknown_share(rgb)
    assert share > 0.05
    with pytest.raises(ValueError) as err:
        read_label(tmp_path / "damaged.png")
    message = str(err.value)
    assert "damaged.png" in message and f"{share:.1%}" in message and "JPEG" in message
    assert "max_unknown" in message
    # The advice works: a larger max_unknown reads it, unknown colours as void (with a warning).
    with pytest.warns(UserWarning, match="lossy compression"):
        label, how = read_label(tmp_path / "damaged.png", max_unknown=1.0)
    assert how == "rgb" and (label == 255).mean() >= share


def test_the_threshold_is_a_parameter_of_the_dataset(tmp_path: Path) -> None:
    rgb = VOC_RGB[_person_on_background()].copy()
    rgb.reshape(-1, 3)[:240] = (1, 2, 3)  # 10%
    _tree(tmp_path, {"x": Image.fromarray(rgb)})
    with pytest.raises(ValueError, match=r"10\.0% of the pixels .*x\.png"):
        VOCDataset(tmp_path).read_raw(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        label = VOCDataset(tmp_path, max_unknown=0.2).read_raw(0)[1]
    assert any("10.0% of the pixels" in str(w.message) for w in caught)
    assert (label == 255).sum() == 240


def test_split_list_with_a_byte_order_mark(tmp_path: Path) -> None:
    label = Image.fromarray(_person_on_background(), mode="P")
    label.putpalette(voc_palette())
    voc = _tree(tmp_path, {"2007_000032": label})
    assert (voc / "ImageSets/Segmentation/train.txt").read_bytes().startswith(b"\xef\xbb\xbf")
    assert VOCDataset(tmp_path).names == ["2007_000032"]


@pytest.mark.parametrize("content, match", [(b"\xff\xfe\x00bad", "not UTF-8"), (b"\n\n", "is empty")])
def test_split_list_errors_name_the_file(tmp_path: Path, content: bytes, match: str) -> None:
    label = Image.fromarray(_person_on_background(), mode="P")
    voc = _tree(tmp_path, {"a": label})
    split = voc / "ImageSets" / "Segmentation" / "train.txt"
    split.write_bytes(content)
    with pytest.raises(ValueError, match=match) as err:
        VOCDataset(tmp_path)
    assert str(split) in str(err.value)


def test_full_size_images_of_different_sizes_get_a_collate_error_that_says_what_to_do(tmp_path: Path) -> None:
    make_synthetic_voc(tmp_path, 4, 4, image_size=[(64, 80), (80, 64)], seed=2)
    ds = VOCDataset(tmp_path, "val")
    sizes = {tuple(ds.read_raw(i)[0].shape[1:]) for i in range(len(ds))}
    assert len(sizes) == 2  # the reference: torch cannot stack these
    with pytest.raises(RuntimeError, match="stack expects each tensor to be equal size"):
        torch.stack([ds[i][0] for i in range(len(ds))])
    with pytest.raises(ValueError) as err:
        next(iter(DataLoader(ds, batch_size=4, collate_fn=collate_batch)))
    message = str(err.value)
    assert "crop_size" in message and "batch_size=1" in message and "fcnlib.predict_full" in message
    # Each piece of advice works.
    assert len(list(DataLoader(ds, batch_size=1, collate_fn=collate_batch))) == 4
    x, y = next(
        iter(DataLoader(VOCDataset(tmp_path, "val", crop_size=(64, 64)), batch_size=4, collate_fn=collate_batch))
    )
    assert x.shape == (4, 3, 64, 64) and y.shape == (4, 64, 64)
