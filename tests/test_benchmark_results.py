"""The committed benchmark results that chapters print (benchmarks/results/*.json): complete, made by the command
they name, and made with the quick profile's current settings (a changed profile makes them stale: rerun the
command)."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import sys
from pathlib import Path
from unittest import mock

import pytest

import fcnlib

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ("skip_seeds", "init_and_lr")


def _load(name: str) -> dict:
    path = ROOT / "benchmarks" / "results" / f"{name}.json"
    assert path.is_file(), f"{path} is missing: run `python benchmarks/{name}.py` and commit the JSON"
    return json.loads(path.read_text(encoding="utf-8"))


def _script(name: str):
    """The benchmark script as a module; the environment variables it sets for itself on import are undone."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    with mock.patch.dict(os.environ), mock.patch.object(sys, "path", list(sys.path)):
        spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("name", COMMITTED)
def test_the_result_names_a_command_its_script_accepts(name):
    payload = _load(name)
    words = shlex.split(payload["command"])
    assert words[:2] == ["python", f"benchmarks/{name}.py"]
    args = _script(name).parse_args(words[2:])
    assert sorted(args.seeds) == sorted(payload["seeds"]) and len(set(payload["seeds"])) >= 3


@pytest.mark.parametrize("name", COMMITTED)
def test_the_result_was_made_with_the_quick_profile_of_today(name):
    P, settings = fcnlib.profile("quick"), _load(name)["settings"]
    now = dict(crop_size=list(P.crop_size), batch_size=P.batch_size, **P.recipe)
    constant_sgd = dict(optimizer="sgd", schedule="constant")  # what results that name no optimiser were made with
    then = {key: settings.get(key, constant_sgd.get(key)) for key in now}
    then["optimizer"] = then["optimizer"].lower()  # init_and_lr.json spells it "SGD"
    assert then == now, f"benchmarks/results/{name}.json is stale (made with {then}): rerun its command"
    assert settings.get("num_epochs", settings.get("ch4_epochs")) == P.num_epochs and settings["data"] == "synthetic"


def test_skip_seeds_holds_every_net_for_every_seed():
    payload = _load("skip_seeds")
    nets = {"FCN-32s, chapter 4", "FCN-32s", "FCN-16s", "FCN-8s"}
    assert {int(s) for s in payload["results"]} == set(payload["seeds"]) and payload["band"] == 3
    for seed, found in payload["results"].items():
        assert nets <= set(found), f"seed {seed} lacks {nets - set(found)}"
        assert all(0 < r["boundary"] < 1 and 0 < r["miou"] < 1 for r in found.values())


def test_init_and_lr_holds_every_row_for_every_seed():
    payload = _load("init_and_lr")
    rows, lr = payload["rows"], payload["settings"]["lr"]
    assert rows["bilinear, lr x 1"]["init"] == "bilinear" and rows["Xavier, lr x 1"]["init"] == "xavier"
    assert rows["Xavier, lr x 1"]["lr"] == pytest.approx(lr) and len(rows) >= 4
    for name, row in rows.items():
        factor = float(name.rsplit("x ", 1)[1])
        assert row["lr"] == pytest.approx(lr * factor), name
        assert sorted(int(s) for s in row["seeds"]) == sorted(payload["seeds"]), name
        for run in row["seeds"].values():
            if not run["diverged"]:
                assert len(run["miou_per_epoch"]) == payload["settings"]["num_epochs"]
                assert run["miou_per_epoch"][-1] == pytest.approx(run["miou"])
    assert 0 < payload["baseline"]["miou"] < payload["baseline"]["pixel_acc"] < 1


def test_reading_a_script_leaves_the_environment_alone():
    before = dict(os.environ)
    _script("skip_seeds")
    assert dict(os.environ) == before


def test_recipe_search_compares_with_todays_recipe_over_three_seeds(capsys):
    stored, P = _load("recipe"), fcnlib.profile("quick")
    old = stored["old"]["settings"]
    assert (old["optimizer"], old["lr"], old["momentum"], old["wd"], old["schedule"]) == (
        "sgd",
        0.001,
        0.9,
        1e-3,
        "constant",
    )
    assert (old["batch"], old["crop"], old["ch4_epochs"]) == (16, [128, 160], 2)  # the quick profile before the search
    today = stored["sgd-onecycle-5e-3"]["settings"]  # the quick profile's recipe: the old batch, so the old time
    assert (today["optimizer"], today["lr"], today["wd"], today["schedule"], today["batch"]) == (
        P.optimizer,
        P.lr,
        P.wd,
        P.schedule,
        P.batch_size,
    )
    for name in ("old", "sgd-onecycle-5e-3", "sgd-onecycle-1e-2-b4", "adamw-onecycle-3e-3-b4"):
        runs = stored[name]["seeds"]
        assert sorted(runs, key=int) == ["0", "1", "2"], name
        for run in runs.values():
            assert 0 < run["FCN-8s, chapter 6"]["boundary"] < run["FCN-8s, chapter 6"]["miou"] < 1
            assert shlex.split(run["command"])[:2] == ["python", "benchmarks/recipe.py"]
    recipes = {k: v for k, v in stored.items() if not k.startswith("_")}  # "_timing": --timing's runs
    _script("recipe").report(recipes)
    table = capsys.readouterr().out.splitlines()
    assert len(table) == 2 + sum(1 for v in recipes.values() if v["seeds"])
    assert P.num_epochs == old["ch4_epochs"] and list(P.crop_size) == old["crop"]
