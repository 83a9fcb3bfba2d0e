"""Pascal VOC2012 for semantic segmentation: classes, colours, and a dataset that reads the files.

A VOC-format dataset is a folder ``VOCdevkit/VOC2012`` with three parts::

    JPEGImages/2007_000032.jpg             the photos
    SegmentationClass/2007_000032.png      one label per photo: a *palette* PNG
    ImageSets/Segmentation/train.txt       the image ids of each split (val.txt too)

A palette ("P" mode) PNG stores one small integer per pixel plus a table that says which
colour to show for each integer. For VOC the integer *is* the class index (0 background,
1 aeroplane, ..., 20 tv/monitor, 255 void), and the table holds the familiar VOC colours.
So we read the indices directly, with no colour arithmetic. (d2l converts the PNG to RGB
and maps each colour back through a table of 256^3 entries: the same labels, done the long
way round, with void silently turned into background.)

Void (255) marks the outline of every object and regions the annotators could not decide.
We keep it as 255 and let losses and metrics ignore it (``ignore_index=255``).
"""

from __future__ import annotations

import json
import os
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, default_collate, get_worker_info

from .transforms import IGNORE_INDEX, SegmentationTransform, _as_size, denormalize, normalize_image

__all__ = ['VOC_CLASSES', 'VOC_COLORMAP', 'VOID_COLOR', 'SPLITS', 'voc_palette', 'default_root', 'find_voc_dir', 'read_image', 'read_label', 'VOCDataset', 'CroppedBatch', 'collate_batch', 'load_data_voc']


VOC_CLASSES: List[str] = [
    "background", "aeroplane", "bicycle", "bird", "boat",
    "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person",
    "potted plant", "sheep", "sofa", "train", "tv/monitor",
]
"""The 21 class names of Pascal VOC2012, index 0 first (d2l's order and spelling)."""

VOC_COLORMAP: List[List[int]] = [
    [0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0],
    [0, 0, 128], [128, 0, 128], [0, 128, 128], [128, 128, 128],
    [64, 0, 0], [192, 0, 0], [64, 128, 0], [192, 128, 0],
    [64, 0, 128], [192, 0, 128], [64, 128, 128], [192, 128, 128],
    [0, 64, 0], [128, 64, 0], [0, 192, 0], [128, 192, 0],
    [0, 64, 128],
]
"""The RGB colour of each class in VOC's label images (d2l's values)."""

VOID_COLOR = (224, 224, 192)
"""The colour VOC's palette gives to index 255 (void)."""

SPLITS = ("train", "val", "trainval")


def voc_palette() -> List[int]:
    """VOC's 256-colour palette as the flat list ``[r0, g0, b0, r1, ...]`` that PIL's ``putpalette`` takes.

    The colours come from a bit trick: the bits of the index are spread over the high
    bits of R, G and B, so neighbouring classes get clearly different colours. The first
    21 entries are :data:`VOC_COLORMAP`, entry 255 is :data:`VOID_COLOR`.
    """
    palette = []
    for index in range(256):
        r = g = b = 0
        c = index
        for shift in range(7, -1, -1):
            r |= ((c >> 0) & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette.extend((r, g, b))
    return palette


def default_root() -> Path:
    """Where datasets live: ``$FCNLIB_DATA``, else the repository's ``data/`` folder, else ``./data``.

    From a checkout of the project, downloads and generated data land in its ``data/``
    folder (ignored by git) whichever folder a notebook runs in; on Colab (fcnlib installed
    with pip) they land in ``data/`` under the current directory.
    """
    env = os.environ.get("FCNLIB_DATA", "").strip()
    if env:
        return Path(env).expanduser()
    import fcnlib

    repo_data = Path(fcnlib.__file__).resolve().parents[1] / "data"
    if (repo_data / "README.md").is_file():
        return repo_data
    return Path("data")


def _is_voc_dir(path: Path) -> bool:
    return (path / "ImageSets" / "Segmentation").is_dir() and (path / "JPEGImages").is_dir()


def find_voc_dir(root: Union[str, Path]) -> Optional[Path]:
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


def read_image(path: Union[str, Path]) -> Tensor:
    """Read an image file as ``uint8 [3, H, W]`` RGB.

    Grayscale, CMYK, palette and RGBA images are converted to RGB (alpha is dropped), so
    every image has three channels. An unreadable file raises ``ValueError`` naming it.
    """
    path = Path(path)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        image = _decode_with_torchvision(path, "jpeg")
        if image is not None and image.shape[0] == 3:
            return image
    try:
        with Image.open(path) as img:
            if img.mode != "RGB":
                img = img.convert("RGB")
            array = np.array(img)  # a copy PyTorch may write to
    except FileNotFoundError:
        raise FileNotFoundError(f"image file {path} does not exist") from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"cannot read image {path}: {err}. Replace the file or remove its id from the split list.") from err
    return torch.from_numpy(array).permute(2, 0, 1)


