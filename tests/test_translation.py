"""The Chinese edition (notebooks/zh/) in step with the English chapters: every Markdown cell translated from the
current English text, the committed notebooks exactly what tools/translate.py builds, the same code and outputs,
the checks' messages in both languages with the same placeholders, the glossary's terms used."""

from __future__ import annotations

import ast
import hashlib
import re
import shutil
import string
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from fcnlib import checks
from fcnlib.checks import MESSAGES
from fcnlib.checks._say import WORDS
from tools import translate
from tools.notebook_setup import SETUP_MARKER, setup_cell_source
from tools.repo import colab_url

ROOT = Path(__file__).resolve().parents[1]
ZH = ROOT / "notebooks" / "zh"
TRANSLATED = sorted(ZH.glob("[0-9][0-9].yml"))
PAIRS = [(next((ROOT / "notebooks").glob(f"{p.stem}_*.ipynb")), p) for p in TRANSLATED]
GLOSSARY = yaml.safe_load((ZH / "glossary.yml").read_text(encoding="utf-8"))
NUMBER = re.compile(r"(?<![0-9A-Za-z_.])\d+(?:,\d{3})*\.\d+%?|(?<![0-9A-Za-z_.])\d+(?:\.\d+)?%")
# Numbers a translation writes the Chinese way on purpose ("1.2 million" photos: 120 万; 13.0 million: 1300 万).
REWORDED = {"03": {"1.2", "13.0", "11.2"}}
OPENINGS = {"Right": "对了", "Not quite": "还不对", "Not written yet": "还没写"}


def _english_text(cell) -> str:
    lines = cell.source.splitlines()
    return "\n".join(lines[1:]).lstrip("\n") if lines and "colab-badge.svg" in lines[0] else cell.source


def _load(english: Path):
    return nbformat.read(english, as_version=4), nbformat.read(ZH / english.name, as_version=4)


def _ids(value):
    return value.name if isinstance(value, Path) else None


def test_the_translated_chapters_are_there():
    assert {"01", "03"} <= {p.stem for p in TRANSLATED}  # chapters 1 and 3 first; the rest follow
    assert sorted(p.name for p in ZH.glob("*.ipynb")) == sorted(e.name for e, _ in PAIRS)


@pytest.mark.parametrize("english, yml", PAIRS, ids=_ids)
def test_every_markdown_cell_has_a_translation_of_its_current_text(english, yml):
    translation = yaml.load(yml.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)  # ids stay strings
    problems = []
    for cell in nbformat.read(english, as_version=4).cells:
        if cell.cell_type != "markdown":
            continue
        digest = hashlib.sha256(_english_text(cell).encode()).hexdigest()[:12]
        entry = translation.get(cell.id)
        if entry is None or entry["en"] != digest or not entry["zh"].strip():
            problems.append(f"cell {cell.id}: {' '.join(cell.source.split()[:8])}")
    assert not problems, f"{english.name}: missing or stale translations:\n" + "\n".join(problems)


def _checkout(tmp_path: Path) -> Path:
    """A copy of the translated chapters, their translations, the glossary and its translation under tmp_path."""
    (tmp_path / "notebooks" / "zh").mkdir(parents=True)
    for english, yml in PAIRS:
        shutil.copy(english, tmp_path / "notebooks" / english.name)
        shutil.copy(yml, tmp_path / "notebooks" / "zh" / yml.name)
    shutil.copy(ROOT / "notebooks" / "glossary.md", tmp_path / "notebooks")
    shutil.copy(ZH / "glossary-page.yml", tmp_path / "notebooks" / "zh")
    return tmp_path


def _build(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tools.translate", "build", str(root)], cwd=ROOT, capture_output=True, text=True
    )


