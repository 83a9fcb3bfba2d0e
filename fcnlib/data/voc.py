"""Pascal VOC2012 (or any folder in its format) as a dataset of ``(image, label)`` pairs.

A VOC-format folder ``VOCdevkit/VOC2012`` holds ``JPEGImages/<id>.jpg``, ``SegmentationClass/<id>.png``
(palette PNGs: the stored value is the class index, 255 void) and ``ImageSets/Segmentation/<split>.txt``;
an optional ``classes.json`` gives other class names and colours (the generated teaching dataset).
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset, get_worker_info

from ..profiles import data_root_setting
from ..shapes import as_pair, check_int
from .classes import VOC_CLASSES, VOC_COLORMAP, VOID_COLOR  # noqa: F401 (VOID_COLOR: old import path)
from .labels import MAX_UNKNOWN, read_image, read_label, read_split
from .transforms import SegmentationTransform, normalize_image

SPLITS = ("train", "val", "trainval")


def default_root() -> Path:
    """Where datasets live: ``$FCNLIB_DATA``, else the checkout's ``data/`` folder, else ``./data`` (Colab)."""
    env = data_root_setting()
    if env:
        return Path(env).expanduser()
    repo_data = Path(__file__).resolve().parents[2] / "data"
    return repo_data if (repo_data / "README.md").is_file() else Path("data")


def _is_voc_dir(path: Path) -> bool:
    return (path / "ImageSets" / "Segmentation").is_dir() and (path / "JPEGImages").is_dir()


def find_voc_dir(root: str | Path) -> Path | None:
    """The ``VOC2012`` folder in ``root`` (which may hold ``VOCdevkit/VOC2012`` or be that folder), or None."""
    root = Path(root).expanduser()
    for candidate in (root / "VOCdevkit" / "VOC2012", root / "VOC2012", root):
        if _is_voc_dir(candidate):
            return candidate
    return None


def _missing_root_error(root: Path) -> FileNotFoundError:
    return FileNotFoundError(
        f"no VOC2012-format dataset at {root} (looked for {root / 'VOCdevkit' / 'VOC2012'} with "
        "JPEGImages/ and ImageSets/Segmentation/). Download Pascal VOC2012 with "
        f"fcnlib.data.download_voc(root={str(root)!r}), or generate the offline teaching dataset with "
        f"fcnlib.data.make_synthetic_voc(root={str(root)!r}, n_train=240, n_val=48); "
        "fcnlib.data.load_data_voc() does either for you."
    )


def _read_classes(voc_dir: Path) -> tuple[list[str], list[list[int]], str]:
    """Class names, colours and source ("VOC2012", "synthetic", ...) of a dataset folder."""
    path = voc_dir / "classes.json"
    if not path.is_file():
        return list(VOC_CLASSES), [list(c) for c in VOC_COLORMAP], "VOC2012"
    try:
        info = json.loads(path.read_text())
        classes, colormap = [str(c) for c in info["classes"]], [[int(v) for v in c] for c in info["colormap"]]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"{path} is not a valid classes file ({err}): it needs 'classes' and 'colormap' lists"
        ) from err
    if len(classes) != len(colormap):
        raise ValueError(f"{path} lists {len(classes)} classes but {len(colormap)} colours")
    return classes, colormap, str(info.get("source", "custom"))


def _split_names(voc_dir: Path, split: str, limit: int | None) -> list[str]:
    """The ids of ``split`` whose image and label both exist (``FileNotFoundError`` otherwise)."""
    list_file = voc_dir / "ImageSets" / "Segmentation" / f"{split}.txt"
    if not list_file.is_file():
        raise FileNotFoundError(f"{list_file} is missing: the dataset at {voc_dir} has no {split!r} split")
    names = read_split(list_file)[: None if limit is None else int(limit)]
    missing = [
        n
        for n in names
        if not (voc_dir / "JPEGImages" / f"{n}.jpg").is_file()
        or not (voc_dir / "SegmentationClass" / f"{n}.png").is_file()
    ]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} of the {len(names)} ids in {list_file} have no JPEGImages/<id>.jpg or "
            f"SegmentationClass/<id>.png in {voc_dir} (first: {missing[:3]}); the download or extraction "
            "is incomplete: delete the folder and download or generate it again"
        )
    return names


