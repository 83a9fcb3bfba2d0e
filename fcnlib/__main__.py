"""The command line: python -m fcnlib train | evaluate | predict (--help on each). Several GPUs or processes:
torchrun --nproc_per_node=N -m fcnlib train ... (DistributedDataParallel, NCCL on CUDA, gloo on the CPU)."""

from __future__ import annotations

import argparse
import contextlib
import errno
import io
import math
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
from fcnlib.profiles import check_settings, data_choice_setting, device_setting, make_trainer, max_steps_setting
from fcnlib.training import TrainingDiverged, check_checkpoint_path, read_checkpoint

SEVERAL = """several processes: torchrun --nproc_per_node=N -m fcnlib train ... (one per GPU, or N on the CPU), each
taking --batch-size images per step from its own shard. The loss is summed over each process's batch (as in d2l's code)
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
        try:
            return data.ensure_synthetic_voc(root / "synthetic", args.n_train, args.n_val, seed=0, image_size=size)[0]
        except OSError as err:  # read-only, full, a file in the way
            parser.error(
                f"cannot generate the teaching dataset in {root / 'synthetic'} ({err}); give another --data-root"
            )
    where = root if args.data == "voc" else Path(args.data).expanduser()
    if (found := data.find_voc_dir(where)) is None:
        get = (
            f'python -c "import fcnlib.data as d; d.download_voc({str(root)!r})" gets VOC2012; or use --data synthetic'
        )
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
    args.classes = train_set.classes
    if (args.command == "train" and len(train_set) < args.batch_size * world) or len(test_set) < world:
        few = f"{len(train_set)} training and {len(test_set)} validation images are too few for {world} process(es)"
        parser.error(f"{few} of --batch-size {args.batch_size}: lower --batch-size or use more images")
    common = dict(collate_fn=loaders[0].collate_fn, num_workers=args.num_workers, pin_memory=torch.cuda.is_available())
    sampler = DistributedSampler(train_set, world, rank, shuffle=True, seed=args.seed, drop_last=True)
    train_iter = DataLoader(train_set, args.batch_size, sampler=sampler, drop_last=True, **common)
    test_iter = DataLoader(test_set, args.batch_size, sampler=range(rank, len(test_set), world), **common)
    return _Loader(train_iter, args.max_steps), test_iter


def _check_checkpoint(args, parser) -> None:
    """``--checkpoint`` can be written; an earlier run's is continued (``--resume``) or replaced (``--overwrite``)."""
    if args.resume and not args.checkpoint:
        parser.error("--resume continues from --checkpoint PATH; give that path too")
    if not args.checkpoint:
        return
    try:
        args.checkpoint = str(check_checkpoint_path(args.checkpoint))
    except ValueError as err:
        parser.error(f"--checkpoint: {err}")
    if Path(args.checkpoint).is_file() and not (args.resume or args.overwrite):
        parser.error(
            f"--checkpoint {args.checkpoint} exists: add --resume to continue it, or --overwrite to replace it"
        )


