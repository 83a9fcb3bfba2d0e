"""d2l's one-call loader: ``load_data_voc`` gives training and test iterators over VOC2012 or the teaching dataset;
``run_summary`` says beforehand what a chapter will run on."""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, default_collate

from ..profiles import Profile, data_choice_setting, data_root_setting, max_steps_setting, offline_setting, profile
from ..shapes import as_pair, check_int
from ..weights import _hash_problem, imagenet_weights_path
from .download import VOC_TAR_NAME, VOCDownloadError, download_voc
from .labels import read_split
from .synthetic import ensure_synthetic_voc
from .voc import CroppedBatch, VOCDataset, default_root, find_voc_dir

_DOWNLOAD = "download"


class StepLimit:
    """``loader`` cut to ``steps`` batches per epoch (None: all); ``len()`` says how many. Every other
    attribute (``dataset``, ``sampler`` for ``set_epoch``, ``batch_size``, ``collate_fn``) is the loader's."""

    def __init__(self, loader: Any, steps: int | None) -> None:
        self.loader, self.steps = loader, steps

    def __len__(self) -> int:
        return len(self.loader) if self.steps is None else min(self.steps, len(self.loader))

    def __iter__(self):
        yield from itertools.islice(self.loader, len(self))

    def __getattr__(self, name: str) -> Any:
        if name == "loader":  # not set yet (copy, unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.loader, name)


def shown_path(path: str | Path) -> str:
    """``path`` without this machine's absolute folders: relative to the working folder, else under
    ``$FCNLIB_DATA_DIR``, else relative with one ``..`` (``notebooks/`` -> ``../data``), else under ``~``, else
    ``.../`` and its last two parts. The same wherever the checkout is (a clone in the temp folder too)."""
    path = Path(path).expanduser().absolute()
    try:
        rel = Path(os.path.relpath(path))
    except ValueError:  # another drive (Windows)
        rel = Path("..", "..")
    if ".." not in rel.parts:
        return rel.as_posix()
    data_dir = data_root_setting()
    if data_dir and path.is_relative_to(base := Path(data_dir).expanduser().absolute()):
        return Path("$FCNLIB_DATA_DIR", path.relative_to(base)).as_posix()
    if rel.parts[:2] != ("..", ".."):
        return rel.as_posix()
    if path.is_relative_to(home := Path.home().absolute()):
        return Path("~", path.relative_to(home)).as_posix()
    return ".../" + "/".join(path.parts[-2:])


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


def _plan(root: Path, download: bool | str) -> tuple[Path | None, str]:
    """Without touching the network: the VOC2012 folder to use, or None and why not (``_DOWNLOAD``: fetch it)."""
    if download not in ("auto", True, False):
        raise ValueError(f"download must be 'auto', True or False, got {download!r}")
    choice = data_choice_setting()
    if choice == "synthetic":
        return None, "FCNLIB_DATA=synthetic"
    voc_dir = find_voc_dir(root)
    if voc_dir is not None:
        return voc_dir, ""
    if download is False:
        return None, f"no VOC2012 under {shown_path(root)}, download=False"
    if download == "auto" and choice != "voc" and profile().name != "full":
        return None, f"no VOC2012 under {shown_path(root)}; the quick profile does not download it"
    if offline_setting():
        if download is True:
            raise VOCDownloadError("download=True, but FCNLIB_OFFLINE is set: unset it, or use download='auto'")
        return None, "FCNLIB_OFFLINE is set, so VOC2012 was not downloaded"
    return None, _DOWNLOAD


