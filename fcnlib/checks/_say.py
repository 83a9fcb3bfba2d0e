"""The checks' messages, by key and language, and :func:`say`."""

from __future__ import annotations

from ..profiles import language_setting

MESSAGES: dict[str, dict[str, str]] = {"en": {}, "zh": {}}
"""Language -> message key (``"<check>.<case>"``) -> ``str.format`` template; each topic module adds its own."""


def say(key: str, **values: object) -> str:
    """Print message ``key`` in the learner's language (English where it has no translation), filled in with
    ``values``, and return it. KeyError: an unknown key."""
    template = MESSAGES.get(language_setting(), {}).get(key) or MESSAGES["en"][key]
    line = template.format(**values)
    print(line)
    return line
