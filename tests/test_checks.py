"""The "Your turn" checks' messages: looked up by key in the learner's language ($FCNLIB_LANG)."""

import pytest

from fcnlib import checks
from fcnlib.profiles import language_setting


def test_say_prints_the_english_message_filled_in(monkeypatch, capsys):
    monkeypatch.delenv("FCNLIB_LANG", raising=False)
    monkeypatch.setitem(checks.MESSAGES["en"], "demo.right", "Right! {n} of {total}")
    assert checks.say("demo.right", n=3, total=4) == "Right! 3 of 4"
    assert capsys.readouterr().out == "Right! 3 of 4\n"


def test_say_uses_the_translation_and_falls_back_to_english(monkeypatch):
    monkeypatch.setitem(checks.MESSAGES["en"], "demo.right", "Right! {n}")
    monkeypatch.setitem(checks.MESSAGES["en"], "demo.hint", "Hint: {n}")
    monkeypatch.setitem(checks.MESSAGES["zh"], "demo.right", "对了！{n}")
    monkeypatch.setenv("FCNLIB_LANG", "zh")
    assert checks.say("demo.right", n=1) == "对了！1"
    assert checks.say("demo.hint", n=2) == "Hint: 2"


def test_every_message_has_an_english_original():
    assert set(checks.MESSAGES["zh"]) <= set(checks.MESSAGES["en"])


@pytest.mark.parametrize("value, expected", [("", "en"), ("EN", "en"), (" zh ", "zh")])
def test_language_setting(monkeypatch, value, expected):
    monkeypatch.setenv("FCNLIB_LANG", value)
    assert language_setting() == expected


def test_language_setting_refuses_other_languages(monkeypatch):
    monkeypatch.setenv("FCNLIB_LANG", "fr")
    with pytest.raises(ValueError, match="FCNLIB_LANG must be 'en' or 'zh', got 'fr'"):
        language_setting()
