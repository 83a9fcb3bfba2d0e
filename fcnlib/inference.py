"""Inference: ``predict`` (the seed's), ``predict_full`` for images of any size (pad or tile),
and ``label2image`` (VOC colours).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .metrics import scores_to_labels
from .model import device_of
from .shapes import as_pair, check_int

__all__ = ["coarse_oracle", "MULTIPLE", "predict", "tile_starts", "full_scores", "predict_full", "label2image"]


def coarse_oracle(label: Tensor, stride: int, num_classes: int, ignore_index: int = 255) -> Tensor:
    """The argmax of perfect coarse scores: an upper bound for a net of output stride ``stride``.

    The score of class ``c`` in each ``stride x stride`` block is the share of the block's
    labelled pixels (``label [H, W]``, ``ignore_index`` not counted) that are ``c``; these are
    upsampled by :func:`fcnlib.bilinear_upsample` and cropped back. Returns int64 ``[H, W]``.
    ``ValueError`` for a non-integer label map or labels outside ``0 .. num_classes - 1``.
    """
    from .upsampling import bilinear_upsample

    if not isinstance(label, Tensor) or label.dim() != 2 or label.is_floating_point():
        raise ValueError(
            f"label must be an integer tensor [H, W], got "
            f"{tuple(label.shape) if isinstance(label, Tensor) else type(label).__name__}"
        )
    check_int(stride, "stride", 1)
    check_int(num_classes, "num_classes", 1)
    bad = (label != ignore_index) & ((label < 0) | (label >= num_classes))
    if bool(bad.any()):
        raise ValueError(
            f"label holds values {label[bad].unique()[:8].tolist()} outside 0..{num_classes - 1} "
            f"that are not ignore_index={ignore_index}"
        )
    h, w = label.shape
    valid = label != ignore_index
    onehot = torch.zeros(num_classes, h, w, dtype=torch.float64, device=label.device)
    onehot.scatter_(0, torch.where(valid, label, 0).long().unsqueeze(0), valid.double().unsqueeze(0))
    ph, pw = -(-h // stride) * stride, -(-w // stride) * stride
    onehot = F.pad(onehot, (0, pw - w, 0, ph - h))
    counts = F.pad(valid.double(), (0, pw - w, 0, ph - h))
    block_sums = onehot.reshape(num_classes, ph // stride, stride, pw // stride, stride).sum(dim=(2, 4))
    block_counts = counts.reshape(ph // stride, stride, pw // stride, stride).sum(dim=(1, 3)).clamp(min=1)
    shares = block_sums / block_counts  # [C, H / stride, W / stride]: the perfect coarse scores
    scores = bilinear_upsample(shares, stride)[:, :h, :w]
    return scores.argmax(dim=0)


MULTIPLE = 32
"""Input heights and widths must be multiples of this (the FCN's backbone downsamples 32 times)."""


@contextlib.contextmanager
def _eval_mode(net: nn.Module) -> Iterator[None]:
    """Run ``net`` in eval mode (batch norm uses running statistics), then restore its mode."""
    was_training = net.training
    net.eval()
    try:
        with torch.inference_mode():
            yield
    finally:
        net.train(was_training)


def _as_image(image: Any) -> Tensor:
    """``image`` as a uint8 ``[3, H, W]`` tensor (PIL images, ``[1, 3, H, W]`` batches of one accepted)."""
    try:
        from PIL import Image as PILImage
    except ImportError:  # pragma: no cover - pillow is a dependency
        PILImage = None
    if PILImage is not None and isinstance(image, PILImage.Image):
        from torchvision.transforms.v2.functional import pil_to_tensor

        return pil_to_tensor(image.convert("RGB"))
    if isinstance(image, np.ndarray):
        raise TypeError(
            "got a numpy array; pass a uint8 torch tensor [3, H, W] (torch.from_numpy(a).permute(2, 0, 1) for an "
            "[H, W, 3] array) or a PIL image"
        )
    if not isinstance(image, Tensor):
        raise TypeError(f"expected a uint8 tensor [3, H, W] or a PIL image, got {type(image).__name__}")
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(
            f"expected one RGB image [3, H, W], got shape {tuple(image.shape)}"
            + (" (channels last? use image.permute(2, 0, 1))" if image.dim() == 3 and image.shape[-1] == 3 else "")
        )
    if image.dtype != torch.uint8:
        raise TypeError(
            f"expected uint8 pixels 0..255 (as torchvision.io.read_image gives), got dtype {image.dtype}; "
            "prediction normalises the image itself, so do not pass a normalised tensor"
        )
    if image.shape[1] < 1 or image.shape[2] < 1:
        raise ValueError(f"the image is empty: shape {tuple(image.shape)}")
    return image


def _normalize(image: Tensor, device: torch.device) -> Tensor:
    from .data import normalize_image

    return normalize_image(image.to(device))


def _scores(net: nn.Module, x: Tensor) -> Tensor:
    if x.device.type in ("cpu", "cuda"):
        # oneDNN and cuDNN convolve "channels last" images faster (on a CPU the FCN's large
        # transposed convolution takes less than half the time); the net may stay as it is.
        x = x.contiguous(memory_format=torch.channels_last)
    out = net(x)
    if isinstance(out, dict) and "out" in out:  # torchvision's segmentation models
        out = out["out"]
    if not isinstance(out, Tensor) or out.dim() != 4 or out.shape[0] != x.shape[0] or out.shape[-2:] != x.shape[-2:]:
        shape = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(
            f"the net must return class scores [N, C, H, W] of its input's height and width; for input "
            f"{tuple(x.shape)} it returned {shape}"
        )
    return out


def predict(net: nn.Module, img: Any) -> Tensor:
    """The seed's ``predict``: class indices ``[H, W]`` (int64) for one uint8 image ``[3, H, W]``.

    The image is normalised (ImageNet mean and std) and batched here, and the net runs in
    eval mode. ``H`` and ``W`` must suit the net (multiples of 32 for the FCN); for any
    size use :func:`predict_full`. The result is on the image's device.
    """
    image = _as_image(img)
    device = device_of(net)
    with _eval_mode(net):
        scores = _scores(net, _normalize(image, device).unsqueeze(0))
    return scores_to_labels(scores[0], dim=0).to(image.device)


def _pad_amounts(size: int, target: int) -> tuple[int, int]:
    extra = target - size
    return extra // 2, extra - extra // 2


def _pad(x: Tensor, height: int, width: int, pad_mode: str) -> tuple[Tensor, tuple[int, int]]:
    """Pad ``x [C, H, W]`` to ``height x width``, centred; return it and the (top, left) offset."""
    h, w = x.shape[-2:]
    top, bottom = _pad_amounts(h, height)
    left, right = _pad_amounts(w, width)
    if top == bottom == left == right == 0:
        return x, (0, 0)
    mode = pad_mode
    if mode == "reflect" and (max(top, bottom) >= h or max(left, right) >= w):
        mode = "replicate"  # reflection needs more pixels than the padding is wide
    if mode == "constant":
        padded = F.pad(x, (left, right, top, bottom), mode="constant", value=0.0)
    else:
        padded = F.pad(x.unsqueeze(0), (left, right, top, bottom), mode=mode)[0]
    return padded, (top, left)


def tile_starts(size: int, crop: int, stride: int) -> list[int]:
    """Where windows of length ``crop`` start along an axis of length ``size`` (``size >= crop``).

    Every ``stride`` pixels, plus one window flush with the end, so the last pixels are
    covered without padding: ``tile_starts(500, 480, 240) == [0, 20]``.
    """
    if size <= crop:
        return [0]
    starts = list(range(0, size - crop, stride))
    return starts + [size - crop]


def full_scores(
    net: nn.Module,
    image: Any,
    crop_size: int | Sequence[int] = (320, 480),
    mode: str = "pad",
    stride: None | int | Sequence[int] = None,
    batch_size: int = 8,
    pad_mode: str = "reflect",
) -> Tensor:
    """Class scores ``[C, H, W]`` (float32, on the net's device) for every pixel of ``image``.

    ``net``: scores ``[N, C, h, w]`` for ``[N, 3, h, w]`` (``h``, ``w`` multiples of 32), e.g.
    :func:`fcnlib.fcn_resnet18`; it runs in eval mode, without gradients. ``image``: uint8
    ``[3, H, W]`` or a PIL image, any size. ``mode="pad"``: pad to multiples of 32 (``pad_mode``
    ``"reflect"``, ``"replicate"`` or ``"constant"``: zeros after normalisation), one pass, crop
    back. ``mode="tile"``: average overlapping ``crop_size`` windows (multiples of 32) placed
    ``stride`` apart (default half a window), ``batch_size`` per pass. ``ValueError`` or
    ``TypeError`` for other values, saying which.
    """
    if mode not in ("pad", "tile"):
        raise ValueError(f"mode must be 'pad' (pad to a multiple of 32) or 'tile' (overlapping crops), got {mode!r}")
    if pad_mode not in ("reflect", "constant", "replicate"):
        raise ValueError(f"pad_mode must be 'reflect', 'replicate' or 'constant', got {pad_mode!r}")
    check_int(batch_size, "batch_size", 1)
    image = _as_image(image)
    device = device_of(net)
    h, w = image.shape[-2:]
    with _eval_mode(net):
        x = _normalize(image, device)
        if mode == "pad":
            ph, pw = -(-h // MULTIPLE) * MULTIPLE, -(-w // MULTIPLE) * MULTIPLE
            padded, (top, left) = _pad(x, ph, pw, pad_mode)
            scores = _scores(net, padded.unsqueeze(0))[0]
            return scores[:, top : top + h, left : left + w].float()

        ch, cw = as_pair(crop_size, "crop_size", minimum=1)
        if ch % MULTIPLE or cw % MULTIPLE:
            raise ValueError(f"crop_size must be multiples of {MULTIPLE} for the FCN, got {(ch, cw)} (e.g. (320, 480))")
        sh, sw = as_pair(stride, "stride", minimum=1) if stride is not None else (max(ch // 2, 1), max(cw // 2, 1))
        if sh > ch or sw > cw:
            raise ValueError(
                f"stride {(sh, sw)} is larger than crop_size {(ch, cw)}: pixels between the windows "
                "would get no prediction"
            )
        # An image smaller than a window is padded up to one window first.
        padded, (top, left) = _pad(x, max(h, ch), max(w, cw), pad_mode)
        H, W = padded.shape[-2:]
        windows = [(t, c) for t in tile_starts(H, ch, sh) for c in tile_starts(W, cw, sw)]
        total: Tensor | None = None
        count = torch.zeros(H, W, device=device)
        for i in range(0, len(windows), batch_size):
            chunk = windows[i : i + batch_size]
            batch = torch.stack([padded[:, t : t + ch, c : c + cw] for t, c in chunk])
            out = _scores(net, batch).float()
            if total is None:
                total = torch.zeros(out.shape[1], H, W, device=device)
            for (t, c), s in zip(chunk, out, strict=False):
                total[:, t : t + ch, c : c + cw] += s
                count[t : t + ch, c : c + cw] += 1
        assert total is not None
        return (total / count)[:, top : top + h, left : left + w]


def predict_full(
    net: nn.Module, image: Any, crop_size: int | Sequence[int] = (320, 480), mode: str = "pad", **options: Any
) -> Tensor:
    """Class indices ``[H, W]`` (int64, on the CPU) for every pixel of an image of any size.

    Arguments and errors as :func:`full_scores`; this takes its argmax.
    """
    return scores_to_labels(full_scores(net, image, crop_size=crop_size, mode=mode, **options), dim=0).cpu()


def _default_colormap() -> list[list[int]]:
    from .data import VOC_COLORMAP

    return VOC_COLORMAP


def _void_color() -> tuple[int, int, int]:
    from .data.voc import VOID_COLOR

    return tuple(VOID_COLOR)


def label2image(pred: Any, colormap: Any | None = None, ignore_index: int | None = 255) -> Any:
    """The seed's ``label2image``: class indices ``[H, W]`` to their colours, uint8 ``[H, W, 3]``.

    A tensor gives a tensor on the same device, a numpy array a numpy array. ``colormap``
    (``K`` RGB triples) defaults to :data:`fcnlib.data.VOC_COLORMAP`; the ``ignore_index``
    (VOC's void, 255) is drawn in VOC's void colour. Any other index outside ``0..K-1``
    raises a ``ValueError``. Works for any leading shape (``[N, H, W]`` gives ``[N, H, W, 3]``).
    """
    colors = np.asarray(
        _default_colormap()
        if colormap is None
        else (colormap.cpu().numpy() if isinstance(colormap, Tensor) else colormap)
    )
    if colors.ndim != 2 or colors.shape[1] != 3 or colors.shape[0] < 1:
        raise ValueError(f"colormap must be a list of RGB triples (shape [K, 3]), got shape {colors.shape}")
    if colors.min() < 0 or colors.max() > 255:
        raise ValueError("colormap values must lie in 0..255")
    k = colors.shape[0]
    is_tensor = isinstance(pred, Tensor)
    if not is_tensor and not isinstance(pred, np.ndarray):
        raise TypeError(f"pred must be a tensor or numpy array of class indices, got {type(pred).__name__}")
    dtype = pred.dtype
    if (is_tensor and (dtype.is_floating_point or dtype.is_complex or dtype == torch.bool)) or (
        not is_tensor and not np.issubdtype(dtype, np.integer)
    ):
        raise TypeError(
            f"pred must hold integer class indices, got dtype {dtype}; take pred.argmax(dim=0) of scores first"
        )
    # One extra row for void, so the lookup below is a single gather.
    table = np.concatenate([colors, np.asarray([_void_color()])]).astype(np.uint8)
    if is_tensor:
        labels = pred.long()
        void = labels == ignore_index if ignore_index is not None else torch.zeros_like(labels, dtype=torch.bool)
        bad = ~void & ((labels < 0) | (labels >= k))
        if bool(bad.any()):
            raise ValueError(
                f"pred holds indices {labels[bad].unique()[:8].tolist()} outside the colormap's 0..{k - 1}"
            )
        lut = torch.from_numpy(table).to(labels.device)
        return lut[torch.where(void, k, labels)]
    labels = pred.astype(np.int64)
    void = labels == ignore_index if ignore_index is not None else np.zeros(labels.shape, dtype=bool)
    bad = ~void & ((labels < 0) | (labels >= k))
    if bad.any():
        raise ValueError(f"pred holds indices {np.unique(labels[bad])[:8].tolist()} outside the colormap's 0..{k - 1}")
    return table[np.where(void, k, labels)]
