"""Pascal VOC2012 (or a folder in its format: ``JPEGImages/<id>.jpg``, palette PNGs ``SegmentationClass/<id>.png``,
``ImageSets/Segmentation/<split>.txt``, optionally ``classes.json``) as a dataset of ``(image, label)`` pairs."""

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
    """Where datasets live: ``$FCNLIB_DATA_DIR``, else the checkout's ``data/`` folder, else ``./data`` (Colab)."""
    if env := data_root_setting():
        return Path(env).expanduser()
    repo_data = Path(__file__).resolve().parents[2] / "data"
    return repo_data if (repo_data / "README.md").is_file() else Path("data")


def find_voc_dir(root: str | Path) -> Path | None:
    """The ``VOC2012`` folder in ``root`` (which may hold ``VOCdevkit/VOC2012`` or be that folder), or None."""
    root = Path(root).expanduser()
    for candidate in (root / "VOCdevkit" / "VOC2012", root / "VOC2012", root):
        if (candidate / "ImageSets" / "Segmentation").is_dir() and (candidate / "JPEGImages").is_dir():
            return candidate
    return None


def _read_classes(voc_dir: Path) -> tuple[list[str], list[list[int]], str]:
    """Class names, colours and source ("VOC2012", "synthetic", ...) of a dataset folder; ``ValueError``."""
    path = voc_dir / "classes.json"
    if not path.is_file():
        return list(VOC_CLASSES), [list(c) for c in VOC_COLORMAP], "VOC2012"
    try:
        info = json.loads(path.read_text())
        classes, colormap = [str(c) for c in info["classes"]], [[int(v) for v in c] for c in info["colormap"]]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} is not a valid classes file ({err}): it needs 'classes' and 'colormap'") from err
    if len(classes) != len(colormap):
        raise ValueError(f"{path} lists {len(classes)} classes but {len(colormap)} colours")
    return classes, colormap, str(info.get("source", "custom"))


def _missing_advice(voc_dir: Path, list_file: Path) -> str:
    """What to do about missing files: regenerate the teaching dataset (fcnlib's own), else keep every file."""
    if _read_classes(voc_dir)[2] == "synthetic":
        again = "the next load_data_voc() or python -m fcnlib run generates it again"
        return f"the generated teaching dataset is incomplete; delete {voc_dir} (fcnlib made it): {again}"
    return f"add the missing files, or leave their ids out of {list_file}; every other file is used as it is"


def _files(name: str) -> tuple[str, str]:
    return f"JPEGImages/{name}.jpg", f"SegmentationClass/{name}.png"