def _find_or_download(root: Path, download: bool | str) -> tuple[Path | None, str]:
    """The VOC2012 folder to use (None: the teaching dataset) and, when it is not VOC, why."""
    voc_dir, why = _plan(root, download)
    if why != _DOWNLOAD:
        return voc_dir, why
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
    try:
        voc_dir, generated = ensure_synthetic_voc(root / "synthetic", n_train, n_val, seed=seed, image_size=image_size)
    except OSError as err:  # a read-only or full disk, a file in the way
        where = "set FCNLIB_DATA_DIR to a folder you can write to" if root == default_root() else "pass another root"
        raise ValueError(f"cannot generate the teaching dataset in {root / 'synthetic'}: {err}; {where}") from err
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
    default to the profile's; ``seed`` seeds it). Prints which it uses and why; ``.dataset.source`` says.
    Training: shuffled random crops, flips, last incomplete batch dropped (d2l's), the same after the same
    ``torch.manual_seed`` (workers too); test: central crops of every validation image, in order.
    ``FCNLIB_MAX_STEPS=N`` cuts both to N batches per epoch (:class:`StepLimit`).
    """
    check_int(batch_size, "batch_size", 1)
    crop = as_pair(crop_size, "crop_size", 1)
    root = default_root() if root is None else Path(root).expanduser()
    voc_dir, why = _find_or_download(root, download)
    voc_dir, note = _teaching_dataset(root, n_train, n_val, image_size, seed, why) if voc_dir is None else (voc_dir, "")
    train_set = VOCDataset(voc_dir, "train", crop_size=crop, flip=flip, preload=preload)
    test_set = VOCDataset(voc_dir, "val", crop_size=crop, preload=preload)
    names = {"VOC2012": "Pascal VOC2012", "synthetic": "the generated teaching dataset"}
    what = names.get(train_set.source, f"a VOC-format dataset ({train_set.source})")
    print(f"Using {what} at {shown_path(voc_dir)}: {len(train_set)} train and {len(test_set)} val images{note}")
    if len(train_set) < batch_size:
        raise ValueError(
            f"batch_size {batch_size} is larger than the {len(train_set)} training images: with drop_last the "
            "training iterator would be empty; use a smaller batch or more images"
        )
    args: dict = dict(num_workers=num_workers, pin_memory=torch.cuda.is_available(), collate_fn=collate_batch)
    # training workers start afresh each pass, seeded from torch's generator (persistent ones would go on drawing)
    train_iter = DataLoader(train_set, batch_size, shuffle=True, drop_last=True, **args)
    test_iter = DataLoader(
        test_set, batch_size, shuffle=False, drop_last=False, persistent_workers=num_workers > 0, **args
    )
    steps = max_steps_setting()
    return (train_iter, test_iter) if steps is None else (StepLimit(train_iter, steps), StepLimit(test_iter, steps))


def _weights_summary() -> str:
    """Where the backbone's weights will come from (see :func:`fcnlib.weights.load_imagenet_backbone`)."""
    path = imagenet_weights_path()
    if path.is_file():
        if (problem := _hash_problem(path)) is None:
            return f"ImageNet weights, cached at {shown_path(path)} and checked"
        return f"a random backbone: the cached ImageNet weights at {shown_path(path)} are damaged ({problem})"
    if offline_setting():
        return "a random backbone (FCNLIB_OFFLINE is set, and no ImageNet weights are cached)"
    return "ImageNet weights, to be downloaded (45 MB; a random backbone if that fails)"


def run_summary(P: Profile | None = None, root: str | Path | None = None) -> str:
    """Two plain lines saying what a chapter will run: profile ``P`` (default :func:`profile`), the data
    :func:`load_data_voc` will use under ``root`` (default :func:`default_root`) and the backbone's weights.
    Touches no network and shows no absolute path."""
    P = profile() if P is None else P
    root = default_root() if root is None else Path(root).expanduser()
    voc_dir, why = _plan(root, "auto")
    if voc_dir is not None:
        split = voc_dir / "ImageSets" / "Segmentation"
        sizes = " + ".join(f"{len(read_split(split / f'{s}.txt'))} {s}" for s in ("train", "val"))
        data = f"VOC2012 found at {shown_path(voc_dir)} ({sizes} images)"
    elif why == _DOWNLOAD:
        because = "FCNLIB_DATA=voc" if data_choice_setting() == "voc" else f"the {P.name} profile"
        how = "checked and extracted from its archive" if (root / VOC_TAR_NAME).is_file() else "downloaded (2 GB)"
        data = f"VOC2012 will be {how} into {shown_path(root)} ({because}); if no mirror answers, the teaching dataset"
    else:
        h, w = P.image_size
        data = f"the teaching dataset, {P.n_train} train + {P.n_val} val images of {h}x{w} ({why})"
    steps = max_steps_setting()
    limit = "" if steps is None else f", at most {steps} batches per epoch (FCNLIB_MAX_STEPS)"
    return f"{P}{limit}\ndata: {data}; backbone: {_weights_summary()}"