def test_a_changed_english_cell_stops_the_build_and_is_named(tmp_path):
    root = _checkout(tmp_path)
    path = root / "notebooks" / "01_bilinear_kernel.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if c.id == "7ddf38ff")
    cell.source = cell.source.replace("the whole chapter is built on it", "the chapter rests on it")
    nbformat.write(nb, path)
    done = _build(root)
    assert done.returncode == 2
    assert "notebooks/zh/01.yml: chapter 01_bilinear_kernel.ipynb, cell 7ddf38ff" in done.stderr
    assert "stale" in done.stderr and "## 1. Linear interpolation: a straight line" in done.stderr
    assert not (root / "notebooks" / "zh" / "01_bilinear_kernel.ipynb").exists()  # nothing half-built


def test_a_new_english_cell_without_translation_stops_the_build(tmp_path, capsys):
    root = _checkout(tmp_path)
    path = root / "notebooks" / "03_fcn_model.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(5, nbformat.v4.new_markdown_cell("A new paragraph about strides.", id="newcell1"))
    nbformat.write(nb, path)
    assert translate.main(["build", str(root)]) == 2
    err = capsys.readouterr().err
    assert "chapter 03_fcn_model.ipynb, cell newcell1" in err and "no translation" in err
    assert "A new paragraph about strides." in err
    assert translate.main(["todo", str(root)]) == 0
    todo = capsys.readouterr().out
    assert "cell newcell1 (missing)" in todo and "A new paragraph about strides." in todo


def test_the_build_of_an_unchanged_copy_succeeds_and_todo_lists_untranslated_chapters(tmp_path):
    root = _checkout(tmp_path)
    shutil.copy(ROOT / "notebooks" / "02_transposed_conv.ipynb", root / "notebooks" / "09_not_yet.ipynb")
    assert translate.main(["build", str(root)]) == 0
    built = root / "notebooks" / "zh" / "01_bilinear_kernel.ipynb"
    assert built.read_text(encoding="utf-8") == (ZH / built.name).read_text(encoding="utf-8")
    todo = translate.todo(root)
    assert "chapter 09_not_yet.ipynb: not translated yet (no notebooks/zh/09.yml)" in todo


def test_a_translation_of_a_code_cell_may_change_its_comments_only():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("Title", id="m"), nbformat.v4.new_code_cell("x = 1  # one", id="c")]
    entry = {"en": hashlib.sha256(b"x = 1  # one").hexdigest()[:12], "zh": "x = 1  # 一"}
    base = {"m": {"en": hashlib.sha256(b"Title").hexdigest()[:12], "zh": "标题"}}
    built = translate.build_notebook(nb, base | {"c": entry}, "01_x.ipynb", set(), [])
    assert built.cells[1].source == "x = 1  # 一" and built.cells[0].source.endswith("\n\n标题")
    with pytest.raises(translate.TranslationError, match="cell c: the translated code cell differs"):
        translate.build_notebook(nb, base | {"c": entry | {"zh": "x = 2  # 二"}}, "01_x.ipynb", set(), [])


def test_the_committed_chinese_notebooks_are_what_the_tool_builds():
    built = translate.build(ROOT, write=False)
    assert sorted(built) == sorted([ZH / e.name for e, _ in PAIRS] + [ZH / "glossary.md"])
    stale = [p.name for p, text in built.items() if p.read_text(encoding="utf-8") != text]
    assert not stale, f"run `make translations`: {stale} differ from what the tool builds"


def _without_comments(source: str) -> str:
    """The code's syntax tree (comments and layout left out); IPython magics kept as text."""
    magics = [line.strip() for line in source.splitlines() if line.lstrip().startswith("%")]
    lines = source.splitlines()
    code = "\n".join(re.sub(r"%.*", "pass", line) if line.lstrip().startswith("%") else line for line in lines)
    return ast.dump(ast.parse(code)) + repr(magics)