def train(args, parser) -> int:
    _check_checkpoint(args, parser)
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
        if args.resume and Path(args.checkpoint).is_file():
            _check_fit(args, parser, *_saved_net(Path(args.checkpoint), parser)[1:])
        weights = {"none": None}.get(args.weights, args.weights)
        net = fcnlib.fcn_resnet18(train_iter.dataset.num_classes, args.variant, weights=weights).to(device)
        recipe = dict(lr=args.lr, wd=args.weight_decay, momentum=args.momentum, schedule=args.schedule)
        steps = args.epochs * len(train_iter)
        trainer, scheduler = make_trainer(net.parameters(), steps, optimizer=args.optimizer, **recipe)
        if dist.is_initialized():  # under torchrun, even with one process
            if args.sync_bn:
                net = nn.SyncBatchNorm.convert_sync_batchnorm(net)
            if device.type in fcnlib.training.CHANNELS_LAST_DEVICES:
                net = net.to(memory_format=torch.channels_last)  # before DDP builds its gradient buckets
            net = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
        if rank == 0:
            beta = {"sgd": f"momentum {args.momentum}", "adamw": "betas (0.9, 0.999)"}[args.optimizer]
            if args.schedule == "onecycle":  # OneCycleLR moves SGD's momentum or Adam's beta1 with the rate
                beta = {"sgd": "momentum", "adamw": "beta1"}[args.optimizer] + " from 0.95 to 0.85 and back"
            (h, w), how = args.crop_size, f"{args.optimizer} lr {args.lr} ({args.schedule}), {beta}"
            run = f"batch {args.batch_size} each, crops {h}x{w}, {args.epochs} epochs, {how}, wd {args.weight_decay}"
            print(f"FCN-{args.variant} on {device.type} x {world} process(es): {run}; {len(train_iter)} steps/epoch")
        kwargs = dict(checkpoint=args.checkpoint, resume=args.resume, scheduler=scheduler)
        try:
            history = fcnlib.train(net, train_iter, test_iter, None, trainer, args.epochs, [device], **kwargs)
        except TrainingDiverged as err:
            # a constant rate can change on --resume; a schedule cannot, and --overwrite meant a fresh run
            again = " and --resume" if args.schedule == "constant" and not args.overwrite else " and --overwrite"
            lower = f"run again with a lower --lr (e.g. {args.lr / 10:g})" + (again if args.checkpoint else "")
            parser.exit(1, f"{parser.prog}: error: {err}\nOn the command line: {lower}\n")
        if len(history) < args.epochs:  # Ctrl-C: train saved what it could and said so
            again = "the same command with --resume continues" if args.checkpoint else "nothing saved (no --checkpoint)"
            print(f"interrupted: {again}", file=sys.stderr)
            return 130
        if args.dump_state:  # tests: every rank's final weights and reported metrics
            state = {"model": getattr(net, "module", net).state_dict(), "history": list(history)}
            torch.save(state, Path(args.dump_state) / f"rank{rank}.pt")
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


def _saved_net(path: Path, parser) -> tuple[dict, int, str]:
    """``(weights, classes, variant)`` of the FCN in the checkpoint at ``path``; a clean error for anything else."""
    if not path.is_file():
        parser.error(f"--checkpoint {path}: no such file; python -m fcnlib train --checkpoint {path} writes one")
    try:
        state = read_checkpoint(path)["model"]
        return state, state["final_conv.weight"].shape[0], f"{state['transpose_conv.weight'].shape[-1] // 2}s"
    except (ValueError, KeyError) as err:
        parser.error(f"--checkpoint: {err if isinstance(err, ValueError) else f'{path} holds no FCN ({err!r})'}")


def _load(args, parser) -> nn.Module:
    """The net saved in ``--checkpoint`` (variant and classes read from its weights), on ``--device``."""
    state, num_classes, variant = _saved_net(Path(args.checkpoint).expanduser(), parser)
    net = fcnlib.fcn_resnet18(num_classes, variant, weights=None)
    try:
        net.load_state_dict(state)
    except RuntimeError as err:
        parser.error(f"--checkpoint {args.checkpoint} holds no FCN of python -m fcnlib train ({err})")
    return net.to(args.device)


def _check_fit(args, parser, classes: int, variant: str) -> None:
    """A net of ``classes`` classes and ``variant`` (from ``--checkpoint``) fits ``--data`` (and ``--variant``)."""
    other = getattr(args, "variant", variant) != variant
    if classes != len(args.classes) or other:
        fit = ", --data synthetic (the teaching dataset's 7 classes)" if classes == len(data.SYNTHETIC_CLASSES) else ""
        also = f" and --variant {args.variant} was asked" if other else ""
        asked = f"--data {args.data} has {len(args.classes)}{also}"
        parser.error(
            f"--checkpoint {args.checkpoint} holds an FCN-{variant} of {classes} classes, but {asked}: use "
            f"{f'--variant {variant} and ' if other else ''}the data it was trained on{fit}, or train one for this "
            f"data: python -m fcnlib train --data {args.data} --checkpoint NEW.pt"
        )


def evaluate(args, parser) -> int:
    net = _load(args, parser)
    test_iter = _loaders(args, parser, 0, 1)[1]
    _check_fit(args, parser, net.num_classes, net.variant)
    metrics = fcnlib.evaluate(net, test_iter)
    print("  ".join(f"{k} {metrics[k]:.4f}" for k in ("pixel_acc", "mean_acc", "miou", "fw_iou")))
    for name, iou in zip(test_iter.dataset.classes, metrics["iou"].tolist()):
        print(f"  IoU {name:<14} {iou:.4f}")
    return 0


