"""Explorers: sliders wired to pure *view functions* that turn settings into a :class:`View`.

A view function (``bilinear_view``, ``transposed_conv_view``, ...) never raises: an impossible
setting gives a View with ``ok=False`` whose text states the rule. The figure is rendered to a
PNG with Agg (no ``ipympl`` needed) into one ``Output`` area. Works with ipywidgets 7.7 (Colab)
and 8 (JupyterLab 4). Usage, as a cell's last line: ``fcnlib.widgets.transposed_conv_explorer()``.
"""

from __future__ import annotations

import base64
import functools
import gc
import html
import inspect
import io
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
import torch
from IPython.display import Image, clear_output, display
from matplotlib.figure import Figure
from torch import Tensor

from .data.photo import sample_photo
from .shapes import check_int, conv_transpose_output_size, explain_conv_transpose_output_size, upsampling_params
from .upsampling import (
    bilinear_kernel,
    bilinear_settings,
    bilinear_upsample,
    checkerboard,
    overlap_map,
    phase_sums,
    resize_conv,
    spread,
)
from .viz.kernels import draw_checkerboard, draw_grid, draw_kernel_profile, plot_scatter, show_images_side_by_side

__all__ = ["DPI", "View", "safe_view", "render_png", "Explorer", "bilinear_view", "bilinear_explorer"]
__all__ += ["transposed_conv_view", "transposed_conv_explorer", "checkerboard_view", "checkerboard_explorer"]


DPI = 72  # figures' resolution: sharp enough on screen, quick to render


@dataclass
class View:
    """What an explorer shows for one setting: sentences, the numbers behind them, a Figure or None.

    ``ok`` is False for an impossible setting; ``lines`` then state the broken rule.
    """

    lines: list[str]
    numbers: dict[str, Any] = field(default_factory=dict)
    figure: Figure | None = None
    ok: bool = True

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def html(self) -> str:
        """The lines as HTML: monospace, the first in bold, red when ``not ok``."""
        color = "#b00020" if not self.ok else "inherit"
        parts = [html.escape(line) for line in self.lines]
        if parts:
            parts[0] = f"<b>{parts[0]}</b>"
        return (
            f'<div class="fcnlib-explorer-text" style="font-family:monospace;color:{color};'
            f'white-space:pre-wrap">{"<br>".join(parts)}</div>'
        )


def safe_view(view_function: Callable[..., View]) -> Callable[..., View]:
    """Decorate a view function so that a ValueError or TypeError becomes a View stating it (``ok=False``)."""

    @functools.wraps(view_function)
    def wrapper(*args: Any, **kwargs: Any) -> View:
        try:
            return view_function(*args, **kwargs)
        except (ValueError, TypeError) as err:
            given = inspect.signature(view_function).bind_partial(*args, **kwargs).arguments
            numbers = {k: v for k, v in given.items() if not isinstance(v, (Tensor, torch.nn.Module))}
            return View([f"Impossible setting: {err}"], numbers, ok=False)

    return wrapper


