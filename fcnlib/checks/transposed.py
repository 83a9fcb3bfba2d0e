"""Checks about transposed convolution and output sizes (chapter 2's exercises)."""

from __future__ import annotations

from ._say import MESSAGES, say  # noqa: F401

__all__: list[str] = []
