"""Figures for the lessons, by topic: kernels, segmentation, curves, architecture (all gathered here)."""

from .architecture import *  # noqa: F401,F403
from .curves import *  # noqa: F401,F403
from .kernels import *  # noqa: F401,F403
from .segmentation import *  # noqa: F401,F403
