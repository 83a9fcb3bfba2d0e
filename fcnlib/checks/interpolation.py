"""Checks about linear and bilinear interpolation (chapter 1's exercises)."""

from __future__ import annotations

from ._say import MESSAGES, say  # noqa: F401

__all__: list[str] = []