def _decode_with_torchvision(path: Path, kind: str) -> Optional[Tensor]:
    """Decode a JPEG or PNG file with torchvision's decoders (libjpeg-turbo, libpng), or None.

    The fast path of :func:`read_image` and :func:`read_label`: about 25% (JPEG) and 40%
    (PNG) quicker than PIL for VOC's files, since the pixels land in a ``[C, H, W]`` tensor
    without passing through NumPy. It returns the channels as stored (``UNCHANGED``);
    the callers use it only for the common cases (3-channel JPEGs, 8-bit palette or
    grayscale PNGs) and leave everything else, and every error, to PIL, which converts
    the rare cases and explains the failures.
    """
    from torchvision.io import ImageReadMode, decode_jpeg, decode_png

    try:
        data = torch.frombuffer(bytearray(path.read_bytes()), dtype=torch.uint8)
        if kind == "png":
            # IHDR: bit depth at byte 24, colour type at byte 25 (0 grayscale, 3 palette).
            if data.numel() < 26 or int(data[24]) != 8 or int(data[25]) not in (0, 3):
                return None
            return decode_png(data, mode=ImageReadMode.UNCHANGED)
        return decode_jpeg(data, mode=ImageReadMode.UNCHANGED)
    except (OSError, RuntimeError, ValueError):
        return None  # missing, truncated or not what its name says: PIL reports it


def _rgb_to_indices(rgb: np.ndarray, colormap: Sequence[Sequence[int]]) -> np.ndarray:
    """Map an ``[H, W, 3]`` colour mask to class indices; colours not in ``colormap`` become 255."""
    codes = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2].astype(np.int32)
    uniques, inverse = np.unique(codes, return_inverse=True)
    lookup = {(r << 16) | (g << 8) | b: i for i, (r, g, b) in enumerate(colormap)}
    mapped = np.array([lookup.get(int(u), IGNORE_INDEX) for u in uniques], dtype=np.uint8)
    return mapped[inverse.reshape(codes.shape)]


def read_label(
    path: Union[str, Path],
    colormap: Sequence[Sequence[int]] = VOC_COLORMAP,
    num_classes: Optional[int] = None,
) -> Tuple[np.ndarray, bool]:
    """Read a label PNG as ``uint8 [H, W]`` class indices; return ``(indices, was_rgb)``.

    * Palette ("P") or grayscale ("L") PNG: the stored values *are* the indices.
    * RGB(A) PNG (a coloured mask saved by some other tool): every colour of ``colormap``
      becomes its index, any other colour becomes 255 (void); ``was_rgb`` is True so the
      caller can warn.

    Values other than ``0 .. num_classes - 1`` and 255 raise ``ValueError``: they would
    silently index past the network's outputs.
    """
    path = Path(path)
    num_classes = len(colormap) if num_classes is None else num_classes
    decoded = _decode_with_torchvision(path, "png") if path.suffix.lower() == ".png" else None
    if decoded is not None and decoded.shape[0] == 1:  # an 8-bit palette or grayscale PNG
        indices, was_rgb = decoded[0].numpy(), False
    else:
        try:
            with Image.open(path) as img:
                if img.mode in ("P", "L"):
                    indices, was_rgb = np.array(img), False
                elif img.mode in ("RGB", "RGBA"):
                    indices, was_rgb = _rgb_to_indices(np.asarray(img.convert("RGB")), colormap), True
                else:
                    raise ValueError(f"label mode {img.mode!r} is not a palette, grayscale or RGB image")
        except FileNotFoundError:
            raise FileNotFoundError(f"label file {path} does not exist") from None
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
            raise ValueError(f"cannot read label {path}: {err}. Replace the file or remove its id from the split list.") from err
    outside = (indices >= num_classes) & (indices != IGNORE_INDEX)
    bad = np.unique(indices[outside]) if outside.any() else ()
    if len(bad):
        raise ValueError(
            f"label {path} holds values {bad[:8].tolist()} that are not class indices 0..{num_classes - 1} "
            f"or {IGNORE_INDEX} (void); is it a label of another dataset?"
        )
    return indices, was_rgb