def render_png(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


class Explorer(widgets.VBox):
    """Controls, a text area and one output area, redrawn (once) when a control changes.

    ``view_function(**values)`` returns the :class:`View`; afterwards ``view``, ``png`` (its
    figure's PNG or None) and ``last_update_s`` hold the latest. ``adjust(name, values)``
    returns other control values to set along with the one the user moved. Displayed, an
    explorer also carries its current figure as a PNG and a sentence, which static viewers
    (GitHub, nbviewer) show in place of the live widget.
    """

    def __init__(
        self,
        controls: Mapping[str, widgets.ValueWidget],
        view_function: Callable[..., View],
        layout_rows: Sequence[widgets.Widget] | None = None,
        adjust: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None,
        title: str = "",
    ) -> None:
        info = widgets.HTML(value="")
        output = widgets.Output()
        rows = list(layout_rows) if layout_rows is not None else list(controls.values())
        header = [widgets.HTML(value=f"<b>{html.escape(title)}</b>")] if title else []
        super().__init__(children=[*header, *rows, info, output])
        self.add_class("fcnlib-explorer")  # a handle for the browser tests (and for custom CSS)
        self.title = title
        self.controls: dict[str, widgets.ValueWidget] = dict(controls)
        self.info = info
        self.output = output
        self.view_function = view_function
        self.adjust = adjust
        self.view: View | None = None
        self.png: bytes | None = None
        self.last_update_s = 0.0
        self.updates = 0
        self._holding = False
        for name, control in self.controls.items():
            control.observe(self._make_handler(name), names="value")
        self.refresh()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The live widget for JupyterLab and Colab; the current figure (PNG) and a sentence for static viewers."""
        first = self.view.lines[0] if self.view is not None and self.view.lines else ""
        what = f"{self.title or 'Explorer'}: {first}" if first else self.title or "Explorer"
        data: dict[str, Any] = {"text/plain": f"{what}\n(interactive: run the notebook to move the controls)"}
        if self.png is not None:
            data["image/png"] = base64.b64encode(self.png).decode("ascii")
        if self._view_name is not None and self.comm is not None:
            view = {"version_major": 2, "version_minor": 0, "model_id": self.model_id}
            data["application/vnd.jupyter.widget-view+json"] = view
        return data

    def _ipython_display_(self, **kwargs: Any) -> None:
        """ipywidgets 7 displays widgets through this method (8 through the bundle): send the same bundle."""
        display(Explorer._repr_mimebundle_(self), raw=True)  # (ipywidgets 8's close() sets the instance's to None)
        if hasattr(self, "_handle_displayed"):  # ipywidgets 7: run the on_displayed callbacks
            self._handle_displayed(**kwargs)

    def values(self) -> dict[str, Any]:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def set(self, **values: Any) -> View:
        """Set several controls at once (one redraw) and return the new View; KeyError for an unknown name."""
        self._holding = True
        try:
            for name, value in values.items():
                if name not in self.controls:
                    raise KeyError(f"no control named {name!r}; the controls are {sorted(self.controls)}")
                self.controls[name].value = value
        finally:
            self._holding = False
        self.refresh()
        assert self.view is not None
        return self.view

    def _make_handler(self, name: str) -> Callable[[dict[str, Any]], None]:
        def handler(change: dict[str, Any]) -> None:
            if self._holding:
                return
            if self.adjust is not None:
                self._holding = True  # changes made here (and their knock-on effects) redraw once, below
                try:
                    for other, value in self.adjust(name, self.values()).items():
                        self.controls[other].value = value
                finally:
                    self._holding = False
            self.refresh()

        return handler

    def refresh(self) -> None:
        """Recompute the View and redraw the text and figure in place.

        The cyclic garbage collector is paused while drawing, then collects only its youngest
        generation: otherwise about every tenth slider move paid 200-300 ms for a full collection.
        """
        start = time.perf_counter()
        collecting = gc.isenabled()
        gc.disable()
        try:
            view = safe_view(self.view_function)(**self.values())
            self.png = render_png(view.figure) if view.figure is not None else None
            self.view = view
            self.info.value = view.html()
            with self.output:
                clear_output(wait=True)
                if self.png is not None:
                    display(Image(data=self.png, format="png"))
        finally:
            if collecting:
                gc.enable()
                gc.collect(0)
        self.last_update_s = time.perf_counter() - start
        self.updates += 1


def _fixed_layout(fig: Figure, left: float = 0.01, bottom: float = 0.1, wspace: float = 0.12) -> None:
    """Fixed margins: ``tight_layout`` would cost more than the drawing."""
    fig.subplots_adjust(left=left, right=0.99, bottom=bottom, top=0.84, wspace=wspace)


def _slider(description: str, value: int, lo: int, hi: int, **kw: Any) -> widgets.IntSlider:
    style = {"description_width": "initial"}
    return widgets.IntSlider(value=value, min=lo, max=hi, step=1, description=description, style=style, **kw)


def _sliders(**specs: tuple[int, int, int]) -> dict[str, widgets.IntSlider]:
    """Sliders labelled with their names, from ``(value, min, max)``."""
    return {name: _slider(name, *spec) for name, spec in specs.items()}


def _at_most(value: int, limit: int, what: str) -> None:
    if value > limit:
        raise ValueError(f"{what} is {value}, more than the {limit} this explorer draws: choose smaller settings")


@safe_view
def bilinear_view(factor: int, kernel_size: int, photo: Tensor | None = None) -> View:
    """What :func:`bilinear_explorer` shows: the kernel, its profile and the photo upsampled ``factor`` times.

    Stride ``factor`` with :func:`fcnlib.upsampling.bilinear_settings`' padding: exactly ``factor``
    times larger. ``numbers["phase_sums"]``: the taps per output pixel and axis (even: no stripes).
    """
    photo = sample_photo((32, 32)) if photo is None else photo
    stride, padding, output_padding = bilinear_settings(factor, kernel_size)
    _at_most(factor * max(photo.shape[-2:]), 1024, "the upsampled photo's side")
    k_match, _, p_match = upsampling_params(factor)
    kernel = bilinear_kernel(1, 1, kernel_size)[0, 0]
    sums = phase_sums(kernel.diagonal().sqrt(), stride)  # the tent: kernel[i, j] = t[i] * t[j]
    up = bilinear_upsample(photo, factor, kernel_size)
    h, w = photo.shape[-2:]
    lines = [
        f"factor {factor}: {h}x{w} -> {up.shape[-2]}x{up.shape[-1]} with kernel_size={kernel_size}, "
        f"stride={stride}, padding={padding}, output_padding={output_padding}",
        f"upsampling_params({factor}) = (kernel_size={k_match}, stride={factor}, padding={p_match})",
    ]
    lo, hi = float(sums.min()), float(sums.max())
    even = abs(hi - lo) < 1e-6
    if kernel_size == k_match:
        lines.append(f"the matching kernel: every output pixel's taps add up to {hi:.2f} per axis, so it is smooth")
    else:
        effect = f"the taps add up evenly ({hi:.2f} per axis), but the kernel blurs more or less than bilinear"
        if not even:
            effect = f"the taps per output pixel add up to {lo:.2f} to {hi:.2f} per axis, so the picture gets stripes"
        made_for = (kernel_size + 1) // 2
        lines.append(f"kernel_size {kernel_size} is made for factor {made_for}, used at stride {stride}: {effect}")
    fig = Figure(figsize=(11.5, 3.0))
    axes = fig.subplots(1, 4, gridspec_kw={"width_ratios": [1, 1.2, 1, 1]})
    draw_grid(axes[0], kernel, title=f"{kernel_size}x{kernel_size} kernel", annotate=kernel_size <= 5)
    draw_kernel_profile(axes[1], kernel_size, stride=stride, legend=False)
    show_images_side_by_side([photo, up], ["input", f"x{factor}"], axes=axes[2:])
    _fixed_layout(fig, left=0.01, bottom=0.16, wspace=0.25)
    numbers = dict(factor=factor, kernel_size=kernel_size, stride=stride, padding=padding, even=even)
    numbers.update(output_padding=output_padding, input_size=(h, w), output_size=tuple(up.shape[-2:]))
    numbers["phase_sums"] = sums.tolist()
    return View(lines, numbers, fig)


def bilinear_explorer(photo_size: int = 32) -> Explorer:
    """Factor and kernel-size sliders (the factor sets the matching kernel size) on a ``photo_size`` square photo."""
    photo = sample_photo((photo_size, photo_size))
    controls = {"factor": _slider("upsampling factor", 2, 1, 8), "kernel_size": _slider("kernel_size", 4, 1, 16)}

    def adjust(name: str, values: dict[str, Any]) -> dict[str, Any]:
        if name == "factor":
            return {"kernel_size": upsampling_params(values["factor"])[0]}
        return {}

    view = functools.partial(bilinear_view, photo=photo)
    rows = [widgets.HBox([controls["factor"], controls["kernel_size"]])]
    return Explorer(controls, view, rows, adjust, title="Bilinear kernel explorer")


@safe_view
def transposed_conv_view(
    size=2, kernel_size=2, stride=1, padding=0, output_padding=0, dilation=1, step: int | None = None, figure=True
) -> View:
    """What :func:`transposed_conv_explorer` shows: the output size formula, the scatter and the overlap counts.

    Input ``size x size`` and kernel ``kernel_size x kernel_size``, both holding ``0, 1, 2, ...``
    (d2l's example for 2 and 2); ``step`` input pixels scattered (None: all). A setting PyTorch
    refuses gives ``ok=False`` and the rule it breaks. ``figure=False`` skips the drawing.
    """
    conv = (stride, padding, output_padding, dilation)
    formula = explain_conv_transpose_output_size(size, kernel_size, *conv)
    numbers: dict[str, Any] = dict(size=size, kernel_size=kernel_size, stride=stride, padding=padding, formula=formula)
    numbers.update(output_padding=output_padding, dilation=dilation, output_size=None)
    try:
        out = conv_transpose_output_size(size, kernel_size, *conv)
    except ValueError:
        return View([formula, "nothing to draw: change the highlighted rule's parameter"], numbers, ok=False)
    _at_most(size, 12, "the input size")
    x = torch.arange(size * size, dtype=torch.float32).reshape(size, size)
    kernel = torch.arange(kernel_size**2, dtype=torch.float32).reshape(kernel_size, kernel_size)
    total = size * size
    step = total if step is None else min(max(check_int(step, "step"), 0), total)
    counts = overlap_map(size, kernel_size, *conv)
    lo, hi = int(counts.min()), int(counts.max())
    taps = f"exactly {lo} kernel tap{'s' * (lo != 1)}" if lo == hi else f"{lo} to {hi} kernel taps"
    lines = [f"output size = {formula}", f"the output is {out}x{out}; each output pixel receives {taps}"]
    i, j = divmod(step - 1, size)
    lines.append(
        f"step {step}/{total}: input pixel ({i}, {j}) = {int(x[i, j])} adds {int(x[i, j])} x kernel with its "
        f"top-left tap at ({i * stride}, {j * stride}) of the canvas"
        if step
        else "step 0: nothing scattered yet"
    )
    numbers.update(output_size=out, step=step, steps=total, overlap_min=lo, overlap_max=hi)
    if not figure:
        return View(lines, numbers)
    fig = Figure(figsize=(12, 3.3))
    canvas_side = (size - 1) * stride + dilation * (kernel_size - 1) + 1 + output_padding
    axes = fig.subplots(1, 4, gridspec_kw={"width_ratios": [1, 1, max(1.3, 0.22 * canvas_side), 1.3]})
    plot_scatter(x, kernel, *conv, step, axes=axes[:3])
    draw_grid(axes[3], counts, title=f"taps per output pixel ({out}x{out})", vmin=0)
    _fixed_layout(fig)
    return View(lines, numbers, fig)


def transposed_conv_explorer() -> Explorer:
    """Sliders for size, kernel, stride, padding, output_padding, dilation, and a player for the scatter's steps."""
    controls = {"size": _slider("input size", 2, 1, 5)} | _sliders(kernel_size=(2, 1, 4), stride=(1, 1, 4))
    controls |= _sliders(padding=(0, 0, 3), output_padding=(0, 0, 3), dilation=(1, 1, 3), step=(4, 0, 4))
    play = widgets.Play(value=4, min=0, max=4, step=1, interval=800, description="play the steps")
    widgets.jslink((play, "value"), (controls["step"], "value"))

    def adjust(name: str, values: dict[str, Any]) -> dict[str, Any]:
        if name == "size":
            total = values["size"] ** 2
            play.max = total
            controls["step"].max = total
            return {"step": total}
        return {}

    c = controls
    rows = [
        widgets.HBox([c["size"], c["kernel_size"], c["stride"]]),
        widgets.HBox([c["padding"], c["output_padding"], c["dilation"]]),
        widgets.HBox([play, c["step"]]),
    ]
    return Explorer(controls, transposed_conv_view, rows, adjust, title="Transposed convolution explorer")


@safe_view
def checkerboard_view(kernel_size: int = 3, stride: int = 2, layers: int = 2, method: str = "transposed") -> View:
    """What :func:`checkerboard_explorer` shows: taps per output pixel, a constant image after 1 and ``layers`` layers.

    ``method``: ``"transposed"`` (uniform kernel) or ``"resize"`` (nearest upsampling, then a stride-1 convolution).
    """
    _at_most(2 * check_int(stride, "stride", 1) ** check_int(layers, "layers", 1), 512, "the upsampled image's side")
    one = checkerboard(kernel_size, stride, 1, 4, method)
    many = checkerboard(kernel_size, stride, layers, 2, method)
    _, _, spread_one = spread(one)
    _, _, spread_many = spread(many)
    name = "transposed conv" if method == "transposed" else "resize-conv"
    counts = overlap_map(3, kernel_size, stride)  # taps per output pixel of a 3x3 input
    if method == "resize":  # nearest upsampling, then a stride-1 convolution (replicated edges)
        ones = torch.ones(kernel_size, kernel_size)
        counts = resize_conv(torch.ones(1, 1, 3, 3), stride, ones, padding_mode="replicate")[0, 0]
    even, fewest = method == "resize" or kernel_size % stride == 0, kernel_size // stride
    if method == "resize":
        reason = f"every output pixel sees all {kernel_size}x{kernel_size} taps of the stride-1 convolution: flat"
    elif even:
        reason = f"{kernel_size} is a multiple of {stride}: every output pixel gets {fewest} taps per axis: flat"
    else:
        reason = f"{kernel_size} is not a multiple of {stride}: output pixels get {fewest} or {fewest + 1} taps"
        reason += " per axis: a checkerboard"
    lines = [
        f"{name}, kernel {kernel_size}, stride {stride}: {reason}",
        f"a constant image varies by {spread_one:.0%} after 1 layer and by {spread_many:.0%} after "
        f"{layers} layer{'s' * (layers > 1)} (max - min, relative to the mean)",
    ]
    fig = Figure(figsize=(10.5, 3.5))
    axes = fig.subplots(1, 3)
    draw_grid(axes[0], counts, title="taps per output pixel (3x3 input)", vmin=0)
    draw_checkerboard(axes[1], one, "constant image, 1 layer")
    draw_checkerboard(axes[2], many, f"constant image, {layers} layer{'s' * (layers > 1)}")
    _fixed_layout(fig)
    numbers = dict(kernel_size=kernel_size, stride=stride, layers=layers, method=method, even=even)
    numbers.update(spread_one=spread_one, spread_many=spread_many, size_one=one.shape[-2:], size_many=many.shape[-2:])
    return View(lines, numbers, fig)


def checkerboard_explorer() -> Explorer:
    """Kernel, stride and layers sliders and a transposed / resize-conv toggle."""
    controls = _sliders(kernel_size=(3, 1, 8), stride=(2, 1, 4), layers=(2, 1, 3))
    controls["method"] = widgets.ToggleButtons(options=[("transposed conv", "transposed"), ("resize-conv", "resize")])
    c = controls
    rows = [widgets.HBox([c["kernel_size"], c["stride"], c["layers"]]), c["method"]]
    return Explorer(controls, checkerboard_view, rows, title="Checkerboard artifacts explorer")


# Receptive field (chapter 0) -------------------------------------------------------------


def resnet18_stages(seed: int = 0) -> torch.nn.Module:
    """torchvision's ``resnet18(weights=None)`` up to ``layer4``, seeded, in eval mode, as a Sequential."""
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = torchvision.models.resnet18(weights=None)
    return torch.nn.Sequential(*list(net.children())[:-2]).eval()


_STAGE_END = {"conv1": 1, "maxpool": 4, "layer1": 5, "layer2": 6, "layer3": 7, "layer4": 8}
"""Stage -> how many children of :func:`resnet18_stages` produce its output (conv1 without BN/ReLU)."""


def receptive_field_view(
    stage: str = "layer2", row: int = 0, col: int = 0, photo: Tensor | None = None, net: Any = None
) -> View:
    """What :func:`receptive_field_explorer` shows: one output position of a ResNet-18 stage, on the photo.

    The red square is the receptive field from :func:`fcnlib.shapes.resnet18_receptive_fields`
    (centred on ``jump * (row, col)``, clipped to the photo); the heat map is ``|d out / d photo|``
    summed over the output's channels and the colours (the effective receptive field).
    ``numbers``: ``size``, ``jump``, ``grid`` (the stage's output size), ``box`` (the clipped
    field: top, left, bottom, right), ``grad_box`` (bounding box of the non-zero gradient) and
    ``half_mass_px`` (how many pixels hold half of the gradient). Never raises: a bad setting
    gives ``ok=False`` and a sentence.
    """
    from .shapes import resnet18_receptive_fields

    fields = {name: (size, jump) for name, size, jump in resnet18_receptive_fields()}
    if stage not in fields:
        return View([f"Impossible setting: stage must be one of {', '.join(fields)}, got {stage!r}"], ok=False)
    try:
        photo = sample_photo((256, 224), face=False) if photo is None else photo
        if not (isinstance(photo, Tensor) and photo.dim() == 3 and photo.shape[0] == 3 and min(photo.shape[1:]) >= 32):
            raise ValueError("photo must be a [3, H, W] tensor with H, W >= 32, like fcnlib.data.sample_photo()")
        net = resnet18_stages() if net is None else net
        x = photo[None].clone().requires_grad_(True)
        out = net[: _STAGE_END[stage]](x)
        grid = tuple(out.shape[-2:])
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < n for v, n in zip((row, col), grid)):
            raise ValueError(f"row, col = {row!r}, {col!r} is outside the {stage} output of {grid[0]}x{grid[1]}")
        (grad,) = torch.autograd.grad(out[0, :, row, col].sum(), x)
    except (ValueError, TypeError, RuntimeError, IndexError) as err:
        return View([f"Impossible setting: {err}"], {"stage": stage}, ok=False)
    size, jump = fields[stage]
    g = grad[0].abs().sum(0)
    h, w = g.shape
    cy, cx, half = jump * row, jump * col, size // 2
    box = (max(cy - half, 0), max(cx - half, 0), min(cy + half, h - 1), min(cx + half, w - 1))
    nz = (g > 0).nonzero()
    grad_box = tuple(nz.min(0).values.tolist() + nz.max(0).values.tolist()) if len(nz) else None
    sorted_g = g.flatten().sort(descending=True).values
    half_mass = int((sorted_g.cumsum(0) < 0.5 * sorted_g.sum()).sum()) + 1
    lines = [
        f"{stage}: output {grid[0]}x{grid[1]}, positions {jump} pixels apart; position ({row}, {col}) is "
        f"centred on pixel ({cy}, {cx}) and sees a {size}x{size} square ({box[2] - box[0] + 1}x"
        f"{box[3] - box[1] + 1} inside the photo)",
        f"half of its gradient comes from {half_mass} pixels (a square of about {half_mass**0.5:.0f}x"
        f"{half_mass**0.5:.0f}): the effective receptive field is smaller than the theoretical one",
    ]
    fig = Figure(figsize=(8, 4.4))
    axes = fig.subplots(1, 2)
    axes[0].imshow(photo.permute(1, 2, 0).clamp(0, 1).numpy())
    axes[1].imshow(g.sqrt().numpy(), cmap="magma")
    for ax, title in zip(axes, ("receptive field on the photo", "sqrt |gradient| (effective field)")):
        ax.add_patch(_square(box, "red"))
        ax.plot(cx, cy, "c+", markersize=10)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    _fixed_layout(fig, bottom=0.02, wspace=0.05)
    numbers = {"stage": stage, "size": size, "jump": jump, "grid": grid, "box": box, "grad_box": grad_box}
    numbers["half_mass_px"] = half_mass
    return View(lines, numbers, fig)


def _square(box: tuple[int, int, int, int], color: str) -> Any:
    from matplotlib.patches import Rectangle

    top, left, bottom, right = box
    return Rectangle((left - 0.5, top - 0.5), right - left + 1, bottom - top + 1, fill=False, ec=color, lw=2)


def receptive_field_explorer(photo: Tensor | None = None) -> Explorer:
    """A stage menu and row/column sliders over :func:`receptive_field_view` (a seeded untrained ResNet-18).

    Changing the stage resets the sliders to the stage's output grid, centred.
    """
    photo = sample_photo((256, 224), face=False) if photo is None else photo
    from .shapes import backbone_size_trace

    net = resnet18_stages()
    grids = dict(backbone_size_trace(tuple(photo.shape[-2:])))
    controls = {
        "stage": widgets.Dropdown(options=list(_STAGE_END), value="layer2", description="stage"),
        "row": _slider("row", grids["layer2"][0] // 2, 0, grids["layer2"][0] - 1),
        "col": _slider("col", grids["layer2"][1] // 2, 0, grids["layer2"][1] - 1),
    }

    def adjust(name: str, values: dict[str, Any]) -> dict[str, Any]:
        if name != "stage":
            return {}
        gh, gw = grids[values["stage"]]
        controls["row"].max, controls["col"].max = gh - 1, gw - 1
        return {"row": gh // 2, "col": gw // 2}

    def view(stage: str, row: int, col: int) -> View:
        return receptive_field_view(stage, row, col, photo, net)

    rows = [controls["stage"], widgets.HBox([controls["row"], controls["col"]])]
    return Explorer(controls, view, rows, adjust, title="Receptive field explorer")
