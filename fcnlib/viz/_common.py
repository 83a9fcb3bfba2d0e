"""Helpers shared by the figure modules."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import torch

from ..data import denormalize


def image_array(image: Any, normalized: bool | None = False) -> np.ndarray:
    """``image`` (tensor ``[C, H, W]``, C = 1 or 3; array ``[H, W, C]`` or ``[H, W]``; PIL) as ``imshow`` draws it;
    floats denormalised (ImageNet) when ``normalized`` (None: when outside [0, 1]), then clipped. ValueError: shape."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu()
        if image.dim() == 3 and image.shape[0] in (1, 3) and image.shape[-1] not in (1, 3):
            image = image.permute(1, 2, 0)
    array = np.asarray(image.numpy() if isinstance(image, torch.Tensor) else image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ValueError(f"expected an image [3, H, W] (tensor), [H, W, 3] or [H, W], got shape {array.shape}")
    if not np.issubdtype(array.dtype, np.floating):
        return array
    rgb = array.ndim == 3 and array.shape[-1] == 3
    if rgb and (normalized or (normalized is None and (array.min() < 0 or array.max() > 1))):
        return denormalize(torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)).permute(1, 2, 0).numpy()
    return np.clip(array, 0, 1)


def png_bytes(fig: Any, dpi: float) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def use_course_style(dpi: int = 100) -> None:
    """The chapters' figure settings: ``dpi`` pixels per inch (stored PNGs too), text of 9 pt or more."""
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": dpi, "font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10})
    plt.rcParams.update({"xtick.labelsize": 9, "ytick.labelsize": 9, "legend.fontsize": 9, "figure.titlesize": 11})
