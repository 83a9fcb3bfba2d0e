"""Inference: ``predict`` (d2l's), ``predict_full`` for any image size (pad or tile), ``label2image`` (VOC
colours) and ``coarse_oracle`` (what exact class shares on a coarse grid draw)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .metrics import scores_to_labels
from .model import device_of
from .shapes import Pair, as_pair, check_int, eval_mode
from .training import INVALID_WEIGHTS
from .upsampling import bilinear_upsample

MULTIPLE = 32  # input heights and widths must be multiples of this (the FCN's backbone downsamples 32 times)


def coarse_oracle(label: Tensor, stride: int, num_classes: int, ignore_index: int = 255) -> Tensor:
    """A yardstick for output stride ``stride``, not an upper bound (a net's scores need not be class shares): int64
    ``[H, W]``, the argmax of each class's share of each ``stride x stride`` block of int ``label [H, W]``,
    bilinearly upsampled (on the CPU, returned on the label's device). ``ValueError`` for bad labels."""
    if not isinstance(label, Tensor) or label.dim() != 2 or label.is_floating_point():
        got = tuple(label.shape) if isinstance(label, Tensor) else type(label).__name__
        raise ValueError(f"label must be an integer tensor [H, W], got {got}")
    check_int(stride, "stride", 1)
    check_int(num_classes, "num_classes", 1)
    bad = (label != ignore_index) & ((label < 0) | (label >= num_classes))
    if bool(bad.any()):
        values = label[bad].unique()[:8].tolist()
        raise ValueError(f"label values {values} are outside 0..{num_classes - 1} and not ignore_index={ignore_index}")
    (h, w), device, label = label.shape, label.device, label.cpu()  # float64 on the CPU (MPS has none)
    valid = label != ignore_index
    onehot = torch.zeros(num_classes, h, w, dtype=torch.float64)
    onehot.scatter_(0, torch.where(valid, label, 0).long().unsqueeze(0), valid.double().unsqueeze(0))
    ph, pw = -(-h // stride) * stride, -(-w // stride) * stride
    onehot = F.pad(onehot, (0, pw - w, 0, ph - h))
    counts = F.pad(valid.double(), (0, pw - w, 0, ph - h))
    block_sums = onehot.reshape(num_classes, ph // stride, stride, pw // stride, stride).sum(dim=(2, 4))
    block_counts = counts.reshape(ph // stride, stride, pw // stride, stride).sum(dim=(1, 3)).clamp(min=1)
    return bilinear_upsample(block_sums / block_counts, stride)[:, :h, :w].argmax(dim=0).to(device)


def _as_image(image: Any, device: torch.device) -> tuple[Tensor, torch.device]:
    """Uint8 ``image [3, H, W]`` (PIL, or a batch of one) normalised on ``device``, and the image's device."""
    from PIL import Image

    from .data import normalize_image
    from .data.labels import pil_to_rgb

    if isinstance(image, Image.Image):
        image = torch.from_numpy(pil_to_rgb(image)).permute(2, 0, 1)  # as a viewer shows it
    if isinstance(image, np.ndarray):
        raise TypeError("got a numpy array; pass torch.from_numpy(a).permute(2, 0, 1) for [H, W, 3] or a PIL image")
    if not isinstance(image, Tensor):
        raise TypeError(f"expected a uint8 tensor [3, H, W] or a PIL image, got {type(image).__name__}")
    if image.dim() == 4 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 3 or image.shape[0] != 3:
        hint = " (channels last? use image.permute(2, 0, 1))" if image.dim() == 3 and image.shape[-1] == 3 else ""
        raise ValueError(f"expected one RGB image [3, H, W], got shape {tuple(image.shape)}{hint}")
    if image.dtype != torch.uint8:
        raise TypeError(f"expected uint8 pixels 0..255 (as read_image gives, not normalised), got dtype {image.dtype}")
    if image.shape[1] < 1 or image.shape[2] < 1:
        raise ValueError(f"the image is empty: shape {tuple(image.shape)}")
    return normalize_image(image.to(device)), image.device


def _scores(net: nn.Module, x: Tensor) -> Tensor:
    if x.device.type in ("cpu", "cuda"):  # oneDNN and cuDNN convolve channels-last images faster
        x = x.contiguous(memory_format=torch.channels_last)
    out = net(x)
    out = out["out"] if isinstance(out, dict) and "out" in out else out  # torchvision's segmentation models
    if not isinstance(out, Tensor) or out.dim() != 4 or out.shape[0] != x.shape[0] or out.shape[-2:] != x.shape[-2:]:
        got = f"{tuple(x.shape)} gave {tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__}"
        raise ValueError(f"the net must return class scores [N, C, H, W] of its input's size; {got}")
    if not bool(torch.isfinite(out).all()):  # argmax would call every such pixel class 0
        raise ValueError(f"the net's scores are NaN or infinite: {INVALID_WEIGHTS}")
    return out


def predict(net: nn.Module, img: Any) -> Tensor:
    """d2l's ``predict``: int64 class indices ``[H, W]`` on the device of uint8 ``img [3, H, W]`` (normalised
    here; ``H``, ``W`` multiples of 32 for the FCN, else use :func:`predict_full`); the net runs in eval mode."""
    x, image_device = _as_image(img, device_of(net))
    with eval_mode(net):
        scores = _scores(net, x.unsqueeze(0))
    return scores_to_labels(scores[0], dim=0).to(image_device)


def _pad(x: Tensor, height: int, width: int, pad_mode: str) -> tuple[Tensor, tuple[int, int]]:
    """Pad ``x [C, H, W]`` to ``height x width``, centred; return it and the (top, left) offset."""
    h, w = x.shape[-2:]
    top, left = (height - h) // 2, (width - w) // 2
    bottom, right = height - h - top, width - w - left
    if pad_mode == "reflect" and (max(top, bottom) >= h or max(left, right) >= w):
        pad_mode = "replicate"  # reflection needs more pixels than the padding is wide
    return F.pad(x.unsqueeze(0), (left, right, top, bottom), mode=pad_mode)[0], (top, left)


def tile_starts(size: int, crop: int, stride: int) -> list[int]:
    """Starts of ``crop``-long windows on a ``size``-long axis: every ``stride`` pixels and one flush with the end."""
    return [*range(0, size - crop, stride), size - crop] if size > crop else [0]


def _tile_scores(net: nn.Module, x: Tensor, crop: tuple[int, int], stride: tuple[int, int], batch_size: int) -> Tensor:
    """Scores ``[C, H, W]`` of ``x [3, H, W]`` (at least one window), averaged over overlapping windows."""
    (ch, cw), (H, W) = crop, x.shape[-2:]
    windows = [(t, c) for t in tile_starts(H, ch, stride[0]) for c in tile_starts(W, cw, stride[1])]
    total: Tensor | None = None
    count = torch.zeros(H, W, device=x.device)
    for i in range(0, len(windows), batch_size):
        chunk = windows[i : i + batch_size]
        out = _scores(net, torch.stack([x[:, t : t + ch, c : c + cw] for t, c in chunk])).float()
        if total is None:
            total = torch.zeros(out.shape[1], H, W, device=x.device)
        for (t, c), s in zip(chunk, out, strict=True):
            total[:, t : t + ch, c : c + cw] += s
            count[t : t + ch, c : c + cw] += 1
    return total / count


def full_scores(
    net: nn.Module, image: Any, crop_size=(320, 480), mode="pad", stride=None, batch_size=8, pad_mode="reflect"
) -> Tensor:
    """Float32 scores ``[C, H, W]`` on the net's device for uint8 ``image [3, H, W]`` (or PIL) of any size, the net
    in eval mode. ``mode="pad"``: one pass padded (``pad_mode``) to multiples of 32; ``"tile"``: the average of
    ``crop_size`` windows ``stride`` apart (default half a window), ``batch_size`` per pass."""
    if mode not in ("pad", "tile"):
        raise ValueError(f"mode must be 'pad' (pad to a multiple of 32) or 'tile' (overlapping crops), got {mode!r}")
    if pad_mode not in ("reflect", "constant", "replicate"):
        raise ValueError(f"pad_mode must be 'reflect', 'replicate' or 'constant', got {pad_mode!r}")
    check_int(batch_size, "batch_size", 1)
    x = _as_image(image, device_of(net))[0]
    h, w = x.shape[-2:]
    with eval_mode(net):
        if mode == "pad":
            padded, (top, left) = _pad(x, -(-h // MULTIPLE) * MULTIPLE, -(-w // MULTIPLE) * MULTIPLE, pad_mode)
            return _scores(net, padded.unsqueeze(0))[0, :, top : top + h, left : left + w].float()
        ch, cw = as_pair(crop_size, "crop_size", minimum=1)
        if ch % MULTIPLE or cw % MULTIPLE:
            raise ValueError(f"crop_size must be multiples of {MULTIPLE} for the FCN, got {(ch, cw)} (e.g. (320, 480))")
        sh, sw = as_pair(stride, "stride", minimum=1) if stride is not None else (max(ch // 2, 1), max(cw // 2, 1))
        if sh > ch or sw > cw:
            raise ValueError(f"stride {(sh, sw)} > crop_size {(ch, cw)} leaves pixels between windows unpredicted")
        padded, (top, left) = _pad(x, max(h, ch), max(w, cw), pad_mode)  # at least one window
        return _tile_scores(net, padded, (ch, cw), (sh, sw), batch_size)[:, top : top + h, left : left + w]


def predict_full(net: nn.Module, image: Any, crop_size: Pair = (320, 480), mode: str = "pad", **options: Any) -> Tensor:
    """Class indices int64 ``[H, W]`` on the CPU for an image of any size: :func:`full_scores`' argmax."""
    return scores_to_labels(full_scores(net, image, crop_size=crop_size, mode=mode, **options), dim=0).cpu()


def label2image(pred: Any, colormap: Any | None = None, ignore_index: int | None = 255) -> Any:
    """d2l's ``label2image``: int indices ``[..., H, W]`` (tensor or numpy) to uint8 colours ``[..., H, W, 3]``,
    same kind and device; ``colormap``: ``K`` RGB triples (default VOC's); ``ignore_index``: VOC's void colour."""
    from .data.classes import VOC_COLORMAP, VOID_COLOR

    colormap = VOC_COLORMAP if colormap is None else colormap
    colors = np.asarray(colormap.cpu() if isinstance(colormap, Tensor) else colormap)
    if colors.ndim != 2 or colors.shape[1] != 3 or colors.shape[0] < 1:
        raise ValueError(f"colormap must be a list of RGB triples (shape [K, 3]), got shape {colors.shape}")
    if colors.min() < 0 or colors.max() > 255:
        raise ValueError("colormap values must lie in 0..255")
    is_tensor = isinstance(pred, Tensor)
    if not is_tensor and not isinstance(pred, np.ndarray):
        raise TypeError(f"pred must be a tensor or numpy array of class indices, got {type(pred).__name__}")
    labels = pred if is_tensor else torch.as_tensor(pred)
    if labels.dtype.is_floating_point or labels.dtype.is_complex or labels.dtype == torch.bool:
        raise TypeError(f"pred must hold integer class indices, got {pred.dtype}; take the argmax of scores first")
    k, labels = colors.shape[0], labels.long()
    void = labels == ignore_index if ignore_index is not None else torch.zeros_like(labels, dtype=torch.bool)
    bad = ~void & ((labels < 0) | (labels >= k))
    if bool(bad.any()):
        raise ValueError(f"pred holds indices {labels[bad].unique()[:8].tolist()} outside the colormap's 0..{k - 1}")
    table = torch.from_numpy(np.concatenate([colors, [VOID_COLOR]]).astype(np.uint8))  # last row: void
    out = table.to(labels.device)[torch.where(void, k, labels)]
    return out if is_tensor else out.numpy()
