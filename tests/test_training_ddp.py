"""fcnlib.train under torch.distributed (issue 17): two CPU processes on gloo, DistributedDataParallel."""

import math

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler

import fcnlib


def tiny_net(seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.Conv2d(6, 3, 1))


def tiny_set(n, seed):
    X = torch.randn(n, 3, 8, 12, generator=torch.Generator().manual_seed(seed))
    return TensorDataset(X, X.argmax(1))


class RecordingSampler(DistributedSampler):
    def set_epoch(self, epoch):
        self.epochs_set = [*getattr(self, "epochs_set", []), epoch]
        super().set_epoch(epoch)


def _rank(rank, world, folder):
    dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=world)
    try:
        torch.set_num_threads(1)
        net = torch.nn.parallel.DistributedDataParallel(tiny_net())
        train_set, test_set = tiny_set(32, 0), tiny_set(8, 1)
        sampler = RecordingSampler(train_set, shuffle=True, seed=0)
        train_iter = DataLoader(train_set, batch_size=4, sampler=sampler)
        test_iter = DataLoader(test_set, batch_size=2, sampler=DistributedSampler(test_set, shuffle=False))
        trainer = torch.optim.SGD(net.parameters(), lr=0.05)
        history = fcnlib.train(
            net, train_iter, test_iter, None, trainer, 1, None, checkpoint=folder / "ck.pt", progress=rank == 0
        )
        metrics = fcnlib.evaluate(net, test_iter)
        result = {"history": list(history), "evaluate": metrics["miou"], "epochs_set": sampler.epochs_set}
        torch.save({"result": result, "weights": net.module.state_dict()}, folder / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_two_processes_report_the_same_numbers_as_one(tmp_path, capfd):
    mp.spawn(_rank, args=(2, tmp_path), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    (h0, h1) = (r["result"]["history"] for r in ranks)
    for key in ("loss", "train_acc", "pixel_acc", "miou", "examples"):
        assert h0[0][key] == h1[0][key], key  # reduced over both processes
    assert h0[0]["examples"] == 32 and math.isfinite(h0[0]["loss"])
    assert ranks[0]["result"]["epochs_set"] == ranks[1]["result"]["epochs_set"] == [0]
    for a, b in zip(ranks[0]["weights"].values(), ranks[1]["weights"].values()):
        assert torch.equal(a, b)  # DDP keeps the replicas in step
    # One checkpoint, loadable into a plain net; its single-process evaluation equals what both ranks said.
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["ck.pt", "rank0.pt", "rank1.pt"]
    net = tiny_net(seed=5)
    assert len(fcnlib.load_checkpoint(tmp_path / "ck.pt", net)) == 1
    single = fcnlib.evaluate(net, DataLoader(tiny_set(8, 1), batch_size=2))
    assert single["miou"] == ranks[0]["result"]["evaluate"] == ranks[1]["result"]["evaluate"] == h0[0]["miou"]
    assert single["pixel_acc"] == h1[0]["pixel_acc"]
    assert capfd.readouterr().out.count("examples/sec") == 1  # only rank 0 reports
