"""The Chinese edition (notebooks/zh/), generated from the English chapters and one translation file per chapter.

``python -m tools.translate build`` (``make translations``) writes ``notebooks/zh/NN_name.ipynb`` for every English
chapter ``notebooks/NN_name.ipynb`` that has a translation file ``notebooks/zh/NN.yml``. That file maps each English
Markdown cell's id to ``{en: <hash of the English text>, zh: <the Chinese Markdown>}``, and optionally a code cell's
id to the same code with its comments translated. The English text is not copied: the notebook is its one source.

The Chinese notebook is the English one cell for cell (same ids, code, tags and stored outputs) with

* every Markdown cell replaced by its translation, the Colab badge of the first one generated for the Chinese
  notebook, and relative links rewritten for notebooks/zh/ (a chapter without a Chinese version, marked
  （英文）, the glossary and figures point to the English folder, ``../README.md`` to ``../../README.zh.md``);
* the set-up cell of ``tools.notebook_setup.setup_cell_source("zh")``, which sets ``FCNLIB_LANG=zh``;
* the lines that the "Your turn" checks printed (``fcnlib.checks.say``) re-rendered from their Chinese message:
  each English message becomes a regular expression whose groups capture the values (a value that is one of
  the checks' words, ``fcnlib.checks._say.WORDS``, in Chinese), so that running the Chinese chapter prints
  exactly its stored outputs.

A missing or stale translation (the English cell changed since it was translated) stops the build with exit
status 2, naming the chapter, the cell id and the first words of the English cell.
``python -m tools.translate todo`` lists what needs translating, with the English text and its hash.
"""

from __future__ import annotations

import copy
import hashlib
import io
import re
import string
import sys
import tokenize
from pathlib import Path

from tools.notebook_setup import SETUP_MARKER, badge_line, setup_cell_source

__all__ = [
    "ROOT",
    "TranslationError",
    "text_hash",
    "english_text",
    "code_tokens",
    "chapters",
    "load_translation",
    "localise_links",
    "message_fields",
    "message_patterns",
    "translate_line",
    "localise_value",
    "build_notebook",
    "build",
    "todo",
    "prose",
    "term_problems",
    "main",
]

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = re.compile(r"^(\d\d)_[\w-]+\.ipynb$")
LINK = re.compile(r"(\]\()([^)\s]+)(\))")
ENGLISH_MARK = "（英文）"  # after a link to a chapter that has no Chinese version yet


class TranslationError(ValueError):
    """A chapter's translation is missing, stale or does not fit its English chapter (the message says which)."""


def text_hash(text: str) -> str:
    """The first 12 hex digits of the SHA-256 of ``text`` (UTF-8): what a translation records of its original."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]


def english_text(cell) -> str:
    """The source of an English cell as translated: the first cell's Colab badge line (generated) left out."""
    lines = cell.source.splitlines()
    if lines and "colab-badge.svg" in lines[0]:
        return "\n".join(lines[1:]).lstrip("\n")
    return cell.source


def code_tokens(source: str) -> list[tuple[int, str]]:
    """The tokens of Python ``source`` without comments and blank lines: two cells that differ only in their
    comments give the same list. IPython's ``%magic`` lines are compared as text."""
    lines = [("#" + line) if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    magics = [line.strip() for line in source.splitlines() if line.lstrip().startswith(("%", "!"))]
    drop = {tokenize.COMMENT, tokenize.NL, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    tokens = tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline)
    return [(t.type, t.string) for t in tokens if t.type not in drop] + [(0, m) for m in magics]


def _first_words(text: str, n: int = 8) -> str:
    return " ".join(text.split()[:n]) + " ..."


def chapters(root: Path = ROOT) -> dict[str, Path]:
    """The English chapters by number: ``{"01": notebooks/01_bilinear_kernel.ipynb, ...}``."""
    found = {}
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        if CHAPTER.match(path.name):
            found[path.name[:2]] = path
    return found


def load_translation(path: Path) -> dict[str, dict[str, str]]:
    """Read ``notebooks/zh/NN.yml``: cell id -> {"en": hash, "zh": text}. TranslationError if malformed."""
    import yaml

    data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader) or {}  # every scalar a string
    if not isinstance(data, dict):
        raise TranslationError(f"{path}: expected a mapping of cell ids to {{en: <hash>, zh: <text>}}")
    for cell_id, entry in data.items():
        if not (
            isinstance(entry, dict) and set(entry) == {"en", "zh"} and all(isinstance(v, str) for v in entry.values())
        ):
            raise TranslationError(
                f"{path}: cell {cell_id}: expected exactly the keys en (the hash, quoted) and zh (text)"
            )
    return {str(k): v for k, v in data.items()}


