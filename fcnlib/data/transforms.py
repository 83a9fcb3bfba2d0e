"""Joint transforms: one crop and one flip applied to an image *and* its label (torchvision.transforms.v2,
the label wrapped as a ``tv_tensors.Mask``); images smaller than the crop are padded (image 0 after
normalisation, label 255: void); labels are never interpolated."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from ..shapes import as_pair
from .classes import IGNORE_INDEX

IMAGENET_MEAN = (0.485, 0.456, 0.406)
"""Per-channel mean of ImageNet's RGB images (in [0, 1]); d2l and torchvision use the same values."""
IMAGENET_STD = (0.229, 0.224, 0.225)
"""Per-channel standard deviation of ImageNet's RGB images (in [0, 1])."""


def _stats(x: Tensor) -> tuple[Tensor, Tensor]:
    shape = (3, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(shape)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(shape)
    return mean, std


def _check_rgb(x: Tensor, name: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} expects a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in (3, 4) or x.shape[-3] != 3:
        raise ValueError(f"{name} expects an RGB image [3, H, W] or a batch [N, 3, H, W], got shape {tuple(x.shape)}")


def normalize_image(image: Tensor, out: Tensor | None = None) -> Tensor:
    """``uint8`` (or float in [0, 1]) RGB ``[3, H, W]``/``[N, 3, H, W]`` to float32 ``(x / 255 - mean) / std``
    (ImageNet statistics); into ``out`` (float32, same shape) when given."""
    _check_rgb(image, "normalize_image")
    if out is None:
        out = torch.empty(image.shape, dtype=torch.float32, device=image.device)
    elif out.shape != image.shape or out.dtype != torch.float32:
        raise ValueError(
            f"out must be a float32 tensor of shape {tuple(image.shape)}, got {out.dtype} {tuple(out.shape)}"
        )
    # One pass converts to float32 *and* to contiguous memory (a [3, H, W] view of the
    # decoder's [H, W, 3] array would make every channel-wise operation stride through memory).
    x = out.copy_(image)
    mean, std = _stats(x)
    if image.dtype == torch.uint8:
        mean, std = mean * 255, std * 255  # (x / 255 - mean) / std == (x - 255 mean) / (255 std)
    return x.sub_(mean).div_(std)


def denormalize(image: Tensor) -> Tensor:
    """Undo :func:`normalize_image` for display: float RGB clipped to [0, 1] (``[3, H, W]`` or ``[N, 3, H, W]``)."""
    _check_rgb(image, "denormalize")
    if image.dtype == torch.uint8:
        raise TypeError(
            "denormalize expects the float output of normalize_image, got uint8 pixels (already displayable)"
        )
    x = image.float()
    mean, std = _stats(x)
    return (x * std + mean).clamp_(0, 1)


def pad_to_size(
    image: Tensor,
    label: Tensor,
    size: tuple[int, int],
    image_fill: float = 0.0,
    label_fill: int = IGNORE_INDEX,
) -> tuple[Tensor, Tensor]:
    """Pad ``image [C, H, W]`` and ``label [H, W]`` evenly on both sides to at least ``size = (height, width)``."""
    h, w = image.shape[-2:]
    dh, dw = max(size[0] - h, 0), max(size[1] - w, 0)
    if dh == 0 and dw == 0:
        return image, label
    # torchvision's order: [left, top, right, bottom].
    padding = [dw // 2, dh // 2, dw - dw // 2, dh - dh // 2]
    image = TF.pad(image, padding, fill=image_fill)
    label = TF.pad(tv_tensors.Mask(label), padding, fill=label_fill).as_subclass(Tensor)
    return image, label


class SegmentationTransform:
    """Pad if needed, crop (random or central) and optionally flip an (image, label) pair, with v2.

    Call with ``image [3, H, W]`` and ``label [H, W]``; returns plain tensors of ``crop_size``. With
    ``to_float`` and a ``uint8`` image only the crop is converted, unless padding is needed (then the
    image is converted first, so the padding is ``image_fill`` after normalisation).
    """

    def __init__(
        self,
        crop_size: int | Sequence[int],
        random_crop: bool = True,
        flip: bool = False,
        image_fill: float = 0.0,
    ) -> None:
        self.crop_size = as_pair(crop_size, "crop_size", 1)
        self.random_crop = bool(random_crop)
        self.flip = bool(flip)
        self.image_fill = float(image_fill)
        steps = [v2.RandomCrop(self.crop_size) if self.random_crop else v2.CenterCrop(self.crop_size)]
        if self.flip:
            steps.append(v2.RandomHorizontalFlip(p=0.5))
        self.transform = v2.Compose(steps)

    def __call__(
        self, image: Tensor, label: Tensor, to_float: Callable[[Tensor], Tensor] | None = None
    ) -> tuple[Tensor, Tensor]:
        if image.shape[-2:] != label.shape[-2:]:
            raise ValueError(f"image {tuple(image.shape)} and label {tuple(label.shape)} differ in height or width")
        if to_float is not None and self._needs_padding(image):
            image, to_float = to_float(image), None
        image, label = pad_to_size(image, label, self.crop_size, image_fill=self.image_fill)
        # One call on both, so that both receive the same crop position and the same flip.
        image, label = self.transform(tv_tensors.Image(image), tv_tensors.Mask(label))
        image, label = image.as_subclass(Tensor), label.as_subclass(Tensor)
        return (image if to_float is None else to_float(image)), label

    def crop(self, image: Tensor, label: Tensor, to_float: Callable[..., Tensor]) -> tuple[Tensor, Tensor]:
        """Like a call, but ``image`` stays ``uint8`` unless padded: draws the random numbers (loading thread)."""
        # The padding must be image_fill *after* conversion: then convert, pad, crop.
        return self(image, label, to_float=to_float if self._needs_padding(image) else None)

    def _needs_padding(self, image: Tensor) -> bool:
        return image.shape[-2] < self.crop_size[0] or image.shape[-1] < self.crop_size[1]

    @staticmethod
    def write(
        image: Tensor, label: Tensor, out_image: Tensor, out_label: Tensor, to_float: Callable[..., Tensor]
    ) -> None:
        """Write :meth:`crop`'s result into batch slots ``out_image`` (float32 ``[3, h, w]``) and ``out_label``."""
        if image.dtype == torch.uint8:
            to_float(image, out=out_image)
        else:
            out_image.copy_(image)
        out_label.copy_(label)

    def __repr__(self) -> str:
        kind = "random" if self.random_crop else "center"
        return f"SegmentationTransform(crop_size={self.crop_size}, {kind} crop, flip={self.flip})"


def void_to_background(label: Tensor, ignore_index: int = 255, background: int = 0) -> Tensor:
    """The label as d2l builds it: void (``ignore_index``) becomes ``background`` (d2l's colour table has no void)."""
    if not isinstance(label, Tensor):
        raise TypeError(f"label must be a torch.Tensor, got {type(label).__name__}")
    if label.is_floating_point():
        raise TypeError(f"label must be an integer tensor of class indices, got {label.dtype}")
    return torch.where(label == ignore_index, torch.full_like(label, background), label)
