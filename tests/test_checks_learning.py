"""fcnlib.checks.learning: chapter 4's "Your turn" checks say Right, Not quite or Not written yet, accept right
answers in other forms, never raise, and return the reference computed independently of the learner."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from fcnlib.checks import check_dice, check_training_step


class _Cropped(Dataset):
    num_classes, crop_size = 7, (128, 160)

    def __len__(self):
        return 50

    def __getitem__(self, i):
        return torch.zeros(1), torch.zeros(1)


LOADER = DataLoader(_Cropped(), batch_size=16, drop_last=True)  # 50 // 16 = 3 steps
N = torch.tensor([[1, 1, 0], [0, 2, 0], [0, 1, 0]])  # chapter 4's tiny example; IoUs 1/2, 2/4, 0


def test_training_step_right_in_any_form(capsys):
    for shape in ((16, 7, 128, 160), [16, 7, 128, 160], torch.Size([16, 7, 128, 160]), np.array([16, 7, 128, 160])):
        expected = check_training_step({"steps per epoch": np.int64(3), "shape of scores": shape}, LOADER)
        assert capsys.readouterr().out.startswith("Right! 3 steps per epoch")
    assert expected == {"steps per epoch": 3, "shape of scores": (16, 7, 128, 160)}


def test_training_step_wrong_and_unwritten(capsys):
    check_training_step({"steps per epoch": 3, "shape of scores": (16, 128, 160, 7)}, LOADER)
    out = capsys.readouterr().out
    assert out.startswith("Not quite") and "(16, 7, 128, 160)" in out and out.count("\n") == 1
    check_training_step({"steps per epoch": 50 / 16, "shape of scores": None}, LOADER)
    assert capsys.readouterr().out.startswith("Not quite: 'steps per epoch' is 3")
    check_training_step({"steps per epoch": None, "shape of scores": None}, LOADER)
    assert capsys.readouterr().out.startswith("Not written yet")
    check_training_step({"steps per epoch": "3", "shape of scores": "(16, 7, 128, 160)"}, LOADER)
    assert capsys.readouterr().out.startswith("Not quite: 'steps per epoch' is 3, not '3'")  # a string shows as one


def test_dice_right_wrong_unwritten_and_raising(capsys):
    def right(n):
        n = n.double()
        return 2 * n.diagonal() / (n.sum(1) + n.sum(0))

    assert check_dice(right, N) == [0.667, 0.667, 0.0]
    assert capsys.readouterr().out.startswith("Right!")
    check_dice(lambda n: right(n).tolist(), N)  # a list is right too
    assert capsys.readouterr().out.startswith("Right!")
    check_dice(lambda n: [0.667, 0.667, 0.0], N)  # rounded as the check prints it: 2/3 by hand, within 5e-4
    assert capsys.readouterr().out.startswith("Right!")
    check_dice(lambda n: [0.666, 0.667, 0.0], N)  # off by more than the rounding (2/3 - 0.666 = 6.7e-4)
    assert capsys.readouterr().out.startswith("Not quite: got")
    check_dice(lambda n: n.diagonal() / n.sum(1), N)  # the class accuracies
    assert capsys.readouterr().out.startswith("Not quite: got")
    check_dice(lambda n: None, N)
    assert capsys.readouterr().out.startswith("Not written yet")
    check_dice(lambda n: n.diagonal()[:2], N)  # wrong length
    assert capsys.readouterr().out.startswith("Not quite")
    check_dice(lambda n: 1 / 0, N)
    assert capsys.readouterr().out.startswith("Not quite: your dice raised ZeroDivisionError")
