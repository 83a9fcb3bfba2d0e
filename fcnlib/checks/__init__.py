"""Checks of the learner's answers in the chapters' "Your turn" cells, by topic.

Each check compares an answer with an independent reference and prints one friendly line that starts with
"Right", "Not quite" or "Not written yet" (in the learner's language, ``$FCNLIB_LANG``), with what was expected or
a hint. A check never raises, so an unsolved cell never stops a chapter, and it returns the reference answer, so
the chapter goes on with the right value.
"""

from ._say import MESSAGES, say  # noqa: F401
from .convolutionalisation import *  # noqa: F401,F403
from .interpolation import *  # noqa: F401,F403
from .learning import *  # noqa: F401,F403
from .photos import *  # noqa: F401,F403
from .prediction import *  # noqa: F401,F403
from .segmentation import *  # noqa: F401,F403
from .skips import *  # noqa: F401,F403
from .transposed import *  # noqa: F401,F403
from .zh import *  # noqa: F401,F403  (the messages in Chinese)
