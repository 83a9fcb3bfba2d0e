"""Chapters 4 and 5 type the training epoch, the metrics and prediction in the open; they must agree
with fcnlib's versions (which later chapters import) and with independent references (torchmetrics,
hand-counted values). The chapters' functions are read from the notebooks' JSON, so they cannot drift."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import fcnlib
from fcnlib.training import per_example_cross_entropy

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _cells(notebook: str) -> list[dict]:
    return json.loads((NOTEBOOKS / notebook).read_text(encoding="utf-8"))["cells"]


def _function(notebook: str, name: str) -> ast.FunctionDef:
    """The chapter's definition of ``name``, as typed in its code cell."""
    for cell in _cells(notebook):
        if cell["cell_type"] == "code" and f"def {name}(" in "".join(cell["source"]):
            tree = ast.parse("".join(cell["source"]))
            return next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name)
    raise AssertionError(f"{notebook} defines no {name}")


def _constant(node: ast.Assign) -> bool:
    """``NAME = ...`` or ``A, B = ...`` in capitals, computed from literals and torch alone."""
    targets = [t for target in node.targets for t in ast.walk(target) if isinstance(t, ast.Name)]
    names = [n.id for n in ast.walk(node.value) if isinstance(n, ast.Name)]
    return bool(targets) and all(t.id.isupper() for t in targets) and all(n == "torch" for n in names)


def definitions(notebook: str) -> dict:
    """The functions and constant assignments of every code cell of ``notebook``, nothing else run."""
    namespace = {"torch": torch, "F": F, "nn": nn, "fcnlib": fcnlib, "P": fcnlib.profile("quick", "cpu")}
    for cell in _cells(notebook):
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        if source.lstrip().startswith(("%", "# fcn-notebooks setup")):
            continue
        tree = ast.parse("\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%")))
        keep = [node for node in tree.body if isinstance(node, ast.FunctionDef)]
        keep += [n for n in tree.body if isinstance(n, ast.Assign) and _constant(n)]
        module = ast.Module(body=sorted(keep, key=lambda n: n.lineno), type_ignores=[])
        exec(compile(module, notebook, "exec"), namespace)
    return namespace


def solution(notebook: str, function: str) -> dict:
    """Run the folded solution (a ```python block in <details>) that defines ``function``."""
    for cell in _cells(notebook):
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and "<details>" in text:
            for block in re.findall(r"```python\n(.*?)```", text, flags=re.S):
                if f"def {function}(" in block:
                    namespace = {"torch": torch, "fcnlib": fcnlib}
                    exec(block, namespace)
                    return namespace
    raise AssertionError(f"{notebook} has no folded solution defining {function}")


@pytest.fixture(scope="module")
def ch4():
    return definitions("04_training.ipynb")


@pytest.fixture(scope="module")
def ch5():
    return definitions("05_prediction.ipynb")


# ---- chapter 4: loss, one epoch, confusion matrix, metrics


def test_chapter4_loss_is_fcnlibs_and_the_seeds_without_void(ch4):
    torch.manual_seed(0)
    for _ in range(20):
        scores, labels = torch.randn(3, 5, 6, 7), torch.randint(0, 5, (3, 6, 7))
        seed = F.cross_entropy(scores, labels, reduction="none").mean(1).mean(1)  # the seed's, verbatim
        torch.testing.assert_close(ch4["loss"](scores, labels), seed)
        labels[torch.rand(labels.shape) < 0.3] = 255
        labels[1] = 255  # an image with no labelled pixel: loss 0, not NaN
        torch.testing.assert_close(ch4["loss"](scores, labels), per_example_cross_entropy(scores, labels))
    by_hand = torch.tensor([[[[2.0, 0.0]], [[0.0, 2.0]]]]), torch.tensor([[[0, 255]]])
    assert ch4["loss"](*by_hand).item() == pytest.approx(0.12693, abs=1e-5)  # log(1 + e^-2): void skipped


def _tiny_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 1))


