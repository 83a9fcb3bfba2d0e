"""fcnlib.train and fcnlib.evaluate on every device: nothing float64 on the training device (Apple's MPS has no
float64: pytorch/pytorch#122602), and evaluation under torchrun counts each image once (DistributedSampler pads)."""

import math
import traceback

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from test_train import CPU, DEVICES, run_quiet, tiny_data, tiny_net
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

import fcnlib
import fcnlib.metrics


class Float64Recorder(TorchDispatchMode):
    """Records every op that makes a float64 tensor on ``device`` (with where it was called from)."""

    def __init__(self, device):
        super().__init__()
        self.device, self.made, self.host = torch.device(device), [], False

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            on_device = isinstance(t, torch.Tensor) and t.device.type == self.device.type
            if on_device and t.dtype == torch.float64 and not self.host:
                self.made.append(f"{func} on {t.device}\n{''.join(traceback.format_stack(limit=8)[:-1])}")
        return out


@pytest.mark.parametrize("device", DEVICES)
def test_training_and_evaluation_make_no_float64_on_the_device(device, monkeypatch):
    """What chapter 4 runs (fcnlib.train with a test set, then fcnlib.evaluate), recorded op by op. The one place
    allowed float64 is the host's metric arithmetic, and it must get its counts on the CPU."""
    recorder = Float64Recorder(device)
    original = fcnlib.metrics.metrics_from_confusion

    def host_metrics(mat):
        assert mat.device.type == "cpu", "the confusion matrix must reach the float64 arithmetic on the CPU"
        recorder.host = True
        try:
            return original(mat)
        finally:
            recorder.host = False

    monkeypatch.setattr(fcnlib.metrics, "metrics_from_confusion", host_metrics)
    net, test_iter = tiny_net(), tiny_data(n=16, seed=1, void=True)
    trainer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    with recorder:
        history = run_quiet(net, tiny_data(void=True), test_iter, None, trainer, 2, [device], progress=True)
        metrics = fcnlib.evaluate(net, test_iter)
        boundary = fcnlib.training.boundary_miou(net, test_iter)
    assert not recorder.made, "float64 made on the training device:\n" + "\n".join(recorder.made[:3])
    assert len(history) == 2 and math.isfinite(history[-1]["loss"]) and metrics["miou"] == history[-1]["miou"]
    assert 0 <= boundary["miou"] <= 1


def test_the_recorder_catches_float64_on_the_device():
    """The check above can fail: the float64 sums fcnlib.train used before are seen."""
    with Float64Recorder("cpu") as recorder:
        sums = torch.zeros(4, dtype=torch.float64, device="cpu")
        sums[:3] += torch.stack([torch.tensor(2.0).double(), torch.tensor(1).double(), torch.tensor(3).double()])
    assert recorder.made and "aten.zeros" in recorder.made[0]


def test_epoch_loss_sums_stay_exact_in_float32_windows():
    """The loss is summed in float32 on the device between looks and in float64 here: d2l's float64 sum of
    the same per-batch losses (computed by hand) agrees to 1e-6."""
    net, data = tiny_net(), tiny_data(n=64, batch_size=4)
    reference = tiny_net()
    trainer = torch.optim.SGD(net.parameters(), lr=0.01)
    ref_trainer = torch.optim.SGD(reference.parameters(), lr=0.01)
    history = run_quiet(net, data, None, None, trainer, 1, CPU, channels_last=False)
    total, examples = 0.0, 0
    reference.train()
    for X, y in data:
        ref_trainer.zero_grad()
        loss = fcnlib.training.per_example_cross_entropy(reference(X), y).sum()
        loss.backward()
        ref_trainer.step()
        total, examples = total + loss.item(), examples + len(y)
    assert history[0]["loss"] == pytest.approx(total / examples, rel=1e-6)


# ----------------------------------------------------------------------------- torchrun: padded samples
def _tiny_set(n, seed):
    X = torch.randn(n, 3, 8, 12, generator=torch.Generator().manual_seed(seed))
    return TensorDataset(X, X.argmax(1))


def _evaluate_rank(rank, world, folder, sizes):
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world)
    try:
        torch.set_num_threads(1)
        net, results = tiny_net(seed=1).eval(), {}
        for n in sizes:
            test_set = _tiny_set(n, seed=n)
            for shuffle in (False, True):
                sampler = DistributedSampler(test_set, shuffle=shuffle, seed=3)
                loader = DataLoader(test_set, batch_size=2, sampler=sampler)
                m = fcnlib.evaluate(net, loader)
                cm = fcnlib.training._confusions(net, loader, None, None, {"all": lambda y: y}, 255, False, False)
                results[n, shuffle] = (m["miou"], m["pixel_acc"], int(cm["all"].mat.sum()))
        torch.save(results, folder / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_evaluate_under_torchrun_counts_every_image_once(tmp_path):
    """DistributedSampler pads the last round with repeated images (7 images, 2 processes: 8 slots; 1 image: one
    process gets only the repeat); evaluate must score each image once, as a single process does."""
    sizes = (7, 1, 8)
    mp.spawn(_evaluate_rank, args=(2, tmp_path, sizes), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    net = tiny_net(seed=1).eval()
    for n in sizes:
        single = fcnlib.evaluate(net, DataLoader(_tiny_set(n, seed=n), batch_size=2))
        for shuffle in (False, True):
            miou, acc, pixels = ranks[0][n, shuffle]
            assert pixels == n * 8 * 12, (n, shuffle, pixels)
            assert miou == pytest.approx(single["miou"], abs=1e-12) and acc == pytest.approx(single["pixel_acc"])
            assert ranks[1][n, shuffle] == ranks[0][n, shuffle]
