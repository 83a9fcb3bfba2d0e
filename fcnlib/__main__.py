"""The command line: python -m fcnlib train | evaluate | predict (--help on each). Several GPUs or processes:
torchrun --nproc_per_node=N -m fcnlib train ... (DistributedDataParallel, NCCL on CUDA, gloo on the CPU)."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
from pathlib import Path

import torch
from torch import distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

import fcnlib
from fcnlib import data
from fcnlib.data.loader import StepLimit as _Loader  # --max-steps

SEVERAL = """several processes: torchrun --nproc_per_node=N -m fcnlib train ... (one per GPU, or N on the CPU), each
taking --batch-size images per step from its own shard. The loss is summed over each process's batch (the seed's)
and DDP averages the gradients, so N processes step like one on N x batch-size images with lr / N and weight decay
x N: to keep one process's step, multiply --lr by N and divide --weight-decay by N. BatchNorm uses each process's
batch statistics unless --sync-bn (CUDA). Rank 0 alone prints and saves; all report every process's metrics."""

EXAMPLES = {
    "train": "python -m fcnlib train --data synthetic --epochs 3 --checkpoint runs/fcn.pt\n"
    "  torchrun --nproc_per_node=2 -m fcnlib train --data voc --variant 8s --checkpoint runs/fcn8s.pt --resume",
    "evaluate": "python -m fcnlib evaluate --checkpoint runs/fcn.pt --data synthetic",
    "predict": "python -m fcnlib predict --checkpoint runs/fcn.pt photo.jpg other.png --out predictions/",
}


def _voc_dir(args: argparse.Namespace, parser: argparse.ArgumentParser) -> Path:
    """The VOC-format folder ``--data`` names; the teaching dataset is generated under ``--data-root``."""
    root = Path(args.data_root).expanduser() if args.data_root else data.default_root()
    if args.data == "synthetic":
        size = tuple(args.image_size)
        return data.ensure_synthetic_voc(root / "synthetic", args.n_train, args.n_val, seed=0, image_size=size)[0]
    where = root if args.data == "voc" else Path(args.data).expanduser()
    if (found := data.find_voc_dir(where)) is None:
        get = "python -c 'import fcnlib.data as d; d.download_voc()' gets it; pass --data PATH, or use --data synthetic"
        parser.error(f"--data {args.data}: no VOC-format folder (VOCdevkit/VOC2012) at {where}; {get}")
    return found


def _loaders(args, parser, rank: int, world: int) -> tuple[_Loader, DataLoader]:
    """Training batches from a DistributedSampler (shuffled, seeded); test batches of rank ``r`` from images
    ``r, r + N, ...`` (DistributedSampler would repeat images to even out the shards, counting them twice)."""
    voc_dir = _voc_dir(args, parser) if rank == 0 else None
    if world > 1:  # rank 0 generates the teaching dataset (if needed) before the others read it
        dist.broadcast_object_list(box := [voc_dir], src=0)
        voc_dir = box[0]
    try:
        with contextlib.redirect_stdout(io.StringIO()) if rank else contextlib.nullcontext():
            loaders = data.load_data_voc(1, args.crop_size, root=voc_dir)  # for its datasets and collate_fn
    except (ValueError, FileNotFoundError) as err:
        parser.error(str(err))
    train_set, test_set = loaders[0].dataset, loaders[1].dataset
    if (args.command == "train" and len(train_set) < args.batch_size * world) or len(test_set) < world:
        few = f"{len(train_set)} training and {len(test_set)} validation images are too few for {world} process(es)"
        parser.error(f"{few} of --batch-size {args.batch_size}: lower --batch-size or use more images")
    common = dict(collate_fn=loaders[0].collate_fn, num_workers=args.num_workers, pin_memory=torch.cuda.is_available())
    sampler = DistributedSampler(train_set, world, rank, shuffle=True, seed=args.seed, drop_last=True)
    train_iter = DataLoader(train_set, args.batch_size, sampler=sampler, drop_last=True, **common)
    test_iter = DataLoader(test_set, args.batch_size, sampler=range(rank, len(test_set), world), **common)
    return _Loader(train_iter, args.max_steps), test_iter


