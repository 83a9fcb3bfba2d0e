"""d2l's one-call loader: ``load_data_voc`` gives training and test iterators over VOC2012 or the teaching dataset."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, default_collate

from ..profiles import data_choice_setting, offline_setting, profile
from ..shapes import as_pair, check_int
from .download import VOCDownloadError, download_voc
from .synthetic import ensure_synthetic_voc
from .voc import CroppedBatch, VOCDataset, default_root, find_voc_dir


def collate_batch(items: Sequence[Any]) -> Any:
    """PyTorch's ``default_collate``, except that a :class:`CroppedBatch` is already stacked.

    Items of different sizes raise ``ValueError`` saying how to batch them.
    """
    if isinstance(items, CroppedBatch):
        return [items.images, items.labels]
    try:
        return default_collate(items)
    except RuntimeError as err:
        if "stack expects each tensor to be equal size" not in str(err):
            raise
        sizes = sorted({tuple(item[0].shape[-2:]) for item in items})
        raise ValueError(
            f"cannot batch images of different sizes {sizes[:4]}: full-size images do not stack. Crop them "
            "(VOCDataset(..., crop_size=(320, 480)) or load_data_voc(batch_size, crop_size)), load them one "
            "at a time (batch_size=1), or predict whole images with fcnlib.predict_full"
        ) from err


def _find_or_download(root: Path, download: bool | str) -> tuple[Path | None, str]:
    """The VOC2012 folder to use (None: the teaching dataset) and, when it is not VOC, why."""
    if download not in ("auto", True, False):
        raise ValueError(f"download must be 'auto', True or False, got {download!r}")
    choice = data_choice_setting()
    if choice == "synthetic":
        return None, "FCNLIB_DATA=synthetic"
    voc_dir = find_voc_dir(root)
    if voc_dir is not None or download is False:
        return voc_dir, f"no VOC2012 under {root}, download=False"
    if download == "auto" and choice != "voc" and profile().name != "full":
        return None, f"no VOC2012 under {root}; the quick profile does not download it"
    if offline_setting():
        if download is True:
            raise VOCDownloadError("download=True, but FCNLIB_OFFLINE is set: unset it, or use download='auto'")
        return None, "FCNLIB_OFFLINE is set, so VOC2012 was not downloaded"
    try:
        return download_voc(root), ""
    except (VOCDownloadError, OSError, ValueError) as err:
        if download is True:
            raise
        return None, "downloading VOC2012 failed: " + " ".join(line.strip() for line in str(err).splitlines()[:2])


def _teaching_dataset(root: Path, n_train, n_val, image_size, seed: int, why: str) -> tuple[Path, str]:
    """Generate (or reuse) the teaching dataset under ``root/synthetic`` with the profile's defaults."""
    if n_train is None or n_val is None or image_size is None:
        p = profile()
        n_train, n_val = p.n_train if n_train is None else n_train, p.n_val if n_val is None else n_val
        image_size = p.image_size if image_size is None else image_size
    start = time.perf_counter()
    voc_dir, generated = ensure_synthetic_voc(root / "synthetic", n_train, n_val, seed=seed, image_size=image_size)
    took = f"; generated in {time.perf_counter() - start:.1f} s" if generated else ""
    return voc_dir, f" ({why}{took})"


def load_data_voc(
    batch_size: int,
    crop_size: int | Sequence[int],
    root: str | Path | None = None,
    num_workers: int = 0,
    n_train: int | None = None,
    n_val: int | None = None,
    image_size: tuple[int, int] | None = None,
    flip: bool = True,
    seed: int = 0,
    preload: bool = False,
    download: bool | str = "auto",
) -> tuple[DataLoader, DataLoader]:
    """d2l's ``load_data_voc``: ``(train_iter, test_iter)`` of ``(float32 [N, 3, h, w], int64 [N, h, w])`` batches.

    Pascal VOC2012 when it is under ``root`` (default :func:`default_root`) or, with ``download="auto"``
    in the full profile or with ``FCNLIB_DATA=voc``, when :func:`download_voc` gets it (``True``: must
    get it, else raises; ``False``: no network). Otherwise (or with ``FCNLIB_DATA=synthetic``) the
    teaching dataset, generated once under ``root/synthetic`` (``n_train``, ``n_val``, ``image_size``
    default to the profile's; ``seed`` seeds it). Prints which it uses and why; ``.dataset.source`` says. Training: shuffled random crops, flips, last
    incomplete batch dropped (d2l's); test: central crops of every validation image, in order.
    """
    check_int(batch_size, "batch_size", 1)
    crop = as_pair(crop_size, "crop_size", 1)
    root = default_root() if root is None else Path(root).expanduser()
    voc_dir, note = _find_or_download(root, download)
    if voc_dir is None:
        voc_dir, note = _teaching_dataset(root, n_train, n_val, image_size, seed, note)
    else:
        note = ""
    train_set = VOCDataset(voc_dir, "train", crop_size=crop, flip=flip, preload=preload)
    test_set = VOCDataset(voc_dir, "val", crop_size=crop, preload=preload)
    what = {"VOC2012": "Pascal VOC2012", "synthetic": "the generated teaching dataset"}.get(
        train_set.source, f"a VOC-format dataset ({train_set.source})"
    )
    print(f"Using {what} at {voc_dir}: {len(train_set)} train and {len(test_set)} val images{note}")
    if len(train_set) < batch_size:
        raise ValueError(
            f"batch_size {batch_size} is larger than the {len(train_set)} training images: with drop_last the "
            "training iterator would be empty; use a smaller batch or more images"
        )
    args: dict = dict(
        num_workers=num_workers,
        pin_memory=torch.cuda.is_available(),
        persistent_workers=num_workers > 0,
        collate_fn=collate_batch,
    )
    train_iter = DataLoader(train_set, batch_size, shuffle=True, drop_last=True, **args)
    return train_iter, DataLoader(test_set, batch_size, shuffle=False, drop_last=False, **args)