def localise_links(markdown: str, translated: set[str]) -> str:
    """Rewrite the relative links of English Markdown for a notebook in notebooks/zh/: a chapter whose number is in
    ``translated`` stays (its Chinese version sits beside it), any other chapter points to the English folder
    (``../``) and is marked ``ENGLISH_MARK`` after the link, the glossary and figures point to the English folder,
    and ``../README.md`` becomes ``../../README.zh.md``."""

    def rewrite(match: re.Match) -> str:
        target = match.group(2)
        if re.match(r"^([a-z]+:|#|/)", target):  # an address, an anchor on the same page, an absolute path
            return match.group(0)
        if target.startswith("../README.md"):
            target = "../../README.zh.md" + target[len("../README.md") :]
        elif CHAPTER.match(target.split("#")[0]) and target[:2] not in translated:
            return match.group(1) + "../" + target + match.group(3) + ENGLISH_MARK  # the reader is told
        elif not CHAPTER.match(target.split("#")[0]):
            target = "../" + target
        return match.group(1) + target + match.group(3)

    return LINK.sub(rewrite, markdown)


def message_fields(template: str) -> list[tuple[str, str, str]]:
    """The ``(name, conversion, format spec)`` of each replacement field of a ``str.format`` template."""
    return [
        (name, conv or "", spec or "") for _, name, spec, conv in string.Formatter().parse(template) if name is not None
    ]


def message_patterns(english: dict[str, str], chinese: dict[str, str]) -> list[tuple[re.Pattern, str, int]]:
    """For every message with a translation: (a regular expression matching a line the English template printed,
    the Chinese template, the number of literal characters: the most specific pattern wins)."""
    patterns = []
    for key, template in english.items():
        if key not in chinese:
            continue
        regex, groups, literal = "", {}, 0
        for text, name, _, _ in string.Formatter().parse(template):
            regex += re.escape(text)
            literal += len(text)
            if name is None:
                continue
            if name in groups:
                regex += f"(?P={groups[name]})"
            else:
                groups[name] = f"g{len(groups)}"
                regex += f"(?P<{groups[name]}>.*?)"
        rendered = chinese[key]
        patterns.append((re.compile(regex + r"\Z", re.S), rendered, literal, groups))
    return [(p, _renderer(t, g), n) for p, t, n, g in patterns]


def _renderer(template: str, groups: dict[str, str]):
    """A function that fills the Chinese ``template`` with what a pattern's groups captured, as printed."""

    def render(match: re.Match) -> str:
        out = ""
        for text, name, _, _ in string.Formatter().parse(template):
            out += text
            if name is not None:
                out += localise_value(match.group(groups[name]))
        return out

    return render


def localise_value(value: str) -> str:
    """A value as an English message printed it, in Chinese where it is one of the checks' words
    (``fcnlib.checks._say.WORDS``: "smaller", "under 0.1%"); any other value (numbers, shapes, names) as printed."""
    from fcnlib.checks._say import WORDS

    for key, english in WORDS["en"].items():
        head, hole, tail = english.partition("{}")
        match = re.fullmatch(re.escape(head) + ("(.+)" if hole else "") + re.escape(tail), value)
        if match:
            return WORDS["zh"][key].format(*match.groups())
    return value


def translate_line(line: str, patterns) -> str:
    """``line`` re-rendered from the Chinese message whose English pattern matches it best; unchanged if none."""
    best = None
    for pattern, render, literal in patterns:
        match = pattern.match(line)
        if match and (best is None or literal > best[0]):
            best = (literal, render, match)
    return best[1](best[2]) if best else line


def _translate_outputs(cell, patterns) -> None:
    if "checks." not in cell.source:  # only the "Your turn" cells print the checks' messages
        return
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            lines = output["text"].split("\n")
            output["text"] = "\n".join(translate_line(line, patterns) for line in lines)


def _markdown_cell(cell, entry, where: str, first: bool, translated: set[str], notebook_name: str):
    if entry is None:
        raise TranslationError(f"{where}: no translation of the Markdown cell ({_first_words(english_text(cell))!r})")
    if entry["en"] != text_hash(english_text(cell)):
        raise TranslationError(
            f"{where}: stale translation: the English cell ({_first_words(english_text(cell))!r}) has changed "
            f"(hash {text_hash(english_text(cell))}, translated from {entry['en']}). Update the Chinese text, then set "
            f"en: {text_hash(english_text(cell))}"
        )
    if "colab-badge.svg" in entry["zh"]:
        raise TranslationError(f"{where}: the translation holds a Colab badge; leave it out (the tool adds it)")
    text = localise_links(entry["zh"].rstrip("\n"), translated)
    cell.source = badge_line("zh/" + notebook_name) + "\n\n" + text if first else text


def _code_cell(cell, entry, where: str) -> None:
    if cell.source.startswith(SETUP_MARKER):
        cell.source = setup_cell_source("zh")
        return
    if entry is None:
        return
    if entry["en"] != text_hash(cell.source):
        raise TranslationError(
            f"{where}: stale translation of a code cell's comments ({_first_words(cell.source)!r}): the English code "
            f"has changed (hash {text_hash(cell.source)}, translated from {entry['en']})"
        )
    if code_tokens(entry["zh"]) != code_tokens(cell.source):
        raise TranslationError(f"{where}: the translated code cell differs from the English code, not only in comments")
    cell.source = entry["zh"].rstrip("\n")