@pytest.mark.parametrize("english, yml", PAIRS, ids=_ids)
def test_same_cells_code_tags_and_outputs(english, yml):
    english, chinese = _load(english)
    assert [(c.id, c.cell_type) for c in english.cells] == [(c.id, c.cell_type) for c in chinese.cells]
    for en, zh in zip(english.cells, chinese.cells):
        assert en.metadata == zh.metadata, en.id
        if en.cell_type != "code":
            continue
        if en.source.startswith(SETUP_MARKER):  # the one generated difference: the language
            assert zh.source == setup_cell_source("zh")
            generated = ("import os", 'os.environ["FCNLIB_LANG"] = "zh"')
            rest = "\n".join(line for line in zh.source.splitlines() if line not in generated)
            assert _without_comments(rest) == _without_comments(en.source)
            continue
        assert _without_comments(en.source) == _without_comments(zh.source), f"cell {en.id}: the code differs"
        assert len(en.outputs) == len(zh.outputs), en.id
        for a, b in zip(en.outputs, zh.outputs):
            if a.get("output_type") != "stream":
                assert a == b, f"cell {en.id}: an output other than printed text differs"
                continue
            assert "../data" not in b.text.replace("../../data", ""), (en.id, b.text)  # paths seen from notebooks/zh/
            for line_en, line_zh in zip(a.text.split("\n"), b.text.split("\n"), strict=True):
                if line_zh == line_en.replace("../data", "../../data"):  # the same line, or its path one folder up
                    continue
                if line_en != line_zh:  # only a check's feedback line, rendered in Chinese
                    opening = next(o for o in OPENINGS if line_en.startswith(o))
                    assert line_zh.startswith(OPENINGS[opening]), (en.id, line_en, line_zh)


def test_the_setup_cell_differs_from_the_english_one_by_setting_the_language():
    en, zh = setup_cell_source(), setup_cell_source("zh")
    removed = [line for line in zh.splitlines() if line not in en.splitlines()]
    assert removed == [zh.splitlines()[0], "import os", 'os.environ["FCNLIB_LANG"] = "zh"']
    assert zh.startswith(SETUP_MARKER) and [line for line in en.splitlines() if line not in zh.splitlines()] == [
        en.splitlines()[0]
    ]
    with pytest.raises(ValueError, match="language must be 'en' or 'zh', got 'fr'"):
        setup_cell_source("fr")


@pytest.mark.parametrize("english, yml", PAIRS, ids=_ids)
def test_badge_opens_the_chinese_notebook_and_links_resolve(english, yml):
    name = english.name
    english, chinese = _load(english)
    assert f"]({colab_url('zh/' + name)})" in chinese.cells[0].source.splitlines()[0]
    for en, zh in zip(english.cells, chinese.cells):
        if zh.cell_type != "markdown":
            continue
        en_targets = re.findall(r"\]\(([^)\s]+)\)", en.source)
        for target in re.findall(r"\]\(([^)\s]+)\)", zh.source)[1 if zh is chinese.cells[0] else 0 :]:
            if re.match(r"^[a-z]+:", target):
                continue
            path = target.split("#")[0]
            assert path != "../glossary.md", f"cell {zh.id}: {target} is the English glossary, not zh/glossary.md"
            assert (ZH / path).exists(), f"cell {zh.id}: {target} does not exist"
            if path == "glossary.md":  # (its anchor: tests/test_glossary.py)
                assert any(t.split("#")[0] == "glossary.md" for t in en_targets), (zh.id, target)


