"""The bundled sample photo (matplotlib's ``grace_hopper.jpg``): no download needed."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch
from torch import Tensor


@lru_cache(maxsize=8)
def _photo(size: tuple[int, int] | None, face: bool) -> Tensor:
    import numpy as np
    from matplotlib import cbook
    from PIL import Image

    with cbook.get_sample_data("grace_hopper.jpg") as f:
        img = Image.open(f).convert("RGB")
        img.load()
    if face:
        # A square crop around the face (the photo is 512 wide, 600 high).
        img = img.crop((96, 40, 416, 360))
    if size is not None:
        img = img.resize((size[1], size[0]), Image.BICUBIC)
    return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).float() / 255


def sample_photo(size: Sequence[int] | None = None, face: bool = True) -> Tensor:
    """Matplotlib's bundled photo of Grace Hopper as a ``[3, H, W]`` float tensor in ``[0, 1]``.

    It ships with matplotlib, so no download is needed. ``face=True`` crops a square around
    her face; ``size=(height, width)`` resizes (bicubic) to that many pixels, which keeps
    interactive pictures quick (a 32 x 32 face upsampled 8 times is still only 256 x 256).
    """
    if size is not None:
        size = tuple(int(s) for s in size)
        if len(size) != 2 or min(size) < 1:
            raise ValueError(f"size must be (height, width) with positive ints, got {size!r}")
    return _photo(size, bool(face)).clone()
