"""Checks about masks, thresholds and receptive fields (chapter 0's exercises)."""

from __future__ import annotations

from ._say import MESSAGES, say  # noqa: F401

__all__: list[str] = []
