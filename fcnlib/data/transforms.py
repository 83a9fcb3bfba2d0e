"""Joint transforms: one crop and one flip applied to an image *and* its label (torchvision.transforms.v2,
the label a ``tv_tensors.Mask``, never interpolated); ImageNet normalisation."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from ..shapes import as_pair
from .classes import IGNORE_INDEX

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # per channel, of ImageNet's RGB images in [0, 1] (d2l's, torchvision's)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _stats(x: Tensor, name: str) -> tuple[Tensor, Tensor]:
    """ImageNet's mean and std as ``[3, 1, 1]`` in ``x``'s dtype and device, after checking ``x`` is RGB."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} expects a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in (3, 4) or x.shape[-3] != 3:
        raise ValueError(f"{name} expects an RGB image [3, H, W] or a batch [N, 3, H, W], got shape {tuple(x.shape)}")
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32, device=x.device).view(3, 1, 1)
    return mean, torch.tensor(IMAGENET_STD, dtype=torch.float32, device=x.device).view(3, 1, 1)


def normalize_image(image: Tensor, out: Tensor | None = None) -> Tensor:
    """``uint8`` (or float in [0, 1]) RGB ``[3, H, W]``/``[N, 3, H, W]`` to float32 ``(x / 255 - mean) / std``
    (ImageNet statistics); into ``out`` (float32, same shape) when given. ``TypeError`` for other dtypes,
    ``ValueError`` for floats outside [0, 1] (0..255 floats, or an image normalised already)."""
    mean, std = _stats(image, "normalize_image")
    if image.dtype != torch.uint8 and not image.is_floating_point():
        raise TypeError(f"normalize_image expects uint8 pixels 0..255 or floats in [0, 1], got {image.dtype}")
    if image.is_floating_point() and image.numel():
        lo, hi = (float(v) for v in image.aminmax())
        if lo < -1e-3 or hi > 1 + 1e-3:
            hint = "pass image / 255" if lo >= 0 and hi <= 255 else "pass the uint8 image (normalised already?)"
            raise ValueError(f"normalize_image expects floats in [0, 1], got {lo:.3g} to {hi:.3g}: {hint}")
    if out is None:
        out = torch.empty(image.shape, dtype=torch.float32, device=image.device)
    elif out.shape != image.shape or out.dtype != torch.float32:
        raise ValueError(f"out must be float32 of shape {tuple(image.shape)}, got {out.dtype} {tuple(out.shape)}")
    x = out.copy_(image)  # float32 and contiguous in one pass (the decoder's [H, W, 3] view is not)
    if image.dtype == torch.uint8:
        mean, std = mean * 255, std * 255  # (x / 255 - mean) / std == (x - 255 mean) / (255 std)
    return x.sub_(mean.to(x.device)).div_(std.to(x.device))


def denormalize(image: Tensor) -> Tensor:
    """Undo :func:`normalize_image` for display: float RGB clipped to [0, 1] (``[3, H, W]`` or ``[N, 3, H, W]``)."""
    mean, std = _stats(image, "denormalize")
    if image.dtype == torch.uint8:
        raise TypeError(
            "denormalize expects the float output of normalize_image, got uint8 pixels (displayable as they are)"
        )
    return (image.float() * std + mean).clamp_(0, 1)


class SegmentationTransform:
    """Pad if needed (evenly; image 0, label 255), crop (random or central), optionally flip an (image ``[3, H, W]``,
    label ``[H, W]``) pair with v2 into plain tensors of ``crop_size``. ``to_float`` converts the crop, or the image
    before padding (so the padding is 0 after normalisation)."""

    def __init__(self, crop_size: int | Sequence[int], random_crop: bool = True, flip: bool = False) -> None:
        self.crop_size = as_pair(crop_size, "crop_size", 1)
        self.random_crop, self.flip = bool(random_crop), bool(flip)
        steps = [v2.RandomCrop(self.crop_size) if self.random_crop else v2.CenterCrop(self.crop_size)]
        self.transform = v2.Compose(steps + ([v2.RandomHorizontalFlip(p=0.5)] if self.flip else []))

    def __call__(self, image: Tensor, label: Tensor, to_float: Callable | None = None) -> tuple[Tensor, Tensor]:
        if image.shape[-2:] != label.shape[-2:]:
            raise ValueError(f"image {tuple(image.shape)} and label {tuple(label.shape)} differ in height or width")
        dh, dw = (max(c - n, 0) for c, n in zip(self.crop_size, image.shape[-2:]))
        if dh or dw:
            if to_float is not None:
                image, to_float = to_float(image), None
            padding = [dw // 2, dh // 2, dw - dw // 2, dh - dh // 2]  # left, top, right, bottom
            image = TF.pad(image, padding, fill=0.0)
            label = TF.pad(tv_tensors.Mask(label), padding, fill=IGNORE_INDEX).as_subclass(Tensor)
        # One call on both, so that both receive the same crop position and the same flip.
        image, label = self.transform(tv_tensors.Image(image), tv_tensors.Mask(label))
        image, label = image.as_subclass(Tensor), label.as_subclass(Tensor)
        return (image if to_float is None else to_float(image)), label

    def crop(self, image: Tensor, label: Tensor, to_float: Callable[..., Tensor]) -> tuple[Tensor, Tensor]:
        """Like a call, but ``image`` stays ``uint8`` unless padded (then converted, padded, cropped)."""
        padded = image.shape[-2] < self.crop_size[0] or image.shape[-1] < self.crop_size[1]
        return self(image, label, to_float=to_float if padded else None)

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