def test_chapter4_epoch_by_hand_gives_fcnlib_trains_weights(ch4):
    torch.manual_seed(1)
    batches = [(torch.randn(4, 3, 8, 10), torch.randint(0, 4, (4, 8, 10))) for _ in range(3)]
    batches[1][1][:, :2] = 255  # void pixels
    a, b = _tiny_net(), _tiny_net()

    def sgd(net):
        return torch.optim.SGD(net.parameters(), lr=0.05, weight_decay=1e-3, momentum=0.9)

    loss, acc = ch4["train_epoch_by_hand"](a, batches, ch4["loss"], sgd(a))
    history = fcnlib.train(b, batches, None, ch4["loss"], sgd(b), 1, "cpu", amp=False, channels_last=False,
                           progress=False)  # fmt: skip
    assert loss == pytest.approx(history[-1]["loss"], rel=1e-12)
    assert acc == pytest.approx(history[-1]["train_acc"], rel=1e-12)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), name
    assert not torch.equal(a[0].weight, _tiny_net()[0].weight)  # it did train


def test_chapter4_epoch_by_hand_steps_a_one_cycle_schedule_as_fcnlib_train(ch4):
    torch.manual_seed(3)
    batches = [(torch.randn(4, 3, 8, 10), torch.randint(0, 4, (4, 8, 10))) for _ in range(5)]
    a, b, c = _tiny_net(), _tiny_net(), _tiny_net()

    def one_cycle(net):
        trainer = torch.optim.SGD(net.parameters(), lr=0.05, weight_decay=1e-3, momentum=0.9)
        return trainer, torch.optim.lr_scheduler.OneCycleLR(trainer, max_lr=0.05, total_steps=len(batches))

    trainer_a, scheduler_a = one_cycle(a)
    ch4["train_epoch_by_hand"](a, batches, ch4["loss"], trainer_a, scheduler_a)
    trainer_b, scheduler_b = one_cycle(b)
    fcnlib.train(b, batches, None, ch4["loss"], trainer_b, 1, "cpu", amp=False, channels_last=False, progress=False,
                 scheduler=scheduler_b)  # fmt: skip
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), name
    assert scheduler_a.last_epoch == scheduler_b.last_epoch == len(batches)  # stepped once per batch
    ch4["train_epoch_by_hand"](c, batches, ch4["loss"], one_cycle(c)[0])  # the same rate all along
    assert not torch.equal(a[0].weight, c[0].weight)  # the schedule changed the steps


@pytest.mark.parametrize("name", ["quick", "full"])
def test_chapter4_optimiser_is_the_profiles_make_trainer(name):
    namespace = definitions("04_training.ipynb") | {"P": fcnlib.profile(name, "cpu")}
    P, net = namespace["P"], _tiny_net()
    exec(compile(ast.unparse(_function("04_training.ipynb", "optimiser")), "optimiser", "exec"), namespace)
    ours = namespace["optimiser"](net, 20)
    theirs = fcnlib.profiles.make_trainer(_tiny_net().parameters(), 20, **P.recipe)
    assert type(ours[0]) is type(theirs[0]) and ours[0].defaults == theirs[0].defaults
    assert (ours[1] is None) == (theirs[1] is None) == (P.schedule == "constant")
    for _ in range(20):
        rates = [t.param_groups[0]["lr"] for t, _ in (ours, theirs)]
        momenta = [t.param_groups[0].get("momentum") for t, _ in (ours, theirs)]
        assert rates[0] == pytest.approx(rates[1], rel=1e-12) and momenta[0] == pytest.approx(momenta[1], rel=1e-12)
        for trainer, scheduler in (ours, theirs):
            trainer.step()
            if scheduler is not None:
                scheduler.step()


