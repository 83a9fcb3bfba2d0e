"""Joint transforms for segmentation: one crop, one flip, applied to the image *and* its label.

In classification an augmentation only touches the image. In segmentation every pixel of
the label belongs to a pixel of the image, so a crop or a flip must move both in exactly
the same way, or the network is taught that a cat's ear is "background". torchvision's
``transforms.v2`` does this for us: we wrap the image as a ``tv_tensors.Image`` and the
label as a ``tv_tensors.Mask`` and pass them *together* through one transform, which draws
its random numbers once and applies them to both.

Two details are specific to segmentation:

* **Padding.** An image smaller than the crop is padded first, so that no image has to
  be thrown away (d2l drops every image smaller than the crop: 350 of VOC's 1464 training
  images at 320x480). The image is padded *after* normalisation with 0, the mean colour,
  and the label with 255, the "void" index that losses and metrics ignore: the network is
  never asked to predict anything on the padding.
* **Interpolation.** Labels are class indices, not intensities: a label may be cropped
  and flipped, but never interpolated (halfway between "cat" (8) and "dog" (12) is not
  "cow" (10)). Crops and flips move pixels without mixing them, so they are safe.
"""

from __future__ import annotations

from typing import Callable, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

__all__ = ['IMAGENET_MEAN', 'IMAGENET_STD', 'IGNORE_INDEX', 'normalize_image', 'denormalize', 'pad_to_size', 'SegmentationTransform', 'void_to_background']


IMAGENET_MEAN = (0.485, 0.456, 0.406)
"""Per-channel mean of ImageNet's RGB images (in [0, 1]); d2l and torchvision use the same values."""
IMAGENET_STD = (0.229, 0.224, 0.225)
"""Per-channel standard deviation of ImageNet's RGB images (in [0, 1])."""
IGNORE_INDEX = 255
"""The label index of "void" pixels (object outlines, padding): ignored by losses and metrics."""


def _stats(x: Tensor) -> Tuple[Tensor, Tensor]:
    shape = (3, 1, 1)
    mean = torch.tensor(IMAGENET_MEAN, dtype=x.dtype, device=x.device).view(shape)
    std = torch.tensor(IMAGENET_STD, dtype=x.dtype, device=x.device).view(shape)
    return mean, std


def _check_rgb(x: Tensor, name: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} expects a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in (3, 4) or x.shape[-3] != 3:
        raise ValueError(f"{name} expects an RGB image [3, H, W] or a batch [N, 3, H, W], got shape {tuple(x.shape)}")


def normalize_image(image: Tensor, out: Optional[Tensor] = None) -> Tensor:
    """Turn ``uint8`` RGB pixels into the float input a ResNet expects: ``(x / 255 - mean) / std``.

    Works on one image ``[3, H, W]`` or a batch ``[N, 3, H, W]``. After this, every
    channel has roughly zero mean and unit variance over ImageNet, the statistics the
    backbone was trained with. A float input is taken to be in [0, 1] already.

    ``out`` (float32, the same shape) receives the result instead of a new tensor: a
    data loader can write each image straight into its slot of the batch.
    """
    _check_rgb(image, "normalize_image")
    if out is None:
        out = torch.empty(image.shape, dtype=torch.float32, device=image.device)
    elif out.shape != image.shape or out.dtype != torch.float32:
        raise ValueError(f"out must be a float32 tensor of shape {tuple(image.shape)}, got {out.dtype} {tuple(out.shape)}")
    # One pass converts to float32 *and* to contiguous memory (a [3, H, W] view of the
    # decoder's [H, W, 3] array would make every channel-wise operation stride through memory).
    x = out.copy_(image)
    mean, std = _stats(x)
    if image.dtype == torch.uint8:
        mean, std = mean * 255, std * 255  # (x / 255 - mean) / std == (x - 255 mean) / (255 std)
    return x.sub_(mean).div_(std)


def denormalize(image: Tensor) -> Tensor:
    """Undo :func:`normalize_image` for display: float RGB in [0, 1] (``[3, H, W]`` or ``[N, 3, H, W]``).

    Values are clipped to [0, 1], so padding (0 after normalisation) shows as the mean
    colour, a dull grey-brown.
    """
    _check_rgb(image, "denormalize")
    if image.dtype == torch.uint8:
        raise TypeError("denormalize expects the float output of normalize_image, got uint8 pixels (already displayable)")
    x = image.float()
    mean, std = _stats(x)
    return (x * std + mean).clamp_(0, 1)


def _as_size(size: Union[int, Sequence[int]], name: str = "crop_size") -> Tuple[int, int]:
    if isinstance(size, bool):
        raise TypeError(f"{name} must be an int or a (height, width) pair, got {size!r}")
    if isinstance(size, int):
        size = (size, size)
    try:
        h, w = (int(s) for s in size)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be an int or a (height, width) pair, got {size!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"{name} must be positive, got {(h, w)}")
    return h, w


