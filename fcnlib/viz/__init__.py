"""Figures for the lessons. ``fcnlib.viz`` gathers the functions of its submodules:

* :mod:`fcnlib.viz.upsampling`: kernels, scatter pictures, overlap maps, shapes
* :mod:`fcnlib.viz.segmentation`: images, labels and predictions with colour legends
* :mod:`fcnlib.viz.curves`: training curves that update in place
"""

from .upsampling import *  # noqa: F401,F403
from .segmentation import *  # noqa: F401,F403
from .curves import *  # noqa: F401,F403