def _outputs(args, parser) -> list[tuple[Path, Path, Path]]:
    """``(image, label PNG, overlay PNG)`` for every IMAGE; refuses missing images, an unusable ``--out``, two images
    of one name, and outputs that exist (without ``--overwrite``) before anything is written."""
    from fcnlib.profiles import folder_problem

    out = Path(args.out).expanduser()
    if problem := folder_problem(out, writable=True):
        parser.error(f"--out {out}: {problem}; give another folder")
    jobs, stems = [], {}
    for path in map(Path, args.images):
        if not path.is_file():
            parser.error(f"no image at {path}; give paths of JPEG or PNG files")
        if (other := stems.setdefault(path.stem, path)) != path:
            both = f"{other} and {path} would both write {path.stem}_label.png"
            parser.error(f"{both}; predict them into two --out folders")
        jobs.append((path, out / f"{path.stem}_label.png", out / f"{path.stem}_overlay.png"))
    there = [p for job in jobs for p in job[1:] if p.exists()]
    if there and not args.overwrite:
        parser.error(f"{there[0]} exists ({len(there)} outputs do): add --overwrite to replace them, or another --out")
    return jobs


def _save(image, path: Path, parser) -> None:
    """``image.save(path)`` through a temporary file: a full or read-only disk leaves no half picture behind."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        image.save(tmp, format="PNG")
        os.replace(tmp, path)
    except OSError as err:
        why = "disk full; free space on it, or" if err.errno == errno.ENOSPC else f"{err.strerror or err};"
        parser.exit(1, f"{parser.prog}: error: cannot write {path}: {why} choose another --out\n")
    finally:
        tmp.unlink(missing_ok=True)


def predict(args, parser) -> int:
    from PIL import Image

    jobs = _outputs(args, parser)
    net = _load(args, parser)
    jobs[0][1].parent.mkdir(parents=True, exist_ok=True)  # folder_problem found nothing in the way
    for path, label_path, overlay_path in jobs:
        try:
            image = data.read_image(path)
        except ValueError as err:
            parser.error(str(err))
        pred = fcnlib.predict_full(net, image, args.crop_size, mode=args.mode)
        label = Image.fromarray(pred.to(torch.uint8).numpy(), mode="P")
        label.putpalette(data.voc_palette())
        _save(label, label_path, parser)  # VOC's format: class indices with VOC's colours
        overlay = (image.permute(1, 2, 0).float() + fcnlib.label2image(pred).float()) / 2
        _save(Image.fromarray(overlay.round().to(torch.uint8).numpy()), overlay_path, parser)
        print(f"{path} -> {label_path}, {overlay_path}")
    return 0


def _number(what: str, low: float = 0, high: float = math.inf, above: bool = False, kind: type = float):
    """An argparse type: a finite ``kind`` >= ``low`` (> ``low`` if ``above``) and < ``high``."""

    def check(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and low <= value < high) or (above and value == low):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value

    return check


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
        device = "default: $FCNLIB_DEVICE if set, else auto (the best here: CUDA, MPS, CPU)"
        cmd.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), help=device)
        cmd.add_argument("--crop-size", nargs=2, type=_whole(32), metavar=("H", "W"), help="default: the profile's")
        commands[name] = cmd
    for cmd in (commands["train"], commands["evaluate"]):
        cmd.add_argument("--data", help="voc, synthetic or a VOC-format folder (default: $FCNLIB_DATA, else synthetic)")
        cmd.add_argument("--data-root", help="the folder of --data voc and synthetic (default: data/)")
        cmd.add_argument("--n-train", type=_whole(), help="generated training images (default: the profile's)")
        cmd.add_argument("--n-val", type=_whole(), help="generated validation images (default: the profile's)")
        cmd.add_argument("--image-size", nargs=2, type=_whole(), metavar=("H", "W"), help="of generated images")
        cmd.add_argument("--batch-size", type=_whole(), help="images per process and step (default: the profile's)")
        workers = _number("a whole number >= 0", kind=int)
        cmd.add_argument("--num-workers", type=workers, default=0, help="DataLoader worker processes per process")
    for cmd in (commands["evaluate"], commands["predict"]):
        cmd.add_argument("--checkpoint", required=True, help="a file written by train (or by a chapter)")
    t = commands["train"]
    t.add_argument("--variant", choices=("32s", "16s", "8s"), default="32s")
    t.add_argument("--epochs", type=_whole(), help="epochs in all, those resumed included (default: the profile's)")
    lr = _number("a learning rate > 0, e.g. 0.001", above=True)
    t.add_argument("--optimizer", choices=("sgd", "adamw"), help="default: the profile's (d2l's: sgd)")
    t.add_argument("--schedule", choices=("constant", "onecycle"), help="learning rate per batch (default: profile's)")
    t.add_argument("--lr", type=lr, help="learning rate, onecycle's peak (default: the profile's; d2l's is 0.001)")
    momentum, cycled = _number("a momentum in [0, 1), e.g. 0.9", high=1), "onecycle moves it: 0.95 to 0.85 and back"
    t.add_argument("--momentum", type=momentum, help=f"SGD's (default: the profile's; {cycled})")
    t.add_argument(
        "--weight-decay", type=_number("a weight decay >= 0, e.g. 0.001"), help="default: the profile's (d2l's 1e-3)"
    )
    t.add_argument("--weights", choices=("auto", "imagenet", "none"), default="auto", help="the backbone's start")
    t.add_argument("--checkpoint", help="save model, optimiser and history here after every epoch")
    t.add_argument("--resume", action="store_true", help="continue from --checkpoint if it exists")
    t.add_argument("--overwrite", action="store_true", help="start afresh over an existing --checkpoint")
    t.add_argument("--max-steps", type=_whole(), help="at most N steps per epoch (default: $FCNLIB_MAX_STEPS)")
    seed = _number("a whole number from 0 to 2**63 - 1", high=2**63, kind=int)
    t.add_argument("--seed", type=seed, default=0, help="seeds the initial weights and the shuffling")
    t.add_argument("--sync-bn", action="store_true", help="BatchNorm statistics over all GPUs (CUDA only)")
    t.add_argument("--dump-state", help=argparse.SUPPRESS)  # tests: each rank saves its weights and metrics
    commands["evaluate"].set_defaults(seed=0, max_steps=None)
    p = commands["predict"]
    p.add_argument("images", nargs="+", metavar="IMAGE", help="JPEG or PNG files of any size")
    p.add_argument("--out", required=True, help="folder for NAME_label.png and NAME_overlay.png")
    p.add_argument("--mode", choices=("pad", "tile"), default="pad", help="one padded pass, or --crop-size windows")
    p.add_argument("--overwrite", action="store_true", help="replace NAME_label.png and NAME_overlay.png if there")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``python -m fcnlib ARGV``; unset options take the run profile's values (:func:`fcnlib.profile`) and the
    ``FCNLIB_*`` settings (``--device``, ``--data``, ``--max-steps``). Exit status 130 after Ctrl-C."""
    args = build_parser().parse_args(argv)
    try:
        check_settings()
        env_device = device_setting() if args.device is None else None
    except ValueError as err:
        args.parser.error(str(err))
    args.device = env_device or (fcnlib.best_device() if args.device in (None, "auto") else torch.device(args.device))
    if args.device != torch.device("cpu") and args.device.type != fcnlib.best_device().type:
        args.parser.error(f"--device {args.device}: not available here; use --device cpu (or auto)")
    p = fcnlib.profile(device=args.device)
    defaults = dict(crop_size=p.crop_size, batch_size=p.batch_size, epochs=p.num_epochs, **p.recipe)
    defaults.update(weight_decay=defaults.pop("wd"), n_train=p.n_train, n_val=p.n_val, image_size=p.image_size)
    defaults.update(data=data_choice_setting() or "synthetic", max_steps=max_steps_setting())
    for key, value in defaults.items():
        if getattr(args, key, value) is None:
            setattr(args, key, value)
    try:
        return args.func(args, args.parser)
    except KeyboardInterrupt:
        print(f"{args.parser.prog}: interrupted", file=sys.stderr)
        return 130
    except (OSError, ValueError, torch.OutOfMemoryError) as err:  # fcnlib's messages say what to do
        memory = "; lower --batch-size or --crop-size" if isinstance(err, torch.OutOfMemoryError) else ""
        args.parser.exit(1, f"{args.parser.prog}: error: {err}{memory}\n")


if __name__ == "__main__":
    sys.exit(main())