def _read_classes(voc_dir: Path) -> Tuple[List[str], List[List[int]], str]:
    """Class names, colours and source ("VOC2012" or "synthetic") of a dataset folder."""
    path = voc_dir / "classes.json"
    if not path.is_file():
        return list(VOC_CLASSES), [list(c) for c in VOC_COLORMAP], "VOC2012"
    try:
        info = json.loads(path.read_text())
        classes, colormap = [str(c) for c in info["classes"]], [[int(v) for v in c] for c in info["colormap"]]
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(f"{path} is not a valid classes file ({err}): it needs 'classes' and 'colormap' lists") from err
    if len(classes) != len(colormap):
        raise ValueError(f"{path} lists {len(classes)} classes but {len(colormap)} colours")
    return classes, colormap, str(info.get("source", "custom"))


class VOCDataset(Dataset):
    """Pascal VOC2012 (or any folder in its format) as ``(image, label)`` pairs.

    Args:
        root: the folder that holds ``VOCdevkit/VOC2012`` (or that folder itself).
        split: ``"train"``, ``"val"`` or ``"trainval"`` (a file in ``ImageSets/Segmentation``).
        crop_size: ``(height, width)`` crops for training in batches, or ``None`` for
            full-size pairs (evaluation, prediction). Images smaller than the crop are
            padded (image 0, label 255), so every image is used. ``"train"`` and
            ``"trainval"`` crop at a random position; ``"val"`` takes the central crop, so
            evaluation repeats.
        flip: also flip left-right at random (augmentation; not for ``"val"``).
        normalize: ``True`` gives ImageNet-normalised floats; ``False`` floats in [0, 1].
        limit: use only the first ``limit`` images of the split (quick experiments).
        preload: decode every image and label once, up front, and keep them in memory as
            ``uint8`` (what d2l does, but d2l keeps float32: four times the memory for the
            images). Epochs then skip JPEG/PNG decoding; VOC2012's train split takes about
            0.8 GB this way.
        decode_threads: threads that decode the images of a batch in parallel when the
            ``DataLoader`` runs in this process (``num_workers=0``, the default on a CPU);
            default ``min(4, CPUs)``; 1 decodes one image after another. (With worker
            processes each worker decodes its own batches.)

    Items are ``(image float32 [3, H, W], label int64 [H, W])`` with labels
    ``0 .. num_classes - 1`` and 255 for void. Without ``preload`` images are read from
    disk when asked for, so memory stays small whatever the dataset's size.
    """

    def __init__(
        self,
        root: Union[str, Path],
        split: str = "train",
        crop_size: Optional[Union[int, Sequence[int]]] = None,
        flip: bool = False,
        normalize: bool = True,
        limit: Optional[int] = None,
        preload: bool = False,
        decode_threads: Optional[int] = None,
    ) -> None:
        root = Path(root).expanduser()
        voc_dir = find_voc_dir(root)
        if voc_dir is None:
            raise _missing_root_error(root)
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
        if flip and split == "val":
            raise ValueError("flip=True is an augmentation for training; the 'val' split is read unflipped "
                             "(and centrally cropped) so that evaluation gives the same result every time")
        list_file = voc_dir / "ImageSets" / "Segmentation" / f"{split}.txt"
        if not list_file.is_file():
            raise FileNotFoundError(f"{list_file} is missing: the dataset at {voc_dir} has no {split!r} split")
        self.root = voc_dir
        self.split = split
        self.names: List[str] = list_file.read_text().split()
        if limit is not None:
            self.names = self.names[: int(limit)]
        missing = [n for n in self.names
                   if not (voc_dir / "JPEGImages" / f"{n}.jpg").is_file()
                   or not (voc_dir / "SegmentationClass" / f"{n}.png").is_file()]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} of the {len(self.names)} ids in {list_file} have no JPEGImages/<id>.jpg or "
                f"SegmentationClass/<id>.png in {voc_dir} (first: {missing[:3]}); the download or extraction "
                "is incomplete: delete the folder and download or generate it again"
            )
        self.classes, self.colormap, self.source = _read_classes(voc_dir)
        self.num_classes = len(self.classes)
        self.crop_size = None if crop_size is None else _as_size(crop_size)
        self.flip = bool(flip)
        self.normalize = bool(normalize)
        self._warned_rgb = False
        self.transform: Optional[SegmentationTransform] = None
        if self.crop_size is not None:
            self.transform = SegmentationTransform(self.crop_size, random_crop=(split != "val"), flip=self.flip)
        if decode_threads is None:
            decode_threads = min(4, os.cpu_count() or 1)
        if isinstance(decode_threads, bool) or not isinstance(decode_threads, int) or decode_threads < 1:
            raise ValueError(f"decode_threads must be a positive int (1: no threads), got {decode_threads!r}")
        self.decode_threads = decode_threads
        self._pool: Optional[ThreadPoolExecutor] = None
        self._cache: Optional[List[Tuple[Tensor, Tensor]]] = None
        if preload:
            self._cache = [self._read(i) for i in range(len(self))]

    def __len__(self) -> int:
        return len(self.names)

    def image_path(self, i: int) -> Path:
        return self.root / "JPEGImages" / f"{self.names[i]}.jpg"

    def label_path(self, i: int) -> Path:
        return self.root / "SegmentationClass" / f"{self.names[i]}.png"

    def _read(self, i: int) -> Tuple[Tensor, Tensor]:
        if not -len(self) <= i < len(self):
            raise IndexError(f"index {i} out of range for a dataset of {len(self)} images")
        if self._cache is not None:
            return self._cache[i]
        image = read_image(self.image_path(i))
        indices, was_rgb = read_label(self.label_path(i), self.colormap, self.num_classes)
        if was_rgb and not self._warned_rgb:
            self._warned_rgb = True
            warnings.warn(
                f"{self.label_path(i)} is an RGB mask, not a palette PNG: mapping its colours to class "
                "indices (unknown colours become void, 255). Further RGB masks are read the same way, silently.",
                stacklevel=3,
            )
        if tuple(image.shape[1:]) != indices.shape:
            raise ValueError(
                f"image {self.image_path(i)} is {image.shape[1]}x{image.shape[2]} but its label "
                f"{self.label_path(i)} is {indices.shape[0]}x{indices.shape[1]}; every label must match its image"
            )
        return image, torch.from_numpy(np.ascontiguousarray(indices))

    def read_raw(self, i: int) -> Tuple[Tensor, Tensor]:
        """Image ``i`` as stored: ``(uint8 [3, H, W], int64 [H, W])``, no crop, no normalisation."""
        image, label = self._read(i)
        return image, label.long()

    def _to_float(self, image: Tensor, out: Optional[Tensor] = None) -> Tensor:
        if self.normalize:
            return normalize_image(image, out=out)
        if out is None:
            out = torch.empty(image.shape, dtype=torch.float32)
        return out.copy_(image).div_(255)

    def __getitem__(self, i: int) -> Tuple[Tensor, Tensor]:
        image, label = self._read(i)
        if self.transform is not None:
            image, label = self.transform(image, label, to_float=self._to_float)
        else:
            image = self._to_float(image)
            if self.flip and torch.rand(()) < 0.5:
                image, label = image.flip(-1), label.flip(-1)
        return image, label.long()

    def __getitems__(self, indices: Sequence[int]) -> List[Tuple[Tensor, Tensor]]:
        """Items ``indices`` at once; PyTorch's ``DataLoader`` asks for a batch this way.

        With ``crop_size`` (all items the same size), in the loading process itself
        (``num_workers=0``), every image and label is written straight into its slot of
        one preallocated batch: no tensor per image, and no second copy when the batch is
        stacked. The items come back as views of that batch, in a :class:`CroppedBatch`
        that :func:`collate_batch` (the collate function of :func:`load_data_voc`) hands on
        without copying; any other collate function stacks them as usual. Elsewhere (full
        size images, inside worker processes, where PyTorch's default collate already
        writes into shared memory) it is ``[self[i] for i in indices]``.
        """
        if self.transform is None or len(indices) < 2 or get_worker_info() is not None:
            return [self[i] for i in indices]
        pool = self._decoder_pool()
        # Decoding (the slow part) runs on threads: the JPEG and PNG decoders release the GIL.
        # Cropping draws random numbers, so it stays on this thread, in order: the same seed
        # gives the same crops as item-by-item loading.
        pairs = list(pool.map(self._read, indices)) if pool is not None else [self._read(i) for i in indices]
        crops = [self.transform.crop(image, label, to_float=self._to_float) for image, label in pairs]
        h, w = self.crop_size
        images = torch.empty((len(indices), 3, h, w), dtype=torch.float32)
        labels = torch.empty((len(indices), h, w), dtype=torch.int64)

        inference = torch.is_inference_mode_enabled()  # thread-local: evaluate() loads batches in it

        def write(k: int) -> None:
            with torch.inference_mode(inference):
                self.transform.write(*crops[k], images[k], labels[k], to_float=self._to_float)

        if pool is not None:
            list(pool.map(write, range(len(crops))))
        else:
            for k in range(len(crops)):
                write(k)
        return CroppedBatch(images, labels)

    def _decoder_pool(self) -> Optional[ThreadPoolExecutor]:
        if self._cache is not None or self.decode_threads < 2:
            return None
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.decode_threads, thread_name_prefix="fcnlib-decode")
        return self._pool

    def __getstate__(self) -> Dict[str, Any]:
        state = dict(self.__dict__)
        state["_pool"] = None  # threads do not travel to DataLoader worker processes
        return state

    def __repr__(self) -> str:
        crop = "full size" if self.crop_size is None else f"crops {self.crop_size[0]}x{self.crop_size[1]}"
        return (f"VOCDataset({self.source}, split={self.split!r}, {len(self)} images, {self.num_classes} classes, "
                f"{crop}, root={str(self.root)!r})")