def train(args, parser) -> int:
    if args.resume and not args.checkpoint:
        parser.error("--resume continues from --checkpoint PATH; give that path too")
    if args.sync_bn and args.device.type != "cuda":
        parser.error("--sync-bn synchronises BatchNorm across CUDA GPUs only; drop it here")
    device, rank, world = args.device, 0, 1
    if "RANK" in os.environ:  # under torchrun: join its process group
        if device.type == "mps":
            parser.error("several processes need CUDA (NCCL) or the CPU (gloo); use --device cpu or cuda")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
    torch.manual_seed(args.seed)
    try:
        train_iter, test_iter = _loaders(args, parser, rank, world)
        weights = {"none": None}.get(args.weights, args.weights)
        net = fcnlib.fcn_resnet18(train_iter.dataset.num_classes, args.variant, weights=weights).to(device)
        trainer = torch.optim.SGD(net.parameters(), args.lr, momentum=args.momentum, weight_decay=args.weight_decay)
        if dist.is_initialized():  # under torchrun, even with one process
            if args.sync_bn:
                net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
            if device.type in fcnlib.training.CHANNELS_LAST_DEVICES:
                net = net.to(memory_format=torch.channels_last)  # before DDP builds its gradient buckets
            net = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
        if rank == 0:
            (h, w), sgd = args.crop_size, f"SGD lr {args.lr} momentum {args.momentum} weight decay {args.weight_decay}"
            run = f"batch {args.batch_size} each, crops {h}x{w}, {args.epochs} epochs, {sgd}"
            print(f"FCN-{args.variant} on {device.type} x {world} process(es): {run}; {len(train_iter)} steps/epoch")
        kwargs = dict(checkpoint=args.checkpoint, resume=args.resume)
        history = fcnlib.train(net, train_iter, test_iter, None, trainer, args.epochs, [device], **kwargs)
        if args.dump_state:  # tests: every rank's final weights and reported metrics
            state = {"model": getattr(net, "module", net).state_dict(), "history": list(history)}
            torch.save(state, Path(args.dump_state) / f"rank{rank}.pt")
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


def _load(args, parser) -> nn.Module:
    """The net saved in ``--checkpoint`` (variant and classes read from its weights), on ``--device``."""
    try:
        state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)["model"]
        num_classes, kernel = state["final_conv.weight"].shape[0], state["transpose_conv.weight"].shape[-1]
    except (OSError, KeyError, TypeError, RuntimeError) as err:
        parser.error(f"--checkpoint {args.checkpoint} is not a checkpoint of python -m fcnlib train ({err!r})")
    net = fcnlib.fcn_resnet18(num_classes, f"{kernel // 2}s", weights=None)
    fcnlib.load_checkpoint(args.checkpoint, net)
    return net.to(args.device)


def evaluate(args, parser) -> int:
    net = _load(args, parser)
    test_iter = _loaders(args, parser, 0, 1)[1]
    metrics = fcnlib.evaluate(net, test_iter)
    print("  ".join(f"{k} {metrics[k]:.4f}" for k in ("pixel_acc", "mean_acc", "miou", "fw_iou")))
    for name, iou in zip(test_iter.dataset.classes, metrics["iou"].tolist()):
        print(f"  IoU {name:<14} {iou:.4f}")
    return 0


def predict(args, parser) -> int:
    from PIL import Image

    net = _load(args, parser)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for path in map(Path, args.images):
        if not path.is_file():
            parser.error(f"no image at {path}; give paths of JPEG or PNG files")
        image = data.read_image(path)
        pred = fcnlib.predict_full(net, image, args.crop_size, mode=args.mode)
        label = Image.fromarray(pred.to(torch.uint8).numpy(), mode="P")
        label.putpalette(data.voc_palette())
        label.save(out / f"{path.stem}_label.png")  # VOC's format: class indices with VOC's colours
        overlay = (image.permute(1, 2, 0).float() + fcnlib.label2image(pred).float()) / 2
        Image.fromarray(overlay.round().to(torch.uint8).numpy()).save(out / f"{path.stem}_overlay.png")
        print(f"{path} -> {out / (path.stem + '_label.png')}, {out / (path.stem + '_overlay.png')}")
    return 0


def _whole(multiple: int = 1):
    """An argparse type: a whole number >= 1 and a multiple of ``multiple``."""

    def check(text: str) -> int:
        if not text.isdigit() or int(text) < multiple or int(text) % multiple:
            what = f"a multiple of {multiple} (the FCN's stride)" if multiple > 1 else "a positive whole number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return int(text)

    return check


