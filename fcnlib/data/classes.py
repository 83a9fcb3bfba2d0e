"""Pascal VOC2012's class names, their colours, and the PNG palette of its label files."""

from __future__ import annotations

VOC_CLASSES: list[str] = [  # index 0 first, d2l's order and spelling
    "background", "aeroplane", "bicycle", "bird", "boat",
    "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person",
    "potted plant", "sheep", "sofa", "train", "tv/monitor",
]  # fmt: skip
IGNORE_INDEX = 255  # the label of void pixels (object outlines, padding): ignored by losses and metrics


def voc_palette() -> list[int]:
    """VOC's 256-colour palette, flat ``[r0, g0, b0, r1, ...]`` (PIL's ``putpalette``); index bits spread over R, G, B."""
    # Bit 3b + c of the index becomes bit 7 - b of channel c.
    return [sum(((i >> (3 * b + c)) & 1) << (7 - b) for b in range(8)) for i in range(256) for c in range(3)]


VOC_COLORMAP: list[list[int]] = [voc_palette()[3 * i : 3 * i + 3] for i in range(len(VOC_CLASSES))]  # d2l's
VOID_COLOR = tuple(voc_palette()[3 * 255 :])  # (224, 224, 192), the colour of void (index 255)