class VOCDataset(Dataset):
    """A VOC-format folder as ``(image float32 [3, H, W] normalised, label int64 [H, W])`` items (255 void).
    ``crop_size=(h, w)``: random crops (central for val; small images padded, label 255); ``flip``: random
    left-right flips; ``preload``: keep images decoded (VOC train: 0.8 GB). ``FileNotFoundError``, ``ValueError``."""

    def __init__(
        self,
        root: str | Path,
        split: str = "train",
        crop_size: int | Sequence[int] | None = None,
        flip: bool = False,
        preload: bool = False,
        decode_threads: int | None = None,
        max_unknown: float = MAX_UNKNOWN,
    ) -> None:
        root = Path(root).expanduser()
        if (voc_dir := find_voc_dir(root)) is None:
            raise FileNotFoundError(
                f"no VOC2012-format dataset at {root} (looked for {root / 'VOCdevkit' / 'VOC2012'} with JPEGImages/ and ImageSets/Segmentation/). Download Pascal VOC2012 with fcnlib.data.download_voc(root={str(root)!r}), or generate the offline teaching dataset with fcnlib.data.make_synthetic_voc(root={str(root)!r}, n_train=240, n_val=48); fcnlib.data.load_data_voc() does either for you."
            )
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if flip and split == "val":
            raise ValueError("flip=True is an augmentation for training: the 'val' split is never flipped")
        threads = min(4, os.cpu_count() or 1) if decode_threads is None else decode_threads
        self.decode_threads = check_int(threads, "decode_threads", 1)
        list_file = voc_dir / "ImageSets" / "Segmentation" / f"{split}.txt"
        if not list_file.is_file():
            raise FileNotFoundError(f"{list_file} is missing: the dataset at {voc_dir} has no {split!r} split")
        names = read_split(list_file)
        missing = [n for n in names if not all((voc_dir / f).is_file() for f in _files(n))]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} of the {len(names)} ids in {list_file} have no JPEGImages/<id>.jpg or SegmentationClass/<id>.png in {voc_dir} (first: {missing[:3]}): {_missing_advice(voc_dir, list_file)}"
            )
        self.root, self.split, self.names = voc_dir, split, names
        self.classes, self.colormap, self.source = _read_classes(voc_dir)
        self.num_classes = len(self.classes)
        self.crop_size = None if crop_size is None else as_pair(crop_size, "crop_size", 1)
        self.flip, self.max_unknown = bool(flip), float(max_unknown)
        self.transform = None if self.crop_size is None else SegmentationTransform(self.crop_size, split != "val", flip)
        self._warned, self._pool, self._cache = set(), None, None  # labels warned about, decoding threads, preload
        if preload:
            self._cache = [self._read(i) for i in range(len(self))]

    def __len__(self) -> int:
        return len(self.names)

    def image_path(self, i: int) -> Path:
        return self.root / _files(self.names[i])[0]

    def label_path(self, i: int) -> Path:
        return self.root / _files(self.names[i])[1]

    def _read(self, i: int) -> tuple[Tensor, Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for a dataset of {len(self)} images")
        if self._cache is not None:
            return self._cache[i]
        try:
            image = read_image(self.image_path(i))
            indices, how = read_label(self.label_path(i), self.colormap, self.num_classes, self.max_unknown)
        except ValueError as err:
            split = self.root / "ImageSets" / "Segmentation" / f"{self.split}.txt"
            raise ValueError(f"{err} (or leave {self.names[i]!r} out of {split})") from err
        if how and how not in self._warned:  # say it once per dataset
            self._warned.add(how)
            what = "an RGB mask" if how == "rgb" else "a palette PNG whose palette is not this dataset's (re-saved?)"
            warnings.warn(
                f"{self.label_path(i)} is {what}: mapping its colours to classes (unknown colours become void, 255); further such labels are read the same way, silently.",
                stacklevel=3,
            )
        if tuple(image.shape[1:]) != indices.shape:
            raise ValueError(
                f"image {self.image_path(i)} is {image.shape[1]}x{image.shape[2]} but its label {self.label_path(i)} is {indices.shape[0]}x{indices.shape[1]}; every label must match its image"
            )
        return image, torch.from_numpy(np.ascontiguousarray(indices))

    def read_raw(self, i: int) -> tuple[Tensor, Tensor]:
        """Item ``i`` as stored: ``(uint8 [3, H, W], int64 [H, W])``, no crop, no normalisation."""
        image, label = self._read(i)
        return image, label.long()

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        image, label = self._read(i)
        if self.transform is not None:
            image, label = self.transform(image, label, to_float=normalize_image)
        else:
            image = normalize_image(image)
            if self.flip and torch.rand(()) < 0.5:
                image, label = image.flip(-1), label.flip(-1)
        return image, label.long()

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[Tensor, Tensor]]:
        """Items ``indices`` (a ``DataLoader`` batch); with ``crop_size``, decoded on threads into one preallocated
        :class:`CroppedBatch` (benchmarks/bench_data.py: 1.34x d2l's img/s in a tenth of its memory)."""
        if self.transform is None or len(indices) < 2 or get_worker_info() is not None:
            return [self[i] for i in indices]
        if self._pool is None and self._cache is None and self.decode_threads > 1:
            self._pool = ThreadPoolExecutor(self.decode_threads, thread_name_prefix="fcnlib-decode")
        run = map if self._pool is None else self._pool.map
        # Decoding releases the GIL, so it runs on threads; cropping draws random numbers, so it runs
        # here, in order (the same seed gives the same crops as item-by-item loading).
        crops = [self.transform.crop(*pair, to_float=normalize_image) for pair in run(self._read, indices)]
        images = torch.empty((len(indices), 3, *self.crop_size), dtype=torch.float32)
        labels = torch.empty((len(indices), *self.crop_size), dtype=torch.int64)
        inference = torch.is_inference_mode_enabled()  # thread-local: evaluate() loads batches in it

        def write(k: int) -> None:
            image, label = crops[k]
            with torch.inference_mode(inference):
                # A padded crop is converted already.
                normalize_image(image, out=images[k]) if image.dtype == torch.uint8 else images[k].copy_(image)
                labels[k].copy_(label)

        list(run(write, range(len(crops))))
        return CroppedBatch(images, labels)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_pool": None}  # threads do not travel to worker processes

    def __repr__(self) -> str:
        crop = "full size" if self.crop_size is None else f"crops {self.crop_size[0]}x{self.crop_size[1]}"
        return f"VOCDataset({self.source}, split={self.split!r}, {len(self)} images, {self.num_classes} classes, {crop}, root={str(self.root)!r})"


class CroppedBatch(list):
    """``(image, label)`` items that are views of two batch tensors, ``images [N, 3, h, w]`` and ``labels [N, h, w]``."""

    def __init__(self, images: Tensor, labels: Tensor) -> None:
        super().__init__(zip(images, labels))
        self.images, self.labels = images, labels