def build_parser() -> argparse.ArgumentParser:
    """``fcnlib``'s argument parser: subcommands train, evaluate and predict, each with an example."""
    fmt = argparse.RawDescriptionHelpFormatter
    examples = "examples:\n" + "\n".join(f"  {e}" for e in EXAMPLES.values())
    parser = argparse.ArgumentParser("python -m fcnlib", description=__doc__, epilog=examples, formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,evaluate,predict}")
    commands = {}
    for func, name, text in (
        (train, "train", "train an FCN (one process, or several with torchrun)"),
        (evaluate, "evaluate", "the four metrics and per-class IoU of a checkpoint on the validation split"),
        (predict, "predict", "VOC-coloured label PNGs and overlays for images of any size"),
    ):
        epilog = f"example:\n  {EXAMPLES[name]}" + (f"\n\n{SEVERAL}" if name == "train" else "")
        cmd = sub.add_parser(name, help=text, description=text, epilog=epilog, formatter_class=fmt)
        cmd.set_defaults(func=func, parser=cmd)
        cmd.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
        cmd.add_argument("--crop-size", nargs=2, type=_whole(32), metavar=("H", "W"), help="default: the profile's")
        commands[name] = cmd
    for cmd in (commands["train"], commands["evaluate"]):
        cmd.add_argument("--data", default="synthetic", help="voc, synthetic (default) or a VOC-format folder")
        cmd.add_argument("--data-root", help="the folder of --data voc and synthetic (default: data/)")
        cmd.add_argument("--n-train", type=_whole(), help="generated training images (default: the profile's)")
        cmd.add_argument("--n-val", type=_whole(), help="generated validation images (default: the profile's)")
        cmd.add_argument("--image-size", nargs=2, type=_whole(), metavar=("H", "W"), help="of generated images")
        cmd.add_argument("--batch-size", type=_whole(), help="images per process and step (default: the profile's)")
        cmd.add_argument("--num-workers", type=int, default=0, help="DataLoader worker processes per process")
    for cmd in (commands["evaluate"], commands["predict"]):
        cmd.add_argument("--checkpoint", required=True, help="a file written by train (or by a chapter)")
    t = commands["train"]
    t.add_argument("--variant", choices=("32s", "16s", "8s"), default="32s")
    t.add_argument("--epochs", type=_whole(), help="epochs in all, those resumed included (default: the profile's)")
    t.add_argument("--lr", type=float, help="SGD learning rate (default: the profile's, the seed's 0.001)")
    t.add_argument("--momentum", type=float, help="SGD momentum (default: the profile's)")
    t.add_argument("--weight-decay", type=float, help="default: the seed's 1e-3")
    t.add_argument("--weights", choices=("auto", "imagenet", "none"), default="auto", help="the backbone's start")
    t.add_argument("--checkpoint", help="save model, optimiser and history here after every epoch")
    t.add_argument("--resume", action="store_true", help="continue from --checkpoint if it exists")
    t.add_argument("--max-steps", type=_whole(), help="at most N steps per epoch (smoke runs)")
    t.add_argument("--seed", type=int, default=0, help="seeds the initial weights and the shuffling")
    t.add_argument("--sync-bn", action="store_true", help="BatchNorm statistics over all GPUs (CUDA only)")
    t.add_argument("--dump-state", help=argparse.SUPPRESS)  # tests: each rank saves its weights and metrics
    commands["evaluate"].set_defaults(seed=0, max_steps=None)
    p = commands["predict"]
    p.add_argument("images", nargs="+", metavar="IMAGE", help="JPEG or PNG files of any size")
    p.add_argument("--out", required=True, help="folder for NAME_label.png and NAME_overlay.png")
    p.add_argument("--mode", choices=("pad", "tile"), default="pad", help="one padded pass, or --crop-size windows")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m fcnlib ARGV``; unset options take the run profile's values (:func:`fcnlib.profile`)."""
    args = build_parser().parse_args(argv)
    args.device = fcnlib.best_device() if args.device == "auto" else torch.device(args.device)
    if args.device != torch.device("cpu") and args.device.type != fcnlib.best_device().type:
        args.parser.error(f"--device {args.device}: not available here; use --device cpu (or auto)")
    p = fcnlib.profile(device=args.device)
    defaults = dict(crop_size=p.crop_size, batch_size=p.batch_size, epochs=p.num_epochs, lr=p.lr, momentum=p.momentum)
    defaults.update(weight_decay=p.wd, n_train=p.n_train, n_val=p.n_val, image_size=p.image_size)
    for key, value in defaults.items():
        if getattr(args, key, value) is None:
            setattr(args, key, value)
    return args.func(args, args.parser)


if __name__ == "__main__":
    sys.exit(main())