def test_links_are_rewritten_for_the_chinese_folder():
    text = (
        "[a](01_bilinear_kernel.ipynb) [b](02_transposed_conv.ipynb#top) [c](glossary.md#tap) "
        "[d](../README.md#profiles) ![e](figures/x.png) [f](https://d2l.ai) [g](#local)"
    )
    assert translate.localise_links(text, {"01"}) == (
        "[a](01_bilinear_kernel.ipynb) [b](../02_transposed_conv.ipynb#top)（英文） [c](../glossary.md#tap) "
        "[d](../../README.zh.md#profiles) ![e](../figures/x.png) [f](https://d2l.ai) [g](#local)"
    )
    # with the Chinese glossary's anchors, a glossary link goes to its Chinese heading; an unknown term is an error
    assert translate.localise_links(text, {"01"}, {"tap": "抽头"}).split(" [d]")[0].endswith("[c](glossary.md#抽头)")
    with pytest.raises(translate.TranslationError, match="glossary.md#tpa: the glossary has no term with that slug"):
        translate.localise_links("[c](glossary.md#tpa)", {"01"}, {"tap": "抽头"})


def _fields(template: str) -> list[tuple]:
    return sorted((name, conv, spec) for _, name, spec, conv in string.Formatter().parse(template) if name is not None)


def test_one_english_template_has_one_chinese_template():
    """A stored English line is re-rendered from the Chinese message whose English template it matches: two keys
    with the same English template and different Chinese ones would make the stored line differ from the printed."""
    chinese_of = {}
    for key, english in MESSAGES["en"].items():
        chinese_of.setdefault(english, {})[key] = MESSAGES["zh"][key]
    differ = [keys for keys in chinese_of.values() if len(set(keys.values())) > 1]
    assert not differ, f"same English, different Chinese: {differ}"


def test_every_message_is_translated_with_the_same_placeholders():
    assert sorted(MESSAGES["zh"]) == sorted(MESSAGES["en"]), "keys without a Chinese message (fcnlib/checks/zh.py)"
    differ = [key for key in MESSAGES["en"] if _fields(MESSAGES["en"][key]) != _fields(MESSAGES["zh"][key])]
    assert not differ, f"placeholders differ: {differ}"
    for key, english in MESSAGES["en"].items():
        opening = next((o for o in OPENINGS if english.startswith(o)), None)  # None: "Nothing to compare: ..."
        assert opening is None or MESSAGES["zh"][key].startswith(OPENINGS[opening]), key
    assert sorted(WORDS["zh"]) == sorted(WORDS["en"]), "words without Chinese (fcnlib/checks/_say.py)"
    assert all(WORDS["zh"][k].count("{}") == WORDS["en"][k].count("{}") for k in WORDS["en"])


@pytest.mark.parametrize(
    "key, values",
    [
        ("cross_detector.low", dict(found=122, hits=4, real=4, near=28, noise=90)),  # the Chinese order differs
        ("tent.unwritten", dict(missing="factor")),  # a !r conversion
        ("tent.form", dict(got="[1, 2]")),  # escaped braces
        ("linear_resize.right", dict(n=4, m=12, values=[1.0, 1.5, 2.0])),
        ("bilinear_upsampler.size", dict(factor=3, got=(1, 2, 9, 9), expected=(1, 2, 9, 9 + 0))),
        ("kernel_stride.unwritten_both", dict(first="keep_flat", second="keep_brightness")),  # beats .unwritten
        ("kernel_stride.unwritten", dict(missing="keep_flat")),
    ],
)
def test_a_printed_message_is_rendered_in_chinese_with_the_same_values(key, values):
    patterns = translate.message_patterns(MESSAGES["en"], MESSAGES["zh"])
    line = MESSAGES["en"][key].format(**values)
    assert translate.translate_line(line, patterns) == MESSAGES["zh"][key].format(**values)
    assert translate.translate_line("tent k=4: [0.25, 0.75]", patterns) == "tent k=4: [0.25, 0.75]"


def test_the_glossary_is_followed():
    assert all(isinstance(v, str) and v for v in GLOSSARY.values()) and len(GLOSSARY) >= 40
    for term in ("transposed convolution", "bilinear interpolation", "fully convolutional network", "mean IoU"):
        assert term in GLOSSARY
    problems = []
    for path, _ in PAIRS:
        english, chinese = _load(path)
        for en, zh in zip(english.cells, chinese.cells):
            if en.cell_type == "markdown":
                problems += [f"cell {en.id}: {p}" for p in translate.term_problems(en.source, zh.source, GLOSSARY)]
    assert not problems, "\n".join(problems)