def test_chapter4_confusion_matrix_by_hand_and_against_torchmetrics(ch4):
    from torchmetrics.classification import MulticlassConfusionMatrix

    n = ch4["confusion_matrix"](torch.tensor([[0, 1, 1], [1, 1, 2]]), torch.tensor([[0, 0, 1], [1, 2, 255]]), 3)
    assert n.tolist() == [[1, 1, 0], [0, 2, 0], [0, 1, 0]]  # counted by hand; void not counted
    torch.manual_seed(2)
    for c in (2, 7, 21):
        target, pred = torch.randint(0, c, (3, 20, 30)), torch.randint(0, c, (3, 20, 30))
        target[torch.rand(target.shape) < 0.1] = 255
        ours = ch4["confusion_matrix"](pred, target, c)
        ref = MulticlassConfusionMatrix(num_classes=c, ignore_index=255)(pred, target)
        assert torch.equal(ours, ref)
        cm = fcnlib.ConfusionMatrix(c)
        cm.update(pred, target)
        assert torch.equal(ours, cm.mat.cpu())


def test_chapter4_metrics_against_torchmetrics_and_fcnlib(ch4):
    from torchmetrics.classification import MulticlassAccuracy, MulticlassJaccardIndex

    torch.manual_seed(3)
    for c in (3, 7):
        target = torch.randint(0, c, (2, 16, 16))
        pred = torch.where(torch.rand(target.shape) < 0.6, target, torch.randint(0, c, target.shape))
        target[torch.rand(target.shape) < 0.1] = 255
        ours = ch4["segmentation_metrics"](ch4["confusion_matrix"](pred, target, c))
        kw = dict(num_classes=c, ignore_index=255)
        assert ours["pixel_acc"] == pytest.approx(MulticlassAccuracy(average="micro", **kw)(pred, target).item())
        assert ours["mean_acc"] == pytest.approx(MulticlassAccuracy(average="macro", **kw)(pred, target).item())
        assert ours["miou"] == pytest.approx(MulticlassJaccardIndex(average="macro", **kw)(pred, target).item())
        weighted = MulticlassJaccardIndex(average="weighted", **kw)(pred, target).item()
        assert ours["fw_iou"] == pytest.approx(weighted)
    # a class absent from labels and predictions is left out of the means, as fcnlib does
    target, pred = torch.tensor([0, 0, 1, 1]), torch.tensor([0, 1, 1, 1])
    ours = ch4["segmentation_metrics"](ch4["confusion_matrix"](pred, target, 4))
    cm = fcnlib.ConfusionMatrix(4)
    cm.update(pred, target)
    theirs = cm.compute()
    assert ours["miou"] == pytest.approx((1 / 2 + 2 / 3) / 2)  # by hand: classes 0 and 1 only
    for key in ours:
        assert ours[key] == pytest.approx(theirs[key])


def test_chapter4_dice_solution(ch4):
    dice = solution("04_training.ipynb", "dice")["dice"]
    n = torch.tensor([[1, 1, 0], [0, 2, 0], [0, 1, 0]])
    torch.testing.assert_close(dice(n), torch.tensor([2 / 3, 2 / 3, 0.0], dtype=torch.float64))


# ---- chapter 5: normalize, predict, label2image, padding


@pytest.fixture(scope="module")
def fcn():
    torch.manual_seed(0)
    return fcnlib.fcn_resnet18(num_classes=5, weights=None).eval()


def test_chapter5_normalize_is_fcnlibs(ch5):
    image = torch.randint(0, 256, (3, 17, 23), dtype=torch.uint8)
    torch.testing.assert_close(ch5["normalize"](image), fcnlib.data.normalize_image(image))
    assert ch5["normalize"](torch.full((3, 1, 1), 124, dtype=torch.uint8))[0].item() == pytest.approx(
        (124 / 255 - 0.485) / 0.229, abs=1e-6
    )


def test_chapter5_predict_and_label2image_are_fcnlibs(ch5, fcn):
    torch.manual_seed(1)
    for size in ((32, 32), (64, 96), (96, 64)):
        image = torch.randint(0, 256, (3, *size), dtype=torch.uint8)
        pred = ch5["predict"](fcn, image)
        assert pred.shape == size and pred.dtype == torch.int64
        assert torch.equal(pred, fcnlib.predict(fcn, image))
    colormap = [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128]]
    labels = torch.randint(0, 5, (7, 9))
    assert torch.equal(ch5["label2image"](labels, colormap), fcnlib.label2image(labels, colormap))
    assert ch5["label2image"](labels, colormap)[0, 0].tolist() == colormap[labels[0, 0]]