class CroppedBatch(list):
    """A list of ``(image, label)`` items that are views of two batch tensors, ``images`` and ``labels``.

    Returned by :meth:`VOCDataset.__getitems__`; :func:`collate_batch` returns
    ``[images, labels]`` for it without copying.
    """

    def __init__(self, images: Tensor, labels: Tensor) -> None:
        super().__init__(zip(images, labels))
        self.images, self.labels = images, labels


def collate_batch(items: Sequence[Any]) -> Any:
    """PyTorch's ``default_collate``, except that a :class:`CroppedBatch` is already stacked."""
    if isinstance(items, CroppedBatch):
        return [items.images, items.labels]
    return default_collate(items)


def _describe(voc_dir: Path, source: str, n_train: int, n_val: int, note: str = "") -> str:
    what = {"VOC2012": "Pascal VOC2012", "synthetic": "the generated teaching dataset"}.get(
        source, f"a VOC-format dataset ({source})")
    return f"Using {what} at {voc_dir}: {n_train} train and {n_val} val images{note}"


def load_data_voc(
    batch_size: int,
    crop_size: Union[int, Sequence[int]],
    root: Optional[Union[str, Path]] = None,
    num_workers: int = 0,
    n_train: Optional[int] = None,
    n_val: Optional[int] = None,
    image_size: Optional[Tuple[int, int]] = None,
    flip: bool = True,
    seed: int = 0,
    preload: bool = False,
) -> Tuple[DataLoader, DataLoader]:
    """d2l's ``load_data_voc``: ``(train_iter, test_iter)`` of ``(images, labels)`` batches.

    Uses Pascal VOC2012 when it is under ``root`` (default :func:`default_root`, i.e. the
    repository's ``data/``); otherwise it generates the offline teaching dataset once under
    ``root/synthetic`` (``n_train``, ``n_val``, ``image_size`` default to the run profile's,
    see :func:`fcnlib.profile`) and reuses it afterwards. It prints which dataset it uses.

    ``seed`` seeds the generated dataset (not the shuffling: seed ``torch`` for that).
    ``preload`` keeps every decoded image in memory as uint8 (see :class:`VOCDataset`).

    The training iterator shuffles, crops at random (padding small images), flips when
    ``flip`` and drops the last incomplete batch, as d2l's does; the test iterator takes
    central crops of every validation image in order and keeps the last batch.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    crop = _as_size(crop_size)
    root = default_root() if root is None else Path(root).expanduser()
    voc_dir = find_voc_dir(root)
    note = ""
    if voc_dir is None:
        from .synthetic import ensure_synthetic_voc

        if n_train is None or n_val is None or image_size is None:
            from ..profiles import profile

            p = profile()
            n_train = p.n_train if n_train is None else n_train
            n_val = p.n_val if n_val is None else n_val
            image_size = p.image_size if image_size is None else image_size
        start = time.perf_counter()
        voc_dir, generated = ensure_synthetic_voc(root / "synthetic", n_train, n_val, seed=seed, image_size=image_size)
        if generated:
            note = f" (no VOC2012 under {root}; generated in {time.perf_counter() - start:.1f} s)"
        else:
            note = f" (no VOC2012 under {root})"
    train_set = VOCDataset(voc_dir, "train", crop_size=crop, flip=flip, preload=preload)
    test_set = VOCDataset(voc_dir, "val", crop_size=crop, preload=preload)
    print(_describe(voc_dir, train_set.source, len(train_set), len(test_set), note))
    if len(train_set) < batch_size:
        raise ValueError(
            f"batch_size {batch_size} is larger than the {len(train_set)} training images: with drop_last the "
            "training iterator would be empty; use a smaller batch or more images"
        )
    loader_args: Dict = dict(num_workers=num_workers, pin_memory=torch.cuda.is_available(),
                             persistent_workers=num_workers > 0)
    train_iter = DataLoader(train_set, batch_size, shuffle=True, drop_last=True, collate_fn=collate_batch, **loader_args)
    test_iter = DataLoader(test_set, batch_size, shuffle=False, drop_last=False, collate_fn=collate_batch, **loader_args)
    return train_iter, test_iter
