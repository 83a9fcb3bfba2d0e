"""Learning-rate schedules: fcnlib.train steps a scheduler after every batch (its state saved and resumed with the
checkpoint); make_trainer builds d2l's SGD or AdamW with one-cycle; fcnlib.experiments' runs follow a recipe."""

import math
from dataclasses import replace

import pytest
import torch
from test_train import InterruptingLoader
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from fcnlib import experiments, fcn_resnet18, profile
from fcnlib.model import init_from
from fcnlib.profiles import make_trainer
from fcnlib.training import load_checkpoint, train

CPU = [torch.device("cpu")]


def tiny_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 3, 1))


def tiny_data(n=40, batch_size=8):  # 5 batches an epoch
    g = torch.Generator().manual_seed(0)
    X = torch.randn(n, 3, 8, 12, generator=g)
    return DataLoader(TensorDataset(X, X.argmax(1)), batch_size=batch_size, shuffle=False)


def lrs_used(trainer):
    """The learning rate of every ``trainer.step()``, recorded as it is called."""
    seen = []
    trainer.register_step_pre_hook(lambda opt, args, kwargs: seen.append(opt.param_groups[0]["lr"]))
    return seen


def test_scheduler_steps_once_after_every_batch():
    net = tiny_net()
    trainer = torch.optim.SGD(net.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(trainer, lambda step: 1 / (step + 1))
    seen = lrs_used(trainer)
    train(net, tiny_data(), None, None, trainer, 2, CPU, scheduler=scheduler, progress=False)
    assert seen == pytest.approx([0.1 / (k + 1) for k in range(10)])  # 2 epochs of 5 batches: 0.1, 0.05, 0.0333, ...
    assert scheduler.last_epoch == 10


def test_same_weights_as_setting_the_rate_by_hand():
    rates = [0.2, 0.1, 0.05, 0.4, 0.3]
    by_hand, scheduled = tiny_net(), tiny_net()
    trainer = torch.optim.SGD(by_hand.parameters(), lr=rates[0])
    loss = nn.CrossEntropyLoss(reduction="none")
    for (X, y), lr in zip(tiny_data(), rates):
        trainer.param_groups[0]["lr"] = lr
        trainer.zero_grad()
        loss(by_hand(X), y).mean((1, 2)).sum().backward()
        trainer.step()
    trainer = torch.optim.SGD(scheduled.parameters(), lr=1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(trainer, lambda step: rates[min(step, 4)])
    train(scheduled, tiny_data(), None, None, trainer, 1, CPU, scheduler=scheduler, progress=False, channels_last=False)
    for a, b in zip(by_hand.state_dict().values(), scheduled.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_resume_continues_the_schedule(tmp_path):
    def run(net, epochs, **kwargs):
        trainer = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(trainer, 0.5, total_steps=20)
        train(net, tiny_data(), None, None, trainer, epochs, CPU, scheduler=scheduler, progress=False, **kwargs)
        return scheduler

    straight = tiny_net()
    run(straight, 4)
    path = tmp_path / "ck.pt"
    run(tiny_net(), 2, checkpoint=path)
    resumed = tiny_net(seed=123)
    scheduler = run(resumed, 4, checkpoint=path, resume=True)
    assert scheduler.last_epoch == 20  # 10 steps before the checkpoint, 10 after
    for a, b in zip(straight.state_dict().values(), resumed.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_make_trainer_defaults_are_d2ls_sgd():
    net = nn.Linear(2, 1)
    trainer, scheduler = make_trainer(net.parameters(), 10)
    assert type(trainer) is torch.optim.SGD and scheduler is None
    assert (trainer.defaults["lr"], trainer.defaults["weight_decay"], trainer.defaults["momentum"]) == (0.001, 1e-3, 0)
    with pytest.raises(ValueError, match="optimizer"):
        make_trainer(net.parameters(), 10, optimizer="rmsprop")
    with pytest.raises(ValueError, match="schedule"):
        make_trainer(net.parameters(), 10, schedule="cosine")


def test_one_cycle_against_the_hand_computed_schedule():
    net = nn.Linear(2, 1)
    trainer, scheduler = make_trainer(net.parameters(), 10, optimizer="adamw", lr=1.0, wd=0.1, schedule="onecycle")
    assert type(trainer) is torch.optim.AdamW and trainer.defaults["weight_decay"] == 0.1
    seen = lrs_used(trainer)
    for _ in range(10):
        trainer.step()
        scheduler.step()
    # 30% of 10 steps rising from lr / 25 to lr along half a cosine (steps 0, 1, 2), then falling to lr / 25 / 1e4
    # along half a cosine over the 7 steps left: lr_min + (lr - lr_min) / 2 * (1 + cos(pi * k / 7)), k = 1..7
    low, least = 1 / 25, 1 / 25 / 1e4
    rising = [low, low + (1 - low) / 2, 1.0]
    falling = [least + (1 - least) / 2 * (1 + math.cos(math.pi * k / 7)) for k in range(1, 8)]
    assert seen == pytest.approx(rising + falling)


def fcn_data():  # 4 images of 32x32, 3 classes: 2 batches an epoch
    g = torch.Generator().manual_seed(0)
    X, y = torch.rand(4, 3, 32, 32, generator=g), torch.randint(0, 3, (4, 32, 32), generator=g)
    return DataLoader(TensorDataset(X, y), batch_size=2, shuffle=True)


def by_hand(net, epochs, lr=0.01):
    """AdamW and OneCycleLR over all of ``epochs`` x 2 batches, built here; seeded as fcnlib.experiments does."""
    trainer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(trainer, max_lr=lr, total_steps=2 * epochs)
    torch.manual_seed(1)
    train(net, fcn_data(), None, None, trainer, epochs, "cpu", scheduler=scheduler, progress=False)
    return net


def assert_same_weights(a, b):
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), name


def test_train_fcn_and_train_variant_follow_the_recipe():
    recipe = dict(optimizer="adamw", lr=0.01, wd=1e-4, momentum=0.0, schedule="onecycle")
    kwargs = dict(weights=None, num_classes=3, progress=False)
    net32, _ = experiments.train_fcn(fcn_data(), None, num_epochs=2, devices="cpu", **recipe, **kwargs)
    torch.manual_seed(0)
    assert_same_weights(net32, by_hand(fcn_resnet18(3, weights=None), 2))

    P = replace(profile("quick", device=torch.device("cpu")), **recipe)
    net8, _ = experiments.train_variant("8s", fcn_data(), None, P, init=net32, num_epochs=1, **kwargs)
    torch.manual_seed(0)
    start = fcn_resnet18(3, "8s", weights=None)
    init_from(start, net32)
    assert_same_weights(net8, by_hand(start, 1))
    assert experiments.comparison_settings(P, seed=2) == dict(seed=2, **recipe)


def test_ctrl_c_mid_epoch_then_resume_runs_the_whole_schedule_once(tmp_path):
    path, epochs, steps = tmp_path / "ck.pt", 4, 20

    def run(net, loader, **kwargs):
        trainer = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(trainer, 0.5, total_steps=steps)
        seen = lrs_used(trainer)
        train(net, loader, None, None, trainer, epochs, CPU, scheduler=scheduler, progress=False, **kwargs)
        return scheduler, seen

    stopping = InterruptingLoader(tiny_data(), epoch=2, at=3)  # Ctrl-C at batch 4 of epoch 2
    _, before = run(tiny_net(), stopping, checkpoint=path)
    assert len(before) == 5 + 3  # epoch 1 done, 3 steps of epoch 2, then Ctrl-C
    scheduler, after = run(tiny_net(seed=9), tiny_data(), checkpoint=path, resume=True)
    _, straight = run(tiny_net(), tiny_data())
    assert scheduler.last_epoch == steps  # epoch 2 again from its start: no step past the schedule's end
    assert before[:5] + after == pytest.approx(straight)  # the same rate at every step as a run never stopped


def test_resume_refuses_another_schedule_than_the_saved_one(tmp_path):
    path = tmp_path / "ck.pt"

    def run(epochs, lr=0.5, wd=0.0, schedule=True, **kwargs):
        net = tiny_net()
        trainer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9, weight_decay=wd)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(trainer, lr, total_steps=5 * epochs) if schedule else None
        return train(net, tiny_data(), None, None, trainer, epochs, CPU, scheduler=scheduler, progress=False, **kwargs)

    run(2, checkpoint=path)
    before = path.read_bytes()
    saved = (
        "trained with a learning-rate schedule of 10 steps peaking at [0.5] with weight decay [0.0] and this run has"
    )
    for changed, now in [
        (dict(epochs=3), "a learning-rate schedule of 15 steps peaking at [0.5] with weight decay [0.0]"),
        (dict(epochs=2, lr=0.1), "a learning-rate schedule of 10 steps peaking at [0.1] with weight decay [0.0]"),
        (dict(epochs=2, wd=0.1), "a learning-rate schedule of 10 steps peaking at [0.5] with weight decay [0.1]"),
        (dict(epochs=2, schedule=False), "a constant one"),
    ]:
        with pytest.raises(ValueError) as info:
            run(**changed, checkpoint=path, resume=True)
        assert f"{saved} {now}: resume with the settings of the run that saved it" in str(info.value), changed
    assert path.read_bytes() == before
    assert len(run(2, checkpoint=path, resume=True)) == 2  # the same settings: resumed (nothing left to do)


def test_weights_alone_load_from_a_one_cycle_run(tmp_path):
    path, net = tmp_path / "ck.pt", tiny_net()
    trainer, scheduler = make_trainer(net.parameters(), 10, lr=0.5, momentum=0.9, schedule="onecycle")
    train(net, tiny_data(), None, None, trainer, 2, CPU, scheduler=scheduler, checkpoint=path, progress=False)
    loaded = tiny_net(seed=1)  # other weights, no trainer: evaluation or prediction, not a resumed run
    assert len(load_checkpoint(path, loaded)) == 2
    for a, b in zip(net.state_dict().values(), loaded.state_dict().values(), strict=True):
        assert torch.equal(a, b)


def test_resume_refuses_to_start_a_schedule_in_the_middle_of_a_run(tmp_path):
    path, net = tmp_path / "ck.pt", tiny_net()
    trainer = torch.optim.SGD(net.parameters(), lr=0.5)
    train(net, tiny_data(), None, None, trainer, 1, CPU, checkpoint=path, progress=False)  # a constant rate
    scheduler = torch.optim.lr_scheduler.OneCycleLR(trainer, 0.5, total_steps=10)
    with pytest.raises(
        ValueError, match="trained with a constant learning rate and this run has a learning-rate schedule of 10 steps"
    ):
        train(net, tiny_data(), None, None, trainer, 2, CPU, checkpoint=path, resume=True, scheduler=scheduler)
    assert len(train(net, tiny_data(), None, None, trainer, 2, CPU, checkpoint=path, resume=True, progress=False)) == 2


def test_one_cycle_keeps_each_parameter_groups_own_rate():
    net = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    groups = [{"params": net[0].parameters()}, {"params": net[1].parameters(), "lr": 0.1}]  # e.g. param_groups' skips
    trainer, scheduler = make_trainer(groups, 10, lr=1.0, schedule="onecycle")
    assert [g["lr"] for g in trainer.param_groups] == pytest.approx(
        [1 / 25, 0.1 / 25]
    )  # OneCycleLR starts at peak / 25
    assert [g["max_lr"] for g in trainer.param_groups] == [1.0, 0.1]
