"""The project's set-up files agree with each other, and every chapter with tools.repo."""

import re
import types
from pathlib import Path

import nbformat
import pytest
import tomllib
import yaml

from tools import repo
from tools.notebook_setup import SETUP_MARKER, badge_line, setup_cell_source

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;@]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = _pyproject()["project"]
    wanted = {r for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= set(extra)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {r.split("#")[0].strip() for r in pip_section if not r.startswith("-e")}
    assert {_name(r) for r in listed} == {_name(r) for r in wanted}
    # and with the same version bounds
    assert {r.replace(" ", "") for r in listed} == {r.replace(" ", "") for r in wanted}


def test_fcnlib_never_requires_d2l():
    deps = _pyproject()["project"]["dependencies"]
    assert not any(_name(d) == "d2l" for d in deps)
    for path in (ROOT / "fcnlib").rglob("*.py"):
        assert not re.search(r"^\s*(import d2l|from d2l)", path.read_text(), re.M), path


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
    readme = (ROOT / "README.md").read_text()
    assert "make test" in readme and "make lab" in readme


def test_there_are_chapters():
    assert len(CHAPTERS) >= 5


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_badge_and_setup_cell_come_from_the_repo_constant(path):
    nb = nbformat.read(str(path), as_version=4)
    assert nb.cells[0].cell_type == "markdown"
    assert nb.cells[0].source.splitlines()[0] == badge_line(path.name)
    assert repo.REPOSITORY in nb.cells[0].source
    setup = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(SETUP_MARKER)]
    assert len(setup) == 1 and setup[0].source == setup_cell_source()
    assert nb.cells.index(setup[0]) <= 2
    # only fcnlib is ever pip-installed in a chapter
    for cell in nb.cells:
        if cell.cell_type == "code":
            for line in cell.source.splitlines():
                if re.search(r"\bpip install\b", line):
                    assert repo.colab_install_command() in line, line


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_outputs_are_stored_small_and_executed(path):
    nb = nbformat.read(str(path), as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.get("execution_count") for c in code[1:]), "run the chapter to store its outputs"
    assert path.stat().st_size < 3_000_000
    assert "widgets" not in nb.metadata or len(str(nb.metadata["widgets"])) < 50_000
    text = "\n".join(c.source for c in nb.cells)
    assert "Learning goals" in text and "Exercises" in text and "Summary" in text
    assert any("nbval-check-output" in c.metadata.get("tags", []) for c in code)


def test_readme_badges_use_the_repository_constant():
    readme = (ROOT / "README.md").read_text()
    for path in CHAPTERS:
        assert repo.colab_url(path.name) in readme


def test_sync_rewrites_a_forked_badge(tmp_path, monkeypatch):
    import tools.notebook_setup as ns
    from tools import repo as _repo

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_markdown_cell(badge_line("01_x.ipynb") + "\n# Title"),
        nbformat.v4.new_code_cell(setup_cell_source()),
    ]
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, str(path))
    monkeypatch.setattr(_repo, "REPOSITORY", "someone/fork")
    assert ns.sync_notebook(path) is True
    synced = nbformat.read(str(path), as_version=4)
    assert "someone/fork" in synced.cells[0].source and "someone/fork" in synced.cells[1].source
    assert ns.sync_notebook(path) is False


def test_stored_progress_bars_become_their_final_text():
    """notebook_setup.execute stores tqdm's widgets as the text of their last state."""
    from tools.notebook_setup import freeze_progress_bars

    def model(name, **state):
        return {
            "model_name": name,
            "model_module": "@jupyter-widgets/controls",
            "model_module_version": "2.0.0",
            "state": dict(_model_name=name, **state),
        }

    nb = nbformat.v4.new_notebook()
    view = {"model_id": "box", "version_major": 2, "version_minor": 0}
    cell = nbformat.v4.new_code_cell("train()")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={"application/vnd.jupyter.widget-view+json": view, "text/plain": "epoch 1/3:   0%|          | 0/60"},
        )
    ]
    other = nbformat.v4.new_code_cell("slider")
    other.outputs = [
        nbformat.v4.new_output(
            "display_data",
            data={
                "application/vnd.jupyter.widget-view+json": dict(view, model_id="slider"),
                "text/plain": "IntSlider()",
            },
        )
    ]
    nb.cells = [cell, other]
    nb.metadata["widgets"] = {
        "application/vnd.jupyter.widget-state+json": {
            "version_major": 2,
            "version_minor": 0,
            "state": {
                "box": model("HBoxModel", children=["IPY_MODEL_pre", "IPY_MODEL_bar", "IPY_MODEL_post"]),
                "pre": model("HTMLModel", value="epoch 1/3: 100%"),
                "bar": model("FloatProgressModel", value=60, max=60),
                "post": model("HTMLModel", value="&nbsp;60/60 [00:19&lt;00:00,  3.1batch/s, loss 0.9]"),
                "slider": model("IntSliderModel", value=3),
            },
        }
    }
    assert freeze_progress_bars(nb) == 1
    assert cell.outputs[0]["data"] == {
        "text/plain": "epoch 1/3: 100%|██████████| 60/60 [00:19<00:00,  3.1batch/s, loss 0.9]"
    }
    assert "application/vnd.jupyter.widget-view+json" in other.outputs[0]["data"]  # not a progress bar: kept
    assert "widgets" not in nb.metadata


