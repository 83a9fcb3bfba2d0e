"""fcnlib: the helper package of the fcn-notebooks lessons, from bilinear interpolation to a working Fully
Convolutional Network for semantic segmentation in PyTorch; the notebooks import only this package.

Modules by topic, each importing only those before it: profiles (settings, devices, every FCNLIB_* variable),
shapes, upsampling, weights, model, metrics, data/, training, inference, experiments, viz/ (figures), widgets.
A formula about sizes goes in ``shapes``, a layer or net in ``model``, a number computed from predictions in
``metrics``, anything that draws in ``viz``.
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
_LAZY_MODULES = ("data", "viz", "widgets", "experiments", "checks")


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'fcnlib' has no attribute {name!r}")


__all__ = ["conv_output_size", "conv_transpose_output_size", "upsampling_params", "bilinear_kernel"]
__all__ += ["bilinear_upsample", "overlap_map", "fcn_resnet18", "profile", "best_device", "all_devices"]
__all__ += ["autocast_dtype", "ConfusionMatrix", "train", "evaluate", "load_checkpoint", "predict", "predict_full"]
__all__ += ["label2image"]
