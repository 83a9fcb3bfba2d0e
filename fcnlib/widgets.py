"""Explorers: controls over pure view functions that turn a setting into a :class:`View` and never raise; figures
as PNG (Agg, no ipympl); ipywidgets 7.7 (Colab) and 8. Usage, a cell's last line: ``widgets.bilinear_explorer()``."""

from __future__ import annotations

import base64
import functools
import gc
import html
import inspect
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from IPython.display import Image, clear_output, display
from matplotlib.figure import Figure
from torch import Tensor

from . import shapes, upsampling
from .data.photo import sample_photo
from .inference import label2image
from .viz import kernels
from .viz import segmentation as segmentation_viz
from .viz._common import image_array, png_bytes
from .viz.segmentation import LEGEND_MIN_PIXELS, _handles, _palette

DPI = 100  # the chapters' figure resolution (viz.use_course_style)


@dataclass
class View:
    """One setting's sentences, their numbers and a Figure (or None); ``ok=False``: the lines state the broken rule."""

    lines: list[str]
    numbers: dict[str, Any] = field(default_factory=dict)
    figure: Figure | None = None
    ok: bool = True

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def safe_view(view_function: Callable[..., View]) -> Callable[..., View]:
    """Decorate a view function: its arguments (tensors and modules left out) join the View's numbers, and a
    ValueError or TypeError becomes a View stating it (``ok=False``)."""

    @functools.wraps(view_function)
    def wrapper(*args: Any, **kwargs: Any) -> View:
        given: dict[str, Any] = {}
        try:
            bound = inspect.signature(view_function).bind_partial(*args, **kwargs)
            bound.apply_defaults()
            given = {k: v for k, v in bound.arguments.items() if not isinstance(v, (Tensor, torch.nn.Module))}
            view = view_function(*args, **kwargs)
        except (ValueError, TypeError) as err:
            view = View([f"Impossible setting: {err}"], ok=False)
        view.numbers = given | view.numbers
        return view

    return wrapper


render_png = functools.partial(png_bytes, dpi=DPI)  # render_png(figure) -> PNG bytes


# While an explorer is live in JupyterLab or Notebook 7, its static copy (the two outputs after it) is hidden.
_LIVE = ".jp-OutputArea-child:has(.fcnlib-explorer) + .jp-OutputArea-child"
LIVE_STYLE = f"<style>{_LIVE}, {_LIVE} + .jp-OutputArea-child {{display: none}}</style>"


