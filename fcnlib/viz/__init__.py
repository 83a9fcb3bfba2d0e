"""Figures for the lessons. ``fcnlib.viz`` gathers the functions of its submodules:

* :mod:`fcnlib.viz.kernels`: kernels, scatter pictures, overlap maps, convolution matrices
* :mod:`fcnlib.viz.segmentation`: images, labels and predictions with colour legends
* :mod:`fcnlib.viz.curves`: training curves that update in place
* :mod:`fcnlib.viz.architecture`: the skip connections of FCN-32s, FCN-16s and FCN-8s
"""

from .architecture import *  # noqa: F401,F403
from .curves import *  # noqa: F401,F403
from .kernels import *  # noqa: F401,F403
from .segmentation import *  # noqa: F401,F403
