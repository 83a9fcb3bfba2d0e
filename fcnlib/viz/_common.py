"""Helpers shared by the figure modules."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import torch


def image_array(image: Any, normalized: bool | None = False) -> np.ndarray:
    """An array ``imshow`` draws as is: ``[H, W, 3]`` or ``[H, W]``, uint8 or float in [0, 1].

    ``image``: a tensor ``[C, H, W]`` (C = 1 or 3), an array ``[H, W, C]`` or ``[H, W]``, or a PIL
    image. Float pixels are denormalised (ImageNet statistics) when ``normalized`` is true, or when
    it is None and they leave [0, 1]; then clipped to [0, 1]. ValueError for any other shape.
    """
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu()
        if image.dim() == 3 and image.shape[0] in (1, 3) and image.shape[-1] not in (1, 3):
            image = image.permute(1, 2, 0)
        image = image.numpy()
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[-1] not in (3, 4)):
        raise ValueError(f"expected an image [3, H, W] (tensor), [H, W, 3] or [H, W], got shape {array.shape}")
    if np.issubdtype(array.dtype, np.floating):
        if (
            array.ndim == 3
            and array.shape[-1] == 3
            and (normalized or (normalized is None and (array.min() < 0 or array.max() > 1)))
        ):
            from ..data import denormalize

            return denormalize(torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)).permute(1, 2, 0).numpy()
        array = np.clip(array, 0, 1)
    return array


def no_ticks(axes: Iterable[Any]) -> None:
    """Remove the ticks of every axes (pictures, not plots)."""
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
