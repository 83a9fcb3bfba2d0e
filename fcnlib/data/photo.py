"""The bundled sample photo (matplotlib's ``grace_hopper.jpg``): no download needed."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch
from torch import Tensor

from ..shapes import as_pair


@lru_cache(maxsize=8)
def _photo(size: tuple[int, int] | None, face: bool) -> Tensor:
    import numpy as np
    from matplotlib import cbook
    from PIL import Image

    from .labels import pil_to_rgb

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        img = Image.fromarray(pil_to_rgb(Image.open(f)))
    if face:
        img = img.crop((96, 40, 416, 360))  # 320 x 320 around the face (the photo is 512 wide, 600 high)
    if size is not None:
        img = img.resize((size[1], size[0]), Image.BICUBIC)
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float() / 255


def sample_photo(size: int | Sequence[int] | None = None, face: bool = True) -> Tensor:
    """Grace Hopper's photo as float32 ``[3, H, W]`` in ``[0, 1]``: ``face`` crops a square around her face,
    ``size=(height, width)`` resizes (bicubic). ``TypeError``/``ValueError`` for a bad size."""
    return _photo(None if size is None else as_pair(size, "size", 1), bool(face)).clone()