class Explorer(widgets.VBox):
    """Controls over ``view_function(**values)``'s text and figure, redrawn once when a control moves, with
    ``adjust[name](values)``'s values for other controls. Displayed, three outputs: the live widget, then its
    sentence and its picture as plain text and PNG (hidden while the widget is live), which a notebook saved and
    reopened shows where the widget's model is gone (JupyterLab 4: jupyterlab#4127), as static viewers do."""

    def __init__(self, controls: Mapping, view_function: Callable[..., View], layout_rows=None, adjust=None, title=""):
        info, output = widgets.HTML(value=""), widgets.Output()
        rows = list(controls.values()) if layout_rows is None else list(layout_rows)
        header = [widgets.HTML(value=f"<b>{html.escape(title)}</b>")] if title else []
        super().__init__(children=[*header, *rows, info, output, widgets.HTML(value=LIVE_STYLE)])
        self.add_class("fcnlib-explorer")  # the browser tests' handle
        self.title, self.info, self.output = title, info, output
        self.controls: dict[str, widgets.ValueWidget] = dict(controls)
        self.view_function, self.adjust = view_function, dict(adjust or {})
        self.view, self.png = None, None  # the latest View, and its figure as PNG (None: no figure)
        self.last_update_s, self.updates, self._holding = 0.0, 0, False
        for name, control in self.controls.items():
            control.observe(functools.partial(self._changed, name), names="value")
        self.refresh()

    def sentence(self) -> str:
        """The title and the current view's lines: what a static copy says."""
        lines = self.view.lines if self.view is not None else []
        return "\n".join([f"{self.title or 'Explorer'}: {lines[0]}" if lines else self.title or "Explorer", *lines[1:]])

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """One output: the live widget, and its figure (PNG) and first sentence for viewers without it."""
        first = self.sentence().split("\n")[0]
        data: dict[str, Any] = {"text/plain": f"{first}\n(interactive: run the notebook to move the controls)"}
        if self.png is not None:
            data["image/png"] = base64.b64encode(self.png).decode("ascii")
        if self._view_name is not None and self.comm is not None:
            view = {"version_major": 2, "version_minor": 0, "model_id": self.model_id}
            data["application/vnd.jupyter.widget-view+json"] = view
        return data

    def static_outputs(self) -> list[dict[str, Any]]:
        """What :meth:`_ipython_display_` publishes: the widget without its picture, then the sentence and the
        PNG, each an output of its own (a trusted notebook reopened shows those two where the widget fails)."""
        bundle = Explorer._repr_mimebundle_(self)
        if "application/vnd.jupyter.widget-view+json" not in bundle or "google.colab" in sys.modules:
            return [bundle]  # closed, or Colab (which keeps no widget outputs when saving): the one bundle
        widget = {k: v for k, v in bundle.items() if k != "image/png"}
        widget["text/plain"] = f"{self.title or 'Explorer'} (interactive: run the notebook to move the controls)"
        picture = {"text/plain": "(no figure for this setting)"}
        if self.png is not None:
            picture = {"image/png": bundle["image/png"], "text/plain": f"{self.title or 'Explorer'}: figure"}
        return [widget, {"text/plain": self.sentence()}, picture]

    def _ipython_display_(self, **kwargs: Any) -> None:
        """Publish :meth:`static_outputs` (IPython calls this before any bundle, for ipywidgets 7 and 8); the
        static copy is then updated with every redraw, so a saved notebook holds the last setting."""
        first, *copies = Explorer.static_outputs(self)  # (ipywidgets 8's close() sets the instance's to None)
        display(first, raw=True)
        self._copies = [display(data, raw=True, display_id=True) for data in copies]
        if hasattr(self, "_handle_displayed"):  # ipywidgets 7: run the on_displayed callbacks
            self._handle_displayed(**kwargs)

    def values(self) -> dict[str, Any]:
        return {name: control.value for name, control in self.controls.items()}

    def set(self, **values: Any) -> View:
        """Set several controls with one redraw and return the new View; KeyError for an unknown name."""
        self._holding = True  # the knock-on changes redraw once, afterwards
        try:
            for name, value in values.items():
                if name not in self.controls:
                    raise KeyError(f"no control named {name!r}; the controls are {sorted(self.controls)}")
                self.controls[name].value = value
        finally:
            self._holding = False
        self.refresh()
        return self.view

    def _changed(self, name: str, change: dict[str, Any]) -> None:
        if not self._holding:
            self.set(**(self.adjust[name](self.values()) if name in self.adjust else {}))

    def refresh(self) -> None:
        """Recompute the View and redraw in place, the cyclic GC paused (full collections cost 200-300 ms)."""
        start, collecting = time.perf_counter(), gc.isenabled()
        gc.disable()
        try:
            view = safe_view(self.view_function)(**self.values())
            self.png = None if view.figure is None else render_png(view.figure)
            first, *rest = [html.escape(line) for line in view.lines] or [""]
            style = f"font-family:monospace;color:{'inherit' if view.ok else '#b00020'};white-space:pre-wrap"
            text = "<br>".join([f"<b>{first}</b>", *rest])
            self.view, self.info.value = view, f'<div class="fcnlib-explorer-text" style="{style}">{text}</div>'
            with self.output:
                clear_output(wait=True)
                if self.png is not None:
                    display(Image(data=self.png, format="png"))
            for handle, data in zip(getattr(self, "_copies", []), Explorer.static_outputs(self)[1:]):
                handle.update(data, raw=True)
        finally:
            if collecting:
                gc.enable()
                gc.collect(0)
        self.last_update_s = time.perf_counter() - start
        self.updates += 1


