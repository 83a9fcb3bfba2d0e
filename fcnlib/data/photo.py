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


# Grace Hopper's outline in the full photo (512 wide, 600 high): 26 corners (x, y), clicked by hand.
HOPPER_OUTLINE = (
    (20, 600), (25, 450), (45, 395), (90, 355), (150, 330), (165, 300), (155, 250), (145, 215), (140, 160),
    (140, 120), (160, 80), (200, 45), (245, 30), (295, 40), (330, 70), (350, 115), (345, 165), (335, 210),
    (330, 260), (320, 300), (345, 320), (400, 345), (450, 375), (490, 420), (512, 450), (512, 600),
)  # fmt: skip


def person_mask() -> Tensor:
    """The hand label of ``sample_photo(face=False)``: bool ``[600, 512]``, True where a pixel's centre
    ``(x + 0.5, y + 0.5)`` lies inside :data:`HOPPER_OUTLINE` (matplotlib's ``Path.contains_points``)."""
    import numpy as np
    from matplotlib.path import Path

    yy, xx = np.mgrid[:600, :512]
    inside = Path(HOPPER_OUTLINE).contains_points(np.c_[xx.ravel() + 0.5, yy.ravel() + 0.5])
    return torch.from_numpy(inside.reshape(600, 512))


def two_person_scene() -> tuple[Tensor, Tensor]:
    """The photo at half size (antialiased bilinear) beside its mirror image, two people of one class.
    Returns ``scene``, float32 ``[3, 300, 512]`` in ``[0, 1]``, and ``instances``, int64 ``[300, 512]``:
    0 background, 1 the person on the left, 2 the mirrored one (:func:`person_mask`, every second pixel)."""
    photo = sample_photo(face=False)[None]  # [1, 3, 600, 512]
    half = torch.nn.functional.interpolate(photo, size=(300, 256), mode="bilinear", antialias=True)[0]
    mask = person_mask()[::2, ::2].long()  # [300, 256]
    return torch.cat([half, half.flip(-1)], dim=-1), torch.cat([mask, 2 * mask.flip(-1)], dim=-1)