_MAPPED = {
    "rgb": "is an RGB mask, not a palette PNG: mapping its colours to class indices",
    "palette": "is a palette PNG whose palette is not this dataset's (re-saved by an image editor?): "
    "mapping its colours, not its indices, to classes",
}


class VOCDataset(Dataset):
    """A VOC-format folder as ``(image float32 [3, H, W], label int64 [H, W])`` items (labels 0..C-1, 255 void).

    Args:
        root: the folder holding ``VOCdevkit/VOC2012`` (or that folder).
        split: ``"train"``, ``"val"`` or ``"trainval"``.
        crop_size: ``(height, width)`` crops (smaller images padded: image 0, label 255), random for the
            training splits and central for ``"val"``; ``None`` for full-size items.
        flip: random left-right flips (not for ``"val"``).
        normalize: ImageNet-normalised floats; ``False``: floats in [0, 1].
        limit: only the first ``limit`` ids of the split.
        preload: decode everything once and keep it as uint8 (VOC2012's train split: about 0.8 GB).
        decode_threads: threads decoding a batch when loading in this process (default ``min(4, CPUs)``).
        max_unknown: largest share of a label's pixels with colours outside the table (read as void);
            above it :func:`read_label` refuses the file.
    """

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        crop_size: int | Sequence[int] | None = None,
        flip: bool = False,
        normalize: bool = True,
        limit: int | None = None,
        preload: bool = False,
        decode_threads: int | None = None,
        max_unknown: float = MAX_UNKNOWN,
    ) -> None:
        root = Path(root).expanduser()
        voc_dir = find_voc_dir(root)
        if voc_dir is None:
            raise _missing_root_error(root)
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if flip and split == "val":
            raise ValueError(
                "flip=True is an augmentation for training; the 'val' split is read unflipped "
                "(and centrally cropped) so that evaluation gives the same result every time"
            )
        decode_threads = min(4, os.cpu_count() or 1) if decode_threads is None else decode_threads
        check_int(decode_threads, "decode_threads", 1)
        self.root, self.split, self.names = voc_dir, split, _split_names(voc_dir, split, limit)
        self.classes, self.colormap, self.source = _read_classes(voc_dir)
        self.num_classes = len(self.classes)
        self.crop_size = None if crop_size is None else as_pair(crop_size, "crop_size", 1)
        self.flip, self.normalize, self.max_unknown = bool(flip), bool(normalize), float(max_unknown)
        self.transform = None
        if self.crop_size is not None:
            self.transform = SegmentationTransform(self.crop_size, random_crop=split != "val", flip=self.flip)
        self.decode_threads = decode_threads
        self._warned: set[str] = set()
        self._pool: ThreadPoolExecutor | None = None
        self._cache: list[tuple[Tensor, Tensor]] | None = None
        if preload:
            self._cache = [self._read(i) for i in range(len(self))]

    def __len__(self) -> int:
        return len(self.names)

    def image_path(self, i: int) -> Path:
        return self.root / "JPEGImages" / f"{self.names[i]}.jpg"

    def label_path(self, i: int) -> Path:
        return self.root / "SegmentationClass" / f"{self.names[i]}.png"

    def _read(self, i: int) -> tuple[Tensor, Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for a dataset of {len(self)} images")
        if self._cache is not None:
            return self._cache[i]
        image = read_image(self.image_path(i))
        indices, how = read_label(self.label_path(i), self.colormap, self.num_classes, self.max_unknown)
        if how and how not in self._warned:  # say it once per dataset
            self._warned.add(how)
            warnings.warn(
                f"{self.label_path(i)} {_MAPPED[how]} (unknown colours become void, 255). "
                "Further such labels are read the same way, silently.",
                stacklevel=3,
            )
        if tuple(image.shape[1:]) != indices.shape:
            raise ValueError(
                f"image {self.image_path(i)} is {image.shape[1]}x{image.shape[2]} but its label "
                f"{self.label_path(i)} is {indices.shape[0]}x{indices.shape[1]}; every label must match its image"
            )
        return image, torch.from_numpy(np.ascontiguousarray(indices))

    def read_raw(self, i: int) -> tuple[Tensor, Tensor]:
        """Item ``i`` as stored: ``(uint8 [3, H, W], int64 [H, W])``, no crop, no normalisation."""
        image, label = self._read(i)
        return image, label.long()

    def _to_float(self, image: Tensor, out: Tensor | None = None) -> Tensor:
        if self.normalize:
            return normalize_image(image, out=out)
        out = torch.empty(image.shape, dtype=torch.float32) if out is None else out
        return out.copy_(image).div_(255)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        image, label = self._read(i)
        if self.transform is not None:
            image, label = self.transform(image, label, to_float=self._to_float)
        else:
            image = self._to_float(image)
            if self.flip and torch.rand(()) < 0.5:
                image, label = image.flip(-1), label.flip(-1)
        return image, label.long()

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Tensor, Tensor]]:
        """Items ``indices`` (PyTorch's ``DataLoader`` asks for a batch this way).

        With ``crop_size``, in the loading process, images are decoded on threads and written straight
        into one preallocated batch (a :class:`CroppedBatch`, which :func:`collate_batch` hands on
        uncopied). This hand-written path stays because it is measurably faster than per-item
        transforms plus ``default_collate`` (benchmarks/bench_data.py, VOC-sized tree, 320x480 crops,
        batch 32, one torch thread: 471 img/s against d2l's 352, 1.34x, peak RSS 943 MB against 9,361 MB;
        1.65x with two torch threads). Elsewhere it is ``[self[i] for i in indices]``.
        """
        if self.transform is None or len(indices) < 2 or get_worker_info() is not None:
            return [self[i] for i in indices]
        pool = self._decoder_pool()
        # Decoding releases the GIL, so it runs on threads; cropping draws random numbers, so it runs
        # here, in order (the same seed gives the same crops as item-by-item loading).
        pairs = list(pool.map(self._read, indices)) if pool is not None else [self._read(i) for i in indices]
        crops = [self.transform.crop(image, label, to_float=self._to_float) for image, label in pairs]
        h, w = self.crop_size
        images = torch.empty((len(indices), 3, h, w), dtype=torch.float32)
        labels = torch.empty((len(indices), h, w), dtype=torch.int64)
        inference = torch.is_inference_mode_enabled()  # thread-local: evaluate() loads batches in it

        def write(k: int) -> None:
            with torch.inference_mode(inference):
                self.transform.write(*crops[k], images[k], labels[k], to_float=self._to_float)

        for _ in pool.map(write, range(len(crops))) if pool is not None else map(write, range(len(crops))):
            pass
        return CroppedBatch(images, labels)

    def _decoder_pool(self) -> ThreadPoolExecutor | None:
        if self._cache is not None or self.decode_threads < 2:
            return None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.decode_threads, thread_name_prefix="fcnlib-decode")
        return self._pool

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_pool": None}  # threads do not travel to worker processes

    def __repr__(self) -> str:
        crop = "full size" if self.crop_size is None else f"crops {self.crop_size[0]}x{self.crop_size[1]}"
        return (
            f"VOCDataset({self.source}, split={self.split!r}, {len(self)} images, {self.num_classes} classes, "
            f"{crop}, root={str(self.root)!r})"
        )


class CroppedBatch(list):
    """``(image, label)`` items that are views of two batch tensors, ``images [N, 3, h, w]`` and ``labels [N, h, w]``."""

    def __init__(self, images: Tensor, labels: Tensor) -> None:
        super().__init__(zip(images, labels))
        self.images, self.labels = images, labels