def pad_to_size(
    image: Tensor,
    label: Tensor,
    size: Tuple[int, int],
    image_fill: float = 0.0,
    label_fill: int = IGNORE_INDEX,
) -> Tuple[Tensor, Tensor]:
    """Pad ``image [C, H, W]`` and ``label [H, W]`` to at least ``size = (height, width)``.

    The padding is split evenly between the two sides (the image stays centred); sides
    that are already large enough are left alone. The image is filled with
    ``image_fill`` (0: the mean colour once normalised), the label with ``label_fill``
    (255: void, ignored by the loss).
    """
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
    """Pad if needed, crop (random or central) and optionally flip an (image, label) pair.

    Args:
        crop_size: ``(height, width)`` of the output (an int means a square).
        random_crop: ``True`` draws the crop's position at random (training);
            ``False`` takes the central crop, so evaluation is repeatable.
        flip: flip image and label left-right together with probability 1/2.
        image_fill: value for padded image pixels (0: the mean colour after normalisation).

    Call it with ``image [3, H, W]`` and ``label [H, W]``; it returns plain tensors of size
    ``crop_size``. Pass ``to_float`` (e.g. :func:`normalize_image`) with a ``uint8`` image to
    have it converted: when no padding is needed the crop is taken first and only the
    crop is converted (the same numbers, less work); otherwise the whole image is
    converted first, so that the padding is ``image_fill`` *after* normalisation.
    """

    def __init__(
        self,
        crop_size: Union[int, Sequence[int]],
        random_crop: bool = True,
        flip: bool = False,
        image_fill: float = 0.0,
    ) -> None:
        self.crop_size = _as_size(crop_size)
        self.random_crop = bool(random_crop)
        self.flip = bool(flip)
        self.image_fill = float(image_fill)
        steps = [v2.RandomCrop(self.crop_size) if self.random_crop else v2.CenterCrop(self.crop_size)]
        if self.flip:
            steps.append(v2.RandomHorizontalFlip(p=0.5))
        self.transform = v2.Compose(steps)

    def __call__(
        self, image: Tensor, label: Tensor, to_float: Optional[Callable[[Tensor], Tensor]] = None
    ) -> Tuple[Tensor, Tensor]:
        if image.shape[-2:] != label.shape[-2:]:
            raise ValueError(f"image {tuple(image.shape)} and label {tuple(label.shape)} differ in height or width")
        if to_float is not None and self._needs_padding(image):
            image, to_float = to_float(image), None
        image, label = pad_to_size(image, label, self.crop_size, image_fill=self.image_fill)
        # One call on both, so that both receive the same crop position and the same flip.
        image, label = self.transform(tv_tensors.Image(image), tv_tensors.Mask(label))
        image, label = image.as_subclass(Tensor), label.as_subclass(Tensor)
        return (image if to_float is None else to_float(image)), label

    def crop(self, image: Tensor, label: Tensor, to_float: Callable[..., Tensor]) -> Tuple[Tensor, Tensor]:
        """Like a call, but ``image`` stays ``uint8`` unless the crop needs padding.

        The first half of filling a batch slot (:meth:`write` is the second): this half
        draws the random numbers, so it runs in order on the loading thread; the
        conversion to float can then run on any thread, straight into the batch.
        """
        # The padding must be image_fill *after* conversion: then convert, pad, crop.
        return self(image, label, to_float=to_float if self._needs_padding(image) else None)

    def _needs_padding(self, image: Tensor) -> bool:
        return image.shape[-2] < self.crop_size[0] or image.shape[-1] < self.crop_size[1]

    @staticmethod
    def write(image: Tensor, label: Tensor, out_image: Tensor, out_label: Tensor,
              to_float: Callable[..., Tensor]) -> None:
        """Write what :meth:`crop` returned into a batch slot: ``out_image`` float32 ``[3, h, w]``,
        ``out_label`` ``[h, w]`` of the dtype the loss wants (int64); ``to_float(x, out=...)``
        converts a ``uint8`` crop into the slot. A batch is then one allocation instead of one
        per image plus a copy into the stacked batch."""
        if image.dtype == torch.uint8:
            to_float(image, out=out_image)
        else:
            out_image.copy_(image)
        out_label.copy_(label)

    def __repr__(self) -> str:
        kind = "random" if self.random_crop else "center"
        return f"SegmentationTransform(crop_size={self.crop_size}, {kind} crop, flip={self.flip})"


def void_to_background(label: Tensor, ignore_index: int = 255, background: int = 0) -> Tensor:
    """The label map as d2l builds it: every ``ignore_index`` ("void") pixel becomes ``background``.

    Pascal VOC draws a 5-pixel "void" outline (colour (224, 224, 192)) around every object,
    where the annotators were unsure. fcnlib keeps it as 255 and the loss and metrics skip
    it. d2l's ``voc_label_indices`` looks colours up in a table that has no entry for void,
    and the table's default is 0, so d2l trains the net to call object outlines
    "background". Use this function to reproduce that behaviour for a comparison.
    """
    if not isinstance(label, Tensor):
        raise TypeError(f"label must be a torch.Tensor, got {type(label).__name__}")
    if label.is_floating_point():
        raise TypeError(f"label must be an integer tensor of class indices, got {label.dtype}")
    return torch.where(label == ignore_index, torch.full_like(label, background), label)