def test_readme_figure_is_chapter_5s_tagged_cell(tmp_path):
    """The README's picture comes from chapter 5's stored run, byte for byte, found by a cell tag."""
    import base64

    from tools.notebook_setup import README_FIGURE_TAG, readme_figure

    chapter = ROOT / "notebooks" / "05_prediction.ipynb"
    out = readme_figure(chapter, tmp_path / "overview.png")
    nb = nbformat.read(chapter, as_version=4)
    cells = [c for c in nb.cells if README_FIGURE_TAG in c.metadata.get("tags", [])]
    assert len(cells) == 1 and "README" not in cells[0].source
    png = next(o["data"]["image/png"] for o in cells[0].outputs if "image/png" in o.get("data", {}))
    assert out.read_bytes() == base64.b64decode(png)
    assert (ROOT / "notebooks" / "figures" / "overview.png").read_bytes() == out.read_bytes()


def test_readme_figure_takes_the_tagged_cell_and_says_what_is_missing(tmp_path):
    import base64

    from tools.notebook_setup import readme_figure

    def cell(png: bytes, tags=()):
        c = nbformat.v4.new_code_cell("fig = ...", metadata={"tags": list(tags)} if tags else {})
        c.outputs = [nbformat.v4.new_output("display_data", data={"image/png": base64.b64encode(png).decode()})]
        return c

    path, out = tmp_path / "chapter.ipynb", tmp_path / "overview.png"
    nb = nbformat.v4.new_notebook(cells=[cell(b"first"), cell(b"tagged", ["readme-figure"]), cell(b"last")])
    nbformat.write(nb, path)
    assert readme_figure(path, out).read_bytes() == b"tagged"
    nb.cells[1].metadata["tags"] = []
    nb.cells[0].source = "# README figure\nfig = ..."  # a comment is no tag
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="0 code cells tagged 'readme-figure'"):
        readme_figure(path, out)
    nb.cells[0].metadata["tags"] = nb.cells[2].metadata["tags"] = ["readme-figure"]
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="2 code cells tagged"):
        readme_figure(path, out)
    nb.cells[2].metadata["tags"], nb.cells[0].outputs = [], []
    nbformat.write(nb, path)
    with pytest.raises(ValueError, match="has no stored PNG: execute the chapter first"):
        readme_figure(path, out)


def test_execute_joins_a_cells_split_prints_into_one_output():
    import tools.notebook_setup as ns

    cell = nbformat.v4.new_code_cell("print('a'); print('b')")
    cell.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="a\n"),
        nbformat.v4.new_output("stream", name="stdout", text="b\n"),
        nbformat.v4.new_output("stream", name="stderr", text="warning\n"),
        nbformat.v4.new_output("stream", name="stdout", text="c\n"),
    ]
    nb = nbformat.v4.new_notebook(cells=[cell])
    assert ns.coalesce_streams(nb) == 1
    assert [(o.name, o.text) for o in nb.cells[0].outputs] == [
        ("stdout", "a\nb\n"),
        ("stderr", "warning\n"),
        ("stdout", "c\n"),
    ]


def test_an_executed_explorer_keeps_its_outputs_without_echoing_them_to_the_kernel():
    """tools.notebook_setup runs chapters with nbclient; its Output widget must not send on the shell channel."""
    from nbclient.output_widget import OutputWidget

    from tools.notebook_setup import quiet_output_widgets

    class SilentShell:  # a kernel client whose shell channel must not be written to
        session = shell_channel = property(lambda self: pytest.fail("the widget sent a message to the kernel"))

    msg = {"header": {"msg_type": "display_data"}, "msg_type": "display_data", "parent_header": {"msg_id": "a"}}
    msg["content"] = {"data": {"text/plain": "a picture"}, "metadata": {}}
    quiet = quiet_output_widgets()["@jupyter-widgets/output"]["OutputModel"]
    executor = types.SimpleNamespace(widget_state={"w": {"outputs": []}})
    quiet("w", {"outputs": []}, SilentShell(), executor).output([], msg, None, 0)
    assert executor.widget_state["w"]["outputs"][0]["data"] == {"text/plain": "a picture"}
    with pytest.raises(pytest.fail.Exception):  # nbclient's own widget echoes its outputs on the shell channel
        OutputWidget("w", {"outputs": []}, SilentShell(), executor).output([], msg, None, 0)