class PhotoUpload(widgets.FileUpload):
    """An upload button for one picture (ipywidgets 7 and 8: read ``.value`` with :func:`fcnlib.data.read_photo`);
    where no widget can run (a stored notebook, a web page), its text says what it is."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**{"accept": "image/*", "multiple": False, "description": "Your photo", **kwargs})

    def __repr__(self) -> str:
        return "[an upload button for your photo: it works when you run the notebook]"


def _axes(figsize: tuple[float, float], ncols: int, bottom: float = 0.1, wspace: float = 0.12, **kw: Any) -> Any:
    """A row of axes on a Figure with fixed margins (``tight_layout`` would cost more than the drawing)."""
    fig = Figure(figsize=figsize)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=bottom, top=0.84, wspace=wspace)
    return fig.subplots(1, ncols, **kw)


def _sliders(**specs: tuple) -> dict[str, widgets.IntSlider]:
    """IntSliders by name from ``(value, min, max)`` or ``(value, min, max, description)``."""
    style = {"description_width": "initial"}
    return {
        name: widgets.IntSlider(value=v, min=lo, max=hi, step=1, description=(*d, name)[0], style=style)
        for name, (v, lo, hi, *d) in specs.items()
    }


def _at_most(value: int, limit: int, what: str) -> None:
    if value > limit:
        raise ValueError(f"{what} is {value}, more than the {limit} this explorer draws: choose smaller settings")


@safe_view
def bilinear_view(factor: int, kernel_size: int, photo: Tensor | None = None) -> View:
    """The kernel, its profile and the photo upsampled ``factor`` times (stride ``factor``, padding from
    :func:`fcnlib.upsampling.bilinear_settings`); ``numbers["phase_sums"]``: taps per output pixel and axis."""
    photo = sample_photo((32, 32)) if photo is None else photo
    stride, padding, output_padding = upsampling.bilinear_settings(factor, kernel_size)
    _at_most(factor * max(photo.shape[-2:]), 1024, "the upsampled photo's side")
    k_match, _, p_match = shapes.upsampling_params(factor)
    kernel = upsampling.bilinear_kernel(1, 1, kernel_size)[0, 0]
    sums = upsampling.phase_sums(kernel.diagonal().sqrt(), stride)  # the tent: kernel[i, j] = t[i] * t[j]
    up = upsampling.bilinear_upsample(photo, factor, kernel_size)
    (h, w), lo, hi = photo.shape[-2:], float(sums.min()), float(sums.max())
    even = abs(hi - lo) < 1e-6
    lines = [
        f"factor {factor}: {h}x{w} -> {up.shape[-2]}x{up.shape[-1]} with kernel_size={kernel_size}, "
        f"stride={stride}, padding={padding}, output_padding={output_padding}",
        f"upsampling_params({factor}) = (kernel_size={k_match}, stride={factor}, padding={p_match})",
        f"kernel_size {kernel_size} is made for factor {(kernel_size + 1) // 2}, used at stride {stride}: ",
    ]
    if kernel_size == k_match:
        lines[2] = f"the matching kernel: every output pixel's taps add up to {hi:.2f} per axis, so it is smooth"
    elif even and abs(hi - 1) < 1e-6:
        lines[2] += "every output pixel's taps add up to 1 per axis, but the tent's peak is half an output pixel off"
    elif even:
        lines[2] += f"its taps add up evenly ({hi:.2f} per axis): flat, but {hi * hi:.2f} times as bright"
    else:
        lines[2] += f"the taps per output pixel add up to {lo:.2f} to {hi:.2f} per axis, so the picture gets stripes"
    axes = _axes((11.5, 3.0), 4, bottom=0.16, wspace=0.25, gridspec_kw={"width_ratios": [1, 1.2, 1, 1]})
    places, title = (4 if kernel_size <= 4 else 2), f"{kernel_size}x{kernel_size} kernel"  # k <= 4: exact
    title = kernels.rounded_title(title, kernel, places) if kernel_size <= 5 else title  # values shown up to 5
    kernels.draw_grid(axes[0], kernel, title=title, annotate=kernel_size <= 5, decimals=places)
    kernels.draw_kernel_profile(axes[1], kernel_size, stride=stride)
    kernels.show_images_side_by_side([photo, up], ["input", f"x{factor}"], axes=axes[2:])
    numbers = dict(stride=stride, padding=padding, output_padding=output_padding, even=even, input_size=(h, w))
    return View(lines, numbers | dict(output_size=tuple(up.shape[-2:]), phase_sums=sums.tolist()), axes[0].figure)


def bilinear_explorer(photo_size: int = 32) -> Explorer:
    """Factor (2 to 8) and kernel-size sliders on a ``photo_size`` square photo; the factor sets the matching kernel
    size. Factor 1 is left out: it takes odd kernels only, so the other kernel size of a factor would fail."""
    c = _sliders(factor=(2, 2, 8, "upsampling factor"), kernel_size=(4, 1, 16))
    view = functools.partial(bilinear_view, photo=sample_photo((photo_size, photo_size)))
    adjust = {"factor": lambda values: {"kernel_size": shapes.upsampling_params(values["factor"])[0]}}
    return Explorer(c, view, [widgets.HBox(list(c.values()))], adjust, title="Bilinear kernel explorer")


@safe_view
def transposed_conv_view(
    size=2, kernel_size=2, stride=1, padding=0, output_padding=0, dilation=1, step=None, figure=True
):
    """The output size formula, the scatter after ``step`` input pixels (None: all) and the overlap counts; input
    and kernel hold ``0, 1, 2, ...`` (d2l's example for 2 and 2). ``figure=False`` skips the drawing."""
    conv = (stride, padding, output_padding, dilation)
    formula = shapes.explain_conv_transpose_output_size(size, kernel_size, *conv)
    try:
        out = shapes.conv_transpose_output_size(size, kernel_size, *conv)
    except ValueError:
        lines = [formula, "nothing to draw: change the highlighted rule's parameter"]
        return View(lines, dict(formula=formula, output_size=None), ok=False)
    _at_most(size, 12, "the input size")
    x = torch.arange(size * size, dtype=torch.float32).reshape(size, size)
    kernel = torch.arange(kernel_size**2, dtype=torch.float32).reshape(kernel_size, kernel_size)
    total = size * size
    step = total if step is None else min(max(shapes.check_int(step, "step"), 0), total)
    counts = upsampling.overlap_map(size, kernel_size, *conv)
    lo, hi = int(counts.min()), int(counts.max())
    taps = f"exactly {lo} kernel tap{'s' * (lo != 1)}" if lo == hi else f"{lo} to {hi} kernel taps"
    (i, j), value = divmod(step - 1, size), int(x.flatten()[step - 1])
    lines = [
        f"output size = {formula}",
        f"the output is {out}x{out}; each output pixel receives {taps}",
        f"step {step}/{total}: input pixel ({i}, {j}) = {value} adds {value} x kernel with its top-left tap at "
        f"({i * stride}, {j * stride}) of the canvas"
        if step
        else "step 0: nothing scattered yet",
    ]
    numbers = dict(formula=formula, output_size=out, step=step, steps=total, overlap_min=lo, overlap_max=hi)
    if not figure:
        return View(lines, numbers)
    canvas_side = (size - 1) * stride + dilation * (kernel_size - 1) + 1 + output_padding
    axes = _axes((12, 3.3), 4, gridspec_kw={"width_ratios": [1, 1, max(1.3, 0.22 * canvas_side), 1.3]})
    kernels.plot_scatter(x, kernel, *conv, step, axes=axes[:3])
    kernels.draw_grid(axes[3], counts, title=f"taps per output pixel ({out}x{out})", vmin=0)
    return View(lines, numbers, axes[0].figure)


def transposed_conv_explorer() -> Explorer:
    """Sliders for size, kernel, stride, padding, output_padding, dilation, and a player for the scatter's steps."""
    c = _sliders(size=(2, 1, 5, "input size"), kernel_size=(2, 1, 4), stride=(1, 1, 4), padding=(0, 0, 3))
    c |= _sliders(output_padding=(0, 0, 3), dilation=(1, 1, 3), step=(4, 0, 4))
    play = widgets.Play(value=4, min=0, max=4, step=1, interval=800, description="play the steps")
    widgets.jslink((play, "value"), (c["step"], "value"))

    def size_changed(values: dict[str, Any]) -> dict[str, Any]:
        play.max = c["step"].max = values["size"] ** 2
        return {"step": play.max}

    groups = [["size", "kernel_size", "stride"], ["padding", "output_padding", "dilation"]]
    rows = [widgets.HBox([c[n] for n in names]) for names in groups] + [widgets.HBox([play, c["step"]])]
    return Explorer(c, transposed_conv_view, rows, {"size": size_changed}, title="Transposed convolution explorer")


@safe_view
def checkerboard_view(kernel_size: int = 3, stride: int = 2, layers: int = 2, method: str = "transposed") -> View:
    """Taps per output pixel and a constant image after 1 and ``layers`` layers of ``method``: ``"transposed"``
    (uniform kernel) or ``"resize"`` (nearest upsampling, then a stride-1 convolution)."""
    stride, layers = shapes.check_int(stride, "stride", 1), shapes.check_int(layers, "layers", 1)
    _at_most(2 * stride**layers, 512, "the upsampled image's side")
    one, many = (upsampling.checkerboard(kernel_size, stride, n, side, method) for n, side in ((1, 4), (layers, 2)))
    (_, _, spread_one), (_, _, spread_many) = upsampling.spread(one), upsampling.spread(many)
    counts = upsampling.overlap_map(3, kernel_size, stride)  # taps per output pixel of a 3x3 input
    even, fewest = method == "resize" or kernel_size % stride == 0, kernel_size // stride
    if method == "resize":  # replicated edges: every output pixel gets all taps
        ones = torch.ones(kernel_size, kernel_size)
        counts = upsampling.resize_conv(torch.ones(1, 1, 3, 3), stride, ones, padding_mode="replicate")[0, 0]
        reason = f"every output pixel sees all {kernel_size}x{kernel_size} taps of the stride-1 convolution: flat"
    elif even:
        reason = f"{kernel_size} is a multiple of {stride}: every output pixel gets {fewest} taps per axis: flat"
    else:
        reason = f"{kernel_size} is not a multiple of {stride}: output pixels get {fewest} or {fewest + 1} taps"
        reason += " per axis: a checkerboard"
    name, plural = "transposed conv" if method == "transposed" else "resize-conv", "s" * (layers > 1)
    lines = [
        f"{name}, kernel {kernel_size}, stride {stride}: {reason}",
        f"a constant image varies by {spread_one:.0%} after 1 layer and by {spread_many:.0%} after "
        f"{layers} layer{plural} (max - min, relative to the mean)",
    ]
    axes = _axes((10.5, 3.5), 3)
    kernels.draw_grid(axes[0], counts, title="taps per output pixel (3x3 input)", vmin=0)
    vmax = max(float(one.max()), float(many.max()), 1.0) * 1.05  # one grey scale for both
    kernels.draw_checkerboard(axes[1], one, "constant image, 1 layer, no border", vmax)
    kernels.draw_checkerboard(axes[2], many, f"constant image, {layers} layer{plural}, no border", vmax)
    numbers = dict(even=even, spread_one=spread_one, spread_many=spread_many)
    return View(lines, numbers | dict(size_one=one.shape[-2:], size_many=many.shape[-2:]), axes[0].figure)


def checkerboard_explorer() -> Explorer:
    """Kernel, stride and layers sliders and a transposed / resize-conv toggle."""
    c = _sliders(kernel_size=(3, 1, 8), stride=(2, 1, 4), layers=(2, 1, 3))
    rows = [widgets.HBox(list(c.values()))]
    c["method"] = widgets.ToggleButtons(options=[("transposed conv", "transposed"), ("resize-conv", "resize")])
    return Explorer(c, checkerboard_view, [*rows, c["method"]], title="Checkerboard artifacts explorer")


def resnet18_stages(seed: int = 0) -> torch.nn.Module:
    """torchvision's ``resnet18(weights=None)`` up to ``layer4``, seeded, in eval mode, as a Sequential."""
    import torchvision

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = torchvision.models.resnet18(weights=None)
    return torch.nn.Sequential(*list(net.children())[:-2]).eval()


_RF_SIZE = (256, 224)  # the default photo
_STAGE_END = {"conv1": 1, "maxpool": 4, "layer1": 5, "layer2": 6, "layer3": 7, "layer4": 8}  # children of the above


@safe_view
def receptive_field_view(stage: str = "layer2", row: int = 0, col: int = 0, photo: Tensor | None = None, net=None):
    """A ResNet-18 stage's output position: its receptive field (red, clipped) and ``|d out / d photo|`` summed
    over channels. ``numbers``: ``size``, ``jump``, ``grid`` (output size), ``box``, ``grad_box`` (non-zero
    gradient; both ``(top, left, bottom, right)``), ``half_mass_px`` (pixels holding half the gradient)."""
    fields = {name: (size, jump) for name, size, jump in shapes.resnet18_receptive_fields()}
    if stage not in fields:
        raise ValueError(f"stage must be one of {', '.join(fields)}, got {stage!r}")
    photo = sample_photo(_RF_SIZE, face=False) if photo is None else photo
    if not (isinstance(photo, Tensor) and photo.dim() == 3 and photo.shape[0] == 3 and min(photo.shape[1:]) >= 32):
        raise ValueError("photo must be a [3, H, W] tensor with H, W >= 32, like fcnlib.data.sample_photo()")
    if not photo.is_floating_point():
        raise TypeError(f"photo must hold floats in [0, 1], got {photo.dtype} (bytes: pass photo / 255)")
    x = photo[None].clone().float().requires_grad_(True)
    out = (resnet18_stages() if net is None else net)[: _STAGE_END[stage]](x)
    grid = tuple(out.shape[-2:])
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < n for v, n in zip((row, col), grid)):
        raise ValueError(f"row, col = {row!r}, {col!r} is outside the {stage} output of {grid[0]}x{grid[1]}")
    (grad,) = torch.autograd.grad(out[0, :, row, col].sum(), x)
    (size, jump), g = fields[stage], grad[0].abs().sum(0)
    cy, cx, half = jump * row, jump * col, size // 2
    box = (max(cy - half, 0), max(cx - half, 0), min(cy + half, g.shape[0] - 1), min(cx + half, g.shape[1] - 1))
    bh, bw = box[2] - box[0] + 1, box[3] - box[1] + 1
    nz = (g > 0).nonzero()
    grad_box = tuple(nz.min(0).values.tolist() + nz.max(0).values.tolist()) if len(nz) else None
    sorted_g = g.flatten().sort(descending=True).values
    half_mass = int((sorted_g.cumsum(0) < 0.5 * sorted_g.sum()).sum()) + 1
    lines = [
        f"{stage}: output {grid[0]}x{grid[1]}, positions {jump} pixels apart; position ({row}, {col}) is centred on "
        f"pixel ({cy}, {cx}) and sees a {size}x{size} square ({bh}x{bw} inside the photo)",
        f"half of its gradient comes from {half_mass} pixels (a square of about {half_mass**0.5:.0f}x"
        f"{half_mass**0.5:.0f}): the effective receptive field is smaller than the theoretical one",
    ]
    axes = _axes((9, 4.6), 2, bottom=0.1, wspace=0.25)
    axes[0].imshow(photo.permute(1, 2, 0).clamp(0, 1).numpy())
    shown = axes[1].imshow((g / g.max()).clamp_min(1e-7).log10().numpy(), cmap="magma", vmin=-6, vmax=0)
    axes[0].figure.colorbar(shown, ax=axes[1], extend="min", label="log10(|gradient| / largest)")
    core = (g >= sorted_g[half_mass - 1]).float()[..., None].numpy()  # the pixels holding half of the gradient
    axes[1].imshow(core * [[[0.2, 1.0, 0.2, 0.8]]])  # green, transparent elsewhere
    titles = (f"position + sees {size}x{size} pixels (red)", f"half of |gradient| from {half_mass} px (green)")
    for ax, title in zip(axes, titles):
        kernels.draw_box(ax, box[0], box[1], bh, bw)
        ax.plot(cx, cy, "c+", markersize=10)
        ax.set_title(title, fontsize=10)
        ax.axis("off")
    numbers = dict(size=size, jump=jump, grid=grid, box=box, grad_box=grad_box, half_mass_px=half_mass)
    return View(lines, numbers, axes[0].figure)