class FirstThreeChannels(nn.Module):
    """Scores = the normalised image itself: any misplaced padding or crop shows in the argmax."""

    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))

    def forward(self, x):
        return x * self.scale + torch.linspace(0, 1e-3, x.shape[-1])  # columns tell apart mirrored pixels


@pytest.mark.parametrize("size", [(33, 47), (64, 96), (131, 185), (40, 33)])
def test_chapter5_predict_padded_is_predict_full_pad(ch5, fcn, size):
    torch.manual_seed(size[0])
    image = torch.randint(0, 256, (3, *size), dtype=torch.uint8)
    net = FirstThreeChannels()
    # the bias depends on the padded width, so both must pad alike; then they agree wherever scores do not tie
    ours, theirs = ch5["predict_padded"](net, image), fcnlib.predict_full(net, image, mode="pad")
    assert ours.shape == size
    scores = fcnlib.inference.full_scores(net, image, mode="pad")
    margin = scores.topk(2, dim=0).values
    clear = (margin[0] - margin[1]) > 1e-4
    assert torch.equal(ours[clear], theirs[clear]) and clear.float().mean() > 0.99
    agree = (ch5["predict_padded"](fcn, image) == fcnlib.predict_full(fcn, image, mode="pad")).float().mean()
    assert agree > 0.999


def test_chapter5_tile_starts_solution():
    tile_starts = solution("05_prediction.ipynb", "tile_starts")["tile_starts"]
    for size in range(1, 300, 5):
        for crop, stride in ((32, 16), (64, 64), (96, 40)):
            assert tile_starts(size, crop, stride) == fcnlib.inference.tile_starts(size, crop, stride)
    assert tile_starts(500, 480, 240) == [0, 20]  # by hand: 0, then flush with the end at 500 - 480


# ---- the chapters' shape: exercises for the learner, links, numbers that outputs print


def _outputs_text(cells: list[dict]) -> str:
    texts = []
    for cell in cells:
        for out in cell.get("outputs", []):
            texts.append("".join(out.get("text", "")) + "".join(out.get("data", {}).get("text/plain", "")))
    return "\n".join(texts)


@pytest.mark.parametrize("notebook", ["04_training.ipynb", "05_prediction.ipynb"])
def test_chapter_has_three_your_turn_cells_solutions_and_links(notebook):
    cells = _cells(notebook)
    markdown = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    turns = [m for m in markdown if re.search(r"^(#+ )?Your turn", m, flags=re.M)]
    assert len(turns) >= 3, f"{notebook}: {len(turns)} 'Your turn' cells, want at least 3"
    assert sum(m.count("<details>") for m in markdown) >= 3
    assert "**Previous:**" in markdown[-1] and "**Next:**" in markdown[-1]


@pytest.mark.parametrize("notebook", ["04_training.ipynb", "05_prediction.ipynb"])
def test_every_measured_number_in_the_prose_is_printed_by_an_output(notebook):
    """A decimal or a percentage in the Markdown (outside folded solutions and code) must appear in some
    stored output (fenced code excepted), so prose cannot quote a result the chapter no longer prints."""
    cells = _cells(notebook)
    printed = _outputs_text(cells)
    stale = []
    for cell in cells:
        if cell["cell_type"] != "markdown":
            continue
        prose = re.sub(r"<details>.*?</details>", "", "".join(cell["source"]), flags=re.S)
        prose = re.sub(r"```.*?```|\]\([^)]*\)", "", prose, flags=re.S)
        stale += [n for n in re.findall(r"(?<![\w.])\d+(?:\.\d+%?|%)", prose) if n not in printed]
    assert not stale, f"{notebook} quotes {stale} in its prose, but no stored output prints them"