def test_the_term_lint_finds_a_term_left_out():
    found = translate.term_problems(
        "Two **transposed\n convolutions**, a `kernel` and [a tap](glossary.md#tap).",
        "两个反卷积，一个 `kernel` 和一个抽头。",
        {"transposed convolution": "转置卷积", "kernel": "核", "tap": "抽头"},
    )
    assert found == ["'transposed convolution' -> '转置卷积'"]


@pytest.mark.parametrize("english, yml", PAIRS, ids=_ids)
def test_the_chinese_prose_quotes_the_english_numbers(english, yml):
    number = english.name[:2]
    english, chinese = _load(english)
    problems = []
    for en, zh in zip(english.cells, chinese.cells):
        if en.cell_type == "markdown":
            quoted_en = set(NUMBER.findall(translate.prose(en.source)))
            quoted_zh = set(NUMBER.findall(translate.prose(zh.source)))
            if quoted_zh - quoted_en or quoted_en - quoted_zh - REWORDED.get(number, set()):
                problems.append(f"cell {en.id}: {sorted(quoted_en)} != {sorted(quoted_zh)}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("english, yml", PAIRS, ids=_ids)
def test_chinese_markdown_cells_are_short(english, yml):
    long = [c.id for c in _load(english)[1].cells if c.cell_type == "markdown" and len(c.source.splitlines()) > 40]
    assert not long, f"Markdown cells of more than 40 lines: {long}"


def test_the_chinese_readme_opens_the_chinese_chapters_and_the_english_ones_otherwise():
    readme = (ROOT / "README.zh.md").read_text(encoding="utf-8")
    assert "](README.zh.md)" in (ROOT / "README.md").read_text(encoding="utf-8").split("\n\n")[1]
    assert "make lab" in readme and "Colab" in readme and "中国大陆" in readme
    for english in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        chinese = (ZH / english.name).exists()
        name = ("zh/" if chinese else "") + english.name
        assert f"](notebooks/{name})" in readme and f"]({colab_url(name)})" in readme, name
        assert chinese or f"]({colab_url('zh/' + english.name)})" not in readme


def test_words_inside_the_values_follow_the_language(monkeypatch, capsys):
    """The words a check joins into a value are the learner's language's, and a stored English line with such a
    word is re-rendered with the Chinese word, so a Chinese run prints exactly the stored line."""
    patterns = translate.message_patterns(MESSAGES["en"], MESSAGES["zh"])
    monkeypatch.setenv("FCNLIB_LANG", "en")
    checks.check_margin_guess("smaller", 0.57, 5.44)
    checks.check_kernel_for_stride(None, None)
    english = capsys.readouterr().out.splitlines()
    assert english[0].endswith("0.57, smaller than the 5.44 where they agree.")
    assert english[1] == "Not written yet: set keep_flat and keep_brightness to a list of kernel sizes."
    monkeypatch.setenv("FCNLIB_LANG", "zh")
    checks.check_margin_guess("smaller", 0.57, 5.44)
    checks.check_kernel_for_stride(None, None)
    checks.check_bilinear_upsampler(lambda f, c: checks.convolutionalisation._reference_upsampler(f, c))
    chinese = capsys.readouterr().out.splitlines()
    assert chinese[0].endswith("比两者一致处的 5.44 更小。") and chinese[1].startswith(
        "还没写：请把 keep_flat 和 keep_brightness"
    )
    assert chinese[2] == "对了：放大倍数为 2、3、4、8、16 时，结果都与双线性插值一致。"
    assert [translate.translate_line(line, patterns) for line in english] == chinese[:2]
    assert translate.localise_value("under 0.1%") == "不到 0.1%" and translate.localise_value("(2, 3)") == "(2, 3)"
