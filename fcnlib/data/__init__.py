"""Data for the lessons: Pascal VOC2012 (download and reading) and a generated dataset in its format.

* :func:`download_voc` fetches and unpacks VOC2012 (2 GB) safely, resuming interrupted downloads.
* :class:`VOCDataset` reads any VOC-format folder as ``(image, label)`` pairs, cropping and
  flipping image and label together (:mod:`fcnlib.data.transforms`).
* :func:`make_synthetic_voc` writes the offline teaching dataset (shapes on textured
  backgrounds) in the same format, so every lesson runs without a network.
* :func:`load_data_voc` is d2l's one-call loader: VOC2012 when present, else the teaching dataset.
"""

from .photo import sample_photo
from .transforms import (
    IGNORE_INDEX,
    IMAGENET_MEAN,
    IMAGENET_STD,
    SegmentationTransform,
    denormalize,
    normalize_image,
    void_to_background,
)
from .voc import (
    VOC_CLASSES,
    VOC_COLORMAP,
    VOCDataset,
    CroppedBatch,
    collate_batch,
    default_root,
    find_voc_dir,
    load_data_voc,
    read_image,
    read_label,
    voc_palette,
)
from .synthetic import SHAPES, SYNTHETIC_CLASSES, ensure_synthetic_voc, make_synthetic_voc, render_scene
from .download import VOC_MIRRORS, VOC_SHA1, VOC_TAR_NAME, VOCDownloadError, download_voc

__all__ = [
    "sample_photo", "void_to_background",
    "VOC_CLASSES", "VOC_COLORMAP", "VOCDataset", "CroppedBatch", "collate_batch", "default_root", "find_voc_dir", "load_data_voc",
    "read_image", "read_label", "voc_palette",
    "IGNORE_INDEX", "IMAGENET_MEAN", "IMAGENET_STD", "SegmentationTransform", "normalize_image", "denormalize",
    "SHAPES", "SYNTHETIC_CLASSES", "make_synthetic_voc", "ensure_synthetic_voc", "render_scene",
    "VOC_MIRRORS", "VOC_SHA1", "VOC_TAR_NAME", "VOCDownloadError", "download_voc",
]
