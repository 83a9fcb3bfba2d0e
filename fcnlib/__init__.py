"""fcnlib: the helper package of the fcn-notebooks lessons.

From bilinear interpolation to a working Fully Convolutional Network (FCN) for
semantic segmentation in PyTorch. The notebooks import only this package; every
function here is documented and tested. Modules, lowest first::

    arithmetic  output-size formulas for conv and transposed conv
    upsampling  bilinear kernel and upsampling, overlap maps (checkerboard artifacts)
    models      FCN-32s/16s/8s on ResNet-18
    data        Pascal VOC2012 download and reading, the generated teaching dataset
    metrics     confusion matrix -> pixel accuracy, mean accuracy, mean IoU, f.w. IoU
    train       training and evaluation loops with progress, curves and checkpoints
    predict     prediction for images of any size, VOC colours
    viz         figures
    widgets     interactive explorers (ipywidgets) over the functions above
    profiles    quick (CPU) and full (GPU) settings
"""

from __future__ import annotations

import importlib
from typing import Any

from ._repo import REPOSITORY, BRANCH, colab_url, colab_badge_markdown, colab_install_command
from .arithmetic import conv_output_size, conv_transpose_output_size, upsampling_params
from .upsampling import bilinear_kernel, bilinear_upsample, overlap_map
from .models import fcn_resnet18
from .profiles import profile, best_device, all_devices

__version__ = "0.1.0"

# `train` and `predict` are both functions and modules (train.py, predict.py). Importing the
# modules here, before binding the functions, makes the functions win for good: a later
# `import fcnlib.train` finds the module already loaded and leaves `fcnlib.train` alone.
from .metrics import ConfusionMatrix
from .train import train, evaluate
from .predict import predict, predict_full, label2image

# Subpackages with heavier imports (ipywidgets, the figures) load on first use.
_LAZY_MODULES = ("data", "viz", "widgets")


def __getattr__(name: str) -> Any:
    if name in _LAZY_MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'fcnlib' has no attribute {name!r}")


__all__ = [
    "REPOSITORY", "BRANCH", "colab_url", "colab_badge_markdown", "colab_install_command",
    "conv_output_size", "conv_transpose_output_size", "upsampling_params",
    "bilinear_kernel", "bilinear_upsample", "overlap_map",
    "fcn_resnet18", "profile", "best_device", "all_devices",
    "ConfusionMatrix", "train", "evaluate", "predict", "predict_full", "label2image",
]
