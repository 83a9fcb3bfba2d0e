"""The checks' messages, by key and language, :func:`say`, and :func:`word` for the words inside their values."""

from __future__ import annotations

from collections.abc import Iterable

from ..profiles import language_setting

MESSAGES: dict[str, dict[str, str]] = {"en": {}, "zh": {}}
"""Language -> message key (``"<check>.<case>"``) -> ``str.format`` template; each topic module adds its own."""

WORDS: dict[str, dict[str, str]] = {
    "en": {"list": ", ", "under": "under {}", "smaller": "smaller", "larger": "larger"},
    "zh": {"list": "、", "under": "不到 {}", "smaller": "更小", "larger": "更大"},
}
"""Language -> the words and separators a check puts into a message's values (``{}``: the value they wrap)."""


def say(key: str, **values: object) -> str:
    """Print message ``key`` in the learner's language (English where it has no translation), filled in with
    ``values``, and return it. KeyError: an unknown key."""
    template = MESSAGES.get(language_setting(), {}).get(key) or MESSAGES["en"][key]
    line = template.format(**values)
    print(line)
    return line


def word(key: str, value: object = "") -> str:
    """``WORDS[key]`` in the learner's language, its ``{}`` filled with ``value``. KeyError: an unknown key."""
    return (WORDS.get(language_setting(), {}).get(key) or WORDS["en"][key]).format(value)


_LARGER = "larger large greater bigger big more higher high grow grows increase increases wider > 更大 较大 大 变大 增大 更高 较高 高 更多 较多"
_SMALLER = "smaller small less lower low shrink shrinks decrease decreases narrower < 更小 较小 小 变小 减小 更低 较低 低 更少 较少"
COMPARISONS = {**dict.fromkeys(_LARGER.split(), "larger"), **dict.fromkeys(_SMALLER.split(), "smaller")}
"""A learner's word, English or Chinese, -> ``"larger"`` or ``"smaller"``."""


def comparison(answer: object) -> str | None:
    """``answer`` read as ``"larger"`` or ``"smaller"``: a word of :data:`COMPARISONS` ("higher", "<", "更小", "较大"
    ...; case, spaces and end punctuation ignored); None if it is not a string or not such a word."""
    if not isinstance(answer, str):
        return None
    return COMPARISONS.get(answer.strip().strip(".!?'\"。！？").strip().lower())


def listing(items: Iterable[object]) -> str:
    """``items`` as text, joined by the learner's list separator (", " in English, "、" in Chinese)."""
    return word("list").join(map(str, items))
