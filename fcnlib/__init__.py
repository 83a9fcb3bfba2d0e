"""fcnlib: the helper package of the fcn-notebooks lessons.

From bilinear interpolation to a working Fully Convolutional Network (FCN) for semantic
segmentation in PyTorch. The notebooks import only this package. Modules by topic, lowest
first; a module imports only modules above it in this list::

    profiles     quick/full settings, devices, precision; every FCNLIB_* variable is read here
    shapes       output sizes of conv/transposed conv, upsampling_params, the ResNet-18 stage table
    upsampling   bilinear kernel and upsampling, overlap maps, resize-conv, from-scratch versions
    weights      ImageNet backbone weights: cache, download, offline fallback
    model        FCN-32s/16s/8s on ResNet-18 (fcn_resnet18), convolutionalisation, staged init
    metrics      confusion matrix, the paper's four metrics, per-class IoU, boundary band
    data/        VOC classes and colours, reading, dataset, transforms, download, teaching dataset
    training     loss, train_batch, train_epoch, train, evaluate, checkpoints
    inference    predict, predict_full (pad, tile), label2image
    experiments  seeded comparable runs, staged training, run tables
    viz/         figures: kernels, segmentation, curves, architecture
    widgets      interactive explorers (ipywidgets) over pure view functions

Where a new thing goes: a formula about sizes in ``shapes``; a layer or net in ``model``; a
number computed from predictions in ``metrics``; anything that draws in ``viz``.
"""

from __future__ import annotations

import importlib
from typing import Any

from .inference import label2image, predict, predict_full
from .metrics import ConfusionMatrix
from .model import fcn_resnet18
from .profiles import all_devices, autocast_dtype, best_device, profile
from .shapes import conv_output_size, conv_transpose_output_size, upsampling_params
from .training import evaluate, load_checkpoint, train
from .upsampling import bilinear_kernel, bilinear_upsample, overlap_map

__version__ = "0.1.0"

# Subpackages with heavier imports (ipywidgets, the figures) load on first use.
_LAZY_MODULES = ("data", "viz", "widgets", "experiments")


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'fcnlib' has no attribute {name!r}")


__all__ = [
    "conv_output_size",
    "conv_transpose_output_size",
    "upsampling_params",
    "bilinear_kernel",
    "bilinear_upsample",
    "overlap_map",
    "fcn_resnet18",
    "profile",
    "best_device",
    "all_devices",
    "autocast_dtype",
    "ConfusionMatrix",
    "train",
    "evaluate",
    "load_checkpoint",
    "predict",
    "predict_full",
    "label2image",
]