def build_notebook(english, translation: dict, name: str, translated: set[str], patterns):
    """The Chinese notebook (an nbformat node) for the English notebook ``english`` named ``name`` and its
    ``translation`` (``load_translation``). TranslationError names the first cell that does not fit."""
    nb = copy.deepcopy(english)
    ids = {cell.get("id") for cell in nb.cells}
    unknown = sorted(set(translation) - ids)
    if unknown:
        raise TranslationError(f"chapter {name}: translations of cells it no longer has: {unknown}; remove them")
    first_markdown = next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "markdown")
    for i, cell in enumerate(nb.cells):
        where = f"chapter {name}, cell {cell.get('id')}"
        entry = translation.get(cell.get("id"))
        if cell.cell_type == "markdown":
            _markdown_cell(cell, entry, where, i == first_markdown, translated, name)
        elif cell.cell_type == "code":
            _code_cell(cell, entry, where)
            _translate_outputs(cell, patterns)
    return nb


def prose(markdown: str) -> str:
    """Markdown without fenced and inline code, maths, link addresses and HTML tags, whitespace joined: the words
    a reader reads, where the glossary's terms are looked for."""
    for pattern in (r"```.*?```", r"`[^`]*`", r"\$\$.*?\$\$", r"\$[^$]*\$", r"\]\([^)]*\)", r"<[^>]+>"):
        markdown = re.sub(pattern, " ", markdown, flags=re.S)
    return " ".join(markdown.split())


def term_problems(english: str, chinese: str, glossary: dict[str, str]) -> list[str]:
    """The glossary's terms that the English Markdown uses (singular or plural, any case) and its Chinese
    translation does not render with the glossary's Chinese term."""
    english, chinese = prose(english), prose(chinese)
    return [
        f"{term!r} -> {zh!r}"
        for term, zh in glossary.items()
        if re.search(rf"\b{re.escape(term)}(s|es)?\b", english, re.I) and zh not in chinese
    ]


def _catalogue_patterns():
    from fcnlib.checks import MESSAGES

    return message_patterns(MESSAGES["en"], MESSAGES["zh"])


def build(root: Path = ROOT, write: bool = True) -> dict[Path, str]:
    """Every Chinese chapter as text (``nbformat.writes``), by path; written to notebooks/zh/ if ``write``.
    TranslationError (all problems, one per line) if a translation is missing or stale."""
    import nbformat

    zh = root / "notebooks" / "zh"
    english = chapters(root)
    translated = {number for number in english if (zh / f"{number}.yml").exists()}
    patterns, built, problems = _catalogue_patterns(), {}, []
    for number in sorted(translated):
        path = english[number]
        try:
            nb = build_notebook(
                nbformat.read(path, as_version=4),
                load_translation(zh / f"{number}.yml"),
                path.name,
                translated,
                patterns,
            )
            built[zh / path.name] = nbformat.writes(nb) + "\n"
        except TranslationError as err:
            problems.append(f"notebooks/zh/{number}.yml: {err}")
    if problems:
        raise TranslationError("\n".join(problems))
    if write:
        for out, text in built.items():
            out.write_text(text, encoding="utf-8")
    return built


def todo(root: Path = ROOT) -> str:
    """What needs (re)translating, with the English text and its hash; chapters without a translation file."""
    import nbformat

    from fcnlib.checks import MESSAGES

    zh, lines = root / "notebooks" / "zh", []
    for number, path in chapters(root).items():
        if not (zh / f"{number}.yml").exists():
            lines.append(f"chapter {path.name}: not translated yet (no notebooks/zh/{number}.yml)")
            continue
        translation = load_translation(zh / f"{number}.yml")
        for cell in nbformat.read(path, as_version=4).cells:
            entry, text = translation.get(cell.get("id")), english_text(cell)
            if cell.cell_type != "markdown" or (entry and entry["en"] == text_hash(text)):
                continue
            state = "missing" if entry is None else "stale"
            lines.append(f"chapter {path.name}, cell {cell.id} ({state}), en: {text_hash(text)}\n{text}\n")
    missing = sorted(set(MESSAGES["en"]) - set(MESSAGES["zh"]))
    lines += [f"message {key} (no Chinese in fcnlib/checks/zh.py): {MESSAGES['en'][key]}" for key in missing]
    return "\n".join(lines) if lines else "nothing to translate"


def main(argv: list[str]) -> int:
    root = Path(argv[1]).resolve() if len(argv) > 1 else ROOT  # another checkout's root (the tests use one)
    if argv[:1] == ["todo"]:
        print(todo(root))
        return 0
    if argv[:1] == ["build"]:
        try:
            built = build(root)
        except TranslationError as err:
            print(f"{err}\nRun `python -m tools.translate todo` to see the English text to translate.", file=sys.stderr)
            return 2
        for path in built:
            print(f"wrote {path.relative_to(root)}")
        return 0
    print("usage: python -m tools.translate build|todo [repository root]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