def receptive_field_explorer(photo: Tensor | None = None) -> Explorer:
    """A stage menu and row/column sliders (a new stage centres them) over :func:`receptive_field_view`."""
    photo = sample_photo(_RF_SIZE, face=False) if photo is None else photo
    grids = dict(shapes.backbone_size_trace(tuple(photo.shape[-2:])))
    gh, gw = grids["layer2"]
    c = {"stage": widgets.Dropdown(options=list(_STAGE_END), value="layer2", description="stage")}
    c |= _sliders(row=(gh // 2, 0, gh - 1), col=(gw // 2, 0, gw - 1))

    def stage_changed(values: dict[str, Any]) -> dict[str, Any]:
        gh, gw = grids[values["stage"]]
        c["row"].max, c["col"].max = gh - 1, gw - 1
        return {"row": gh // 2, "col": gw // 2}

    view = functools.partial(receptive_field_view, photo=photo, net=resnet18_stages())
    rows = [c["stage"], widgets.HBox([c["row"], c["col"]])]
    return Explorer(c, view, rows, {"stage": stage_changed}, title="Receptive field explorer")


def _after(epoch: int) -> str:
    return "before training" if epoch == 0 else f"after epoch {epoch}"


def _missed(preds: Tensor, targets: Tensor, classes=None) -> str:
    """Per image, the classes of ``targets`` of which ``preds`` gets under half of the pixels right, or "none"."""
    labelled = targets[targets != 255]
    names, found = segmentation_viz._palette(classes, None, int(labelled.max()) + 1 if labelled.numel() else 1)[0], []
    for k, (pred, target) in enumerate(zip(preds, targets), 1):
        for c in target[target != 255].unique().tolist():
            right = float((pred[target == c] == c).float().mean())
            if right < 0.5:
                found.append(f"image {k}: {names[c]} ({right:.0%} right)")
    return "; ".join(found) or "none"


@safe_view
def epoch_view(epoch: int, epochs=(), predictions=(), images=None, targets=None, classes=None, colormap=None) -> View:
    """Fixed images' predictions recorded during training (:class:`fcnlib.experiments.PredictionRecorder`: one
    ``[K, H, W]`` label map per entry of ``epochs``, 0 before training) at ``epoch``: rows image, the first record,
    ``epoch``'s and ``targets [K, H, W]`` (255 void); the sentence names per image the classes mostly missed.
    ``numbers``: ``pixel_acc`` (share of labelled pixels right, per recorded epoch), ``changed`` (share of pixels
    whose class differs from the record before ``epoch``)."""
    epochs, preds = list(epochs), [torch.as_tensor(p) for p in predictions]
    if epoch not in epochs:
        raise ValueError(f"epoch must be one of the recorded epochs {epochs}, got {epoch!r}")
    if not (isinstance(images, Tensor) and isinstance(targets, Tensor)) or len(preds) != len(epochs):
        raise ValueError("give images [K, 3, H, W], targets [K, H, W] and one prediction per recorded epoch")
    if any(p.shape != targets.shape for p in preds) or images.shape[:1] + images.shape[2:] != targets.shape:
        raise ValueError(f"predictions {[tuple(p.shape) for p in preds]} and images must fit targets {targets.shape}")
    labelled, i = targets != 255, epochs.index(epoch)
    accs = [float((p == targets)[labelled].float().mean()) for p in preds]
    changed = float((preds[i] != preds[i - 1]).float().mean()) if i else 0.0
    lines = [f"{_after(epoch)}: {accs[i]:.1%} of the labelled pixels of these {len(targets)} test images right"]
    since = _after(epochs[i - 1]).removeprefix("after ")
    lines[0] += f"; {changed:.1%} of their pixels changed class since {since}" if i else ""
    lines.append("share right by epoch: " + ", ".join(f"{e}: {a:.1%}" for e, a in zip(epochs, accs)))
    lines.append("mostly missed (under half of its pixels right): " + _missed(preds[i], targets, classes))
    rows = {_after(epochs[0]): preds[0]} | ({_after(epoch): preds[i]} if i else {})
    fig = segmentation_viz.show_model_comparison(images, rows, targets, colormap, classes, scale=1.5)
    plt.close(fig)  # drawn as PNG by the explorer, not again by the notebook
    return View(lines, dict(pixel_acc=accs, changed=changed), fig)


def epoch_explorer(recorder: Any, targets: Tensor, classes=None, colormap=None) -> Explorer:
    """An epoch slider (starting at the last) over :func:`epoch_view` for a
    :class:`fcnlib.experiments.PredictionRecorder`'s images and predictions; ValueError when nothing was recorded."""
    if not recorder.epochs:
        raise ValueError("the recorder holds no predictions: pass it to fcnlib.train(..., reporter=recorder) first")
    first, last = recorder.epochs[0], recorder.epochs[-1]
    c = _sliders(epoch=(last, first, last, "epoch"))
    record = dict(epochs=recorder.epochs, predictions=recorder.predictions, images=recorder.images)
    view = functools.partial(epoch_view, **record, targets=targets, classes=classes, colormap=colormap)
    return Explorer(c, view, title="Predictions by epoch")


def scaled_skip_scores(net: torch.nn.Module, x: Tensor, scale: float) -> Tensor:
    """An FCN-16s or FCN-8s ``net``'s scores ``[N, C, H, W]`` for normalised images ``x [N, 3, H, W]`` with every
    skip's scores (``score16``, ``score8``) times ``scale``: 1 gives ``net(x)``, 0 the coarse path alone. ValueError
    for an FCN-32s or another module."""
    if getattr(net, "variant", None) not in ("16s", "8s"):
        raise ValueError(f"net must be an FCN-16s or FCN-8s (fcnlib.fcn_resnet18), got {type(net).__name__}")
    with torch.no_grad():
        t = net.intermediates(x)
        fused = t["up32to16"] + scale * t["score16"]
        if net.variant == "8s":
            fused = net.up_layer3(fused) + scale * t["score8"]
        return net.transpose_conv(fused)


@safe_view
def skip_scale_view(scale: float = 1.0, net=None, image=None, target=None, classes=None, colormap=None) -> View:
    """The prediction of an FCN-16s or FCN-8s ``net`` for one normalised ``image [3, H, W]`` with its skips' scores
    times ``scale`` (in [0, 1]), beside scale 0 and the ``target`` labels ``[H, W]`` (255 void). ``numbers``:
    ``pixel_acc`` at ``scale`` and ``pixel_acc0`` at 0 (labelled pixels right), ``changed`` (share of pixels whose
    class differs from scale 0). The legend lists the classes that cover at least ``LEGEND_MIN_PIXELS`` pixels of the
    three label maps together."""
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 <= scale <= 1:
        raise ValueError(f"scale must be a number in [0, 1], got {scale!r}")
    given = isinstance(image, Tensor) and image.dim() == 3 and isinstance(target, Tensor)
    if not (given and target.shape == image.shape[1:]):
        raise ValueError("give image [3, H, W] (normalised) and target [H, W] of the same size")
    x = image[None].to(next(net.parameters()).device) if isinstance(net, torch.nn.Module) else image[None]
    pred0, pred = (scaled_skip_scores(net, x, s)[0].argmax(0).cpu() for s in (0.0, float(scale)))
    labelled = target != 255
    acc0, acc = ((p == target)[labelled].float().mean().item() for p in (pred0, pred))
    changed = (pred != pred0).float().mean().item()
    lines = [
        f"skip scale {scale:.1f}: {acc:.1%} of the labelled pixels right ({acc0:.1%} at scale 0); "
        f"{changed:.1%} of the pixels change class from scale 0"
    ]
    names, cmap = _palette(classes, colormap)
    axes = _axes((11.5, 2.9), 4, bottom=0.2)
    titles = ["image", "skips x 0", f"skips x {scale:.1f}", "ground truth"]
    for ax, title, picture in zip(
        axes, titles, [image_array(image, True)] + [label2image(m.numpy(), cmap) for m in (pred0, pred, target)]
    ):
        ax.imshow(picture)
        ax.set(xticks=[], yticks=[], title=title)
    handles = _handles([m.numpy() for m in (pred0, pred, target)], names, cmap, LEGEND_MIN_PIXELS)
    axes[0].figure.legend(handles=handles, loc="lower center", ncol=min(len(handles), 8), frameon=False)
    return View(lines, dict(pixel_acc=acc, pixel_acc0=acc0, changed=changed), axes[0].figure)


def skip_explorer(net, image, target, classes=None, colormap=None) -> Explorer:
    """A skip-scale slider (0 to 1, steps of 0.1) over :func:`skip_scale_view` for one image of an FCN-16s/8s."""
    c = {"scale": widgets.FloatSlider(value=1.0, min=0.0, max=1.0, step=0.1, description="skip scale")}
    view = functools.partial(skip_scale_view, net=net, image=image, target=target, classes=classes, colormap=colormap)
    return Explorer(c, view, title="Skip scale explorer")
