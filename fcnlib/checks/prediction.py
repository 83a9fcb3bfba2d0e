"""Checks about predicting whole images (chapter 5's exercises)."""

from __future__ import annotations

from ._say import MESSAGES, say  # noqa: F401

__all__: list[str] = []
