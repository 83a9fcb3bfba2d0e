"""Figures for the lessons, by topic: kernels, segmentation, score maps, curves, architecture, history (all gathered
here)."""

from ._common import use_course_style  # noqa: F401
from .architecture import *  # noqa: F401,F403
from .curves import *  # noqa: F401,F403
from .errors import *  # noqa: F401,F403
from .fusion import *  # noqa: F401,F403
from .history import *  # noqa: F401,F403
from .kernels import *  # noqa: F401,F403
from .photos import *  # noqa: F401,F403
from .scores import *  # noqa: F401,F403
from .segmentation import *  # noqa: F401,F403
