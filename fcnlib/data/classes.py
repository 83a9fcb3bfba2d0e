"""Pascal VOC2012's classes, their colours, and the PNG palette of its label files."""

from __future__ import annotations

VOC_CLASSES: list[str] = [
    "background", "aeroplane", "bicycle", "bird", "boat",
    "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person",
    "potted plant", "sheep", "sofa", "train", "tv/monitor",
]  # fmt: skip
"""The 21 class names, index 0 first (d2l's order and spelling)."""

IGNORE_INDEX = 255
"""The label of void pixels (object outlines, padding): ignored by losses and metrics."""


def voc_palette() -> list[int]:
    """VOC's 256-colour palette, flat ``[r0, g0, b0, r1, ...]`` (PIL's ``putpalette``); index bits spread over R, G, B."""
    palette = []
    for index in range(256):
        r = g = b = 0
        c = index
        for shift in range(7, -1, -1):
            r |= (c & 1) << shift
            g |= ((c >> 1) & 1) << shift
            b |= ((c >> 2) & 1) << shift
            c >>= 3
        palette.extend((r, g, b))
    return palette


VOC_COLORMAP: list[list[int]] = [voc_palette()[3 * i : 3 * i + 3] for i in range(len(VOC_CLASSES))]
"""RGB colour of each class in VOC's label images (the palette's first 21 entries; d2l's values)."""
VOID_COLOR = tuple(voc_palette()[3 * 255 :])
"""The colour of index 255 (void) in VOC's palette: (224, 224, 192)."""
