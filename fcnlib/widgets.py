"""Interactive explorers: move a slider, see the formula, the scatter, the overlap, the picture.

Every explorer is a thin layer. A pure *view function* (``bilinear_view``,
``transposed_conv_view``, ``checkerboard_view``, ``prediction_view``) turns the sliders'
values into a :class:`View`: the text to show, the numbers behind it, and a matplotlib
figure drawn by :mod:`fcnlib.viz` from the pure functions of :mod:`fcnlib.arithmetic`,
:mod:`fcnlib.upsampling` and :mod:`fcnlib.explain`. Tests call the view functions
directly; the widgets only wire sliders to them.

The figure is rendered to a PNG here (with matplotlib's Agg renderer, whatever backend
the notebook uses, so ``ipympl`` is never needed) and shown in one ``Output`` area that is
cleared and redrawn on every change. Settings that PyTorch would refuse show the rule
they break, as text, never a traceback. Only widgets and calls that exist in both
ipywidgets 7.7 (Google Colab) and 8.x (JupyterLab 4) are used.

Usage, as the last line of a notebook cell::

    fcnlib.widgets.transposed_conv_explorer()
"""

from __future__ import annotations

import gc
import html
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
from .shapes import conv_transpose_output_size, explain_conv_transpose_output_size, upsampling_params
from .upsampling import (
    bilinear_kernel,
    bilinear_settings,
    bilinear_transposed_conv,
    checkerboard,
    overlap_map,
    phase_sums,
    resize_conv,
    spread,
)
from .viz.kernels import draw_checkerboard, draw_grid, draw_kernel_profile, draw_scatter, show_images_side_by_side

__all__ = [
    "DPI",
    "View",
    "render_png",
    "Explorer",
    "bilinear_view",
    "bilinear_explorer",
    "transposed_conv_view",
    "transposed_conv_explorer",
    "checkerboard_view",
    "checkerboard_explorer",
]


# Figures are drawn at this resolution: sharp enough on screen, quick to render.
DPI = 72


@dataclass
class View:
    """What an explorer shows for one setting of its sliders.

    ``lines`` are the sentences above the figure; ``numbers`` the values behind them (for
    tests and for the curious: ``explorer.view.numbers``); ``figure`` a matplotlib
    ``Figure`` or ``None``; ``ok`` is ``False`` for a setting PyTorch would refuse, whose
    ``lines`` then state the broken rule.
    """

    lines: list[str]
    numbers: dict[str, Any] = field(default_factory=dict)
    figure: Figure | None = None
    ok: bool = True

    @property
    def text(self) -> str:
        """The lines as plain text, as they appear in the widget."""
        return "\n".join(self.lines)

    def html(self) -> str:
        """The lines as HTML: monospace, the first in bold, red when the setting is impossible."""
        color = "#b00020" if not self.ok else "inherit"
        parts = [html.escape(line) for line in self.lines]
        if parts:
            parts[0] = f"<b>{parts[0]}</b>"
        return (
            f'<div class="fcnlib-explorer-text" style="font-family:monospace;color:{color};'
            f'white-space:pre-wrap">{"<br>".join(parts)}</div>'
        )


def render_png(fig: Figure, dpi: int = DPI) -> bytes:
    """The figure as PNG bytes (the inline backend does the same, just less predictably)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


class Explorer(widgets.VBox):
    """A VBox of controls, a text area and one output area, redrawn when a control changes.

    ``controls`` maps names to value widgets; ``view_function(**values)`` returns the
    :class:`View`. After each change, ``view`` holds the latest View, ``png`` its figure's
    PNG bytes and ``last_update_s`` the seconds the update took. ``adjust(name, values)``,
    if given, returns control values to change along with the one the user moved (e.g. the
    matching kernel size when the factor changes); the explorer redraws once for both.
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

    def values(self) -> dict[str, Any]:
        """The controls' current values, by name."""
        return {name: control.value for name, control in self.controls.items()}

    def set(self, **values: Any) -> View:
        """Set several controls at once (one redraw) and return the new View. For tests and scripts."""
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
        """Recompute the View from the controls and redraw the text and the figure in place.

        Python's cyclic garbage collector is paused while the figure is drawn, and then
        collects only the update's own garbage (its youngest generation: a few
        milliseconds). Left alone, it promotes the thousands of short-lived matplotlib
        objects of every figure to its oldest generation, and about every tenth slider move
        paid for a full collection of everything in the kernel: 200-300 ms on a 2-core CPU,
        five times the update itself.
        """
        start = time.perf_counter()
        collecting = gc.isenabled()
        gc.disable()
        try:
            try:
                view = self.view_function(**self.values())
            except (ValueError, TypeError) as err:  # a last line of defence: a message, never a traceback
                view = View([f"Impossible setting: {err}"], ok=False)
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


def _fixed_layout(
    fig: Figure, left: float = 0.01, bottom: float = 0.1, wspace: float = 0.12, right: float = 0.99
) -> None:
    """Fixed margins instead of ``tight_layout``, which would cost more time than the drawing itself."""
    fig.subplots_adjust(left=left, right=right, bottom=bottom, top=0.84, wspace=wspace)


def _slider(description: str, value: int, lo: int, hi: int, **kw: Any) -> widgets.IntSlider:
    return widgets.IntSlider(
        value=value,
        min=lo,
        max=hi,
        step=1,
        description=description,
        continuous_update=True,
        style={"description_width": "initial"},
        **kw,
    )


def bilinear_view(factor: int, kernel_size: int, photo: Tensor | None = None) -> View:
    """What :func:`bilinear_explorer` shows: the kernel, its profile and the photo upsampled ``factor`` times.

    The transposed convolution uses stride ``factor`` and the padding (and output padding)
    of :func:`fcnlib.explain.bilinear_settings`, so the output is exactly ``factor`` times
    larger. With the kernel made for this factor each output pixel's taps add up to the
    same total (:func:`fcnlib.explain.phase_sums` all 1); other kernel sizes give stripes.
    """
    photo = sample_photo((32, 32)) if photo is None else photo
    try:
        stride, padding, output_padding = bilinear_settings(factor, kernel_size)
    except ValueError as err:
        return View([f"Impossible setting: {err}"], {"factor": factor, "kernel_size": kernel_size}, ok=False)
    k_match, _, p_match = upsampling_params(factor)
    kernel = bilinear_kernel(1, 1, kernel_size)[0, 0]
    tent = kernel.diagonal().sqrt()
    sums = phase_sums(tent, stride)
    up = bilinear_transposed_conv(photo, kernel_size, factor)
    h, w = photo.shape[-2:]
    lines = [
        f"factor {factor}: {h}x{w} -> {up.shape[-2]}x{up.shape[-1]} with kernel_size={kernel_size}, "
        f"stride={stride}, padding={padding}, output_padding={output_padding}",
        f"upsampling_params({factor}) = (kernel_size={k_match}, stride={factor}, padding={p_match})",
    ]
    lo, hi = float(sums.min()), float(sums.max())
    even = abs(hi - lo) < 1e-6
    if kernel_size == k_match:
        lines.append(
            f"the matching kernel: every output pixel's taps add up to {hi:.2f} per axis, so the result is smooth"
        )
    else:
        made_for = (kernel_size + 1) // 2
        lines.append(
            f"kernel_size {kernel_size} is made for factor {made_for}, used at stride {stride}: "
            + (
                f"the taps per output pixel add up to between {lo:.2f} and {hi:.2f} per axis, so the picture gets stripes"
                if not even
                else f"the taps add up evenly ({hi:.2f} per axis), but the kernel blurs more or less than bilinear"
            )
        )
    fig = Figure(figsize=(11.5, 3.0))
    axes = fig.subplots(1, 4, gridspec_kw={"width_ratios": [1, 1.2, 1, 1]})
    draw_grid(axes[0], kernel, title=f"{kernel_size}x{kernel_size} kernel", annotate=kernel_size <= 5)
    draw_kernel_profile(axes[1], kernel_size, stride=stride, legend=False)
    show_images_side_by_side([photo, up], ["input", f"x{factor}"], axes=axes[2:])
    _fixed_layout(fig, left=0.01, bottom=0.16, wspace=0.25)
    numbers = {
        "factor": factor,
        "kernel_size": kernel_size,
        "stride": stride,
        "padding": padding,
        "output_padding": output_padding,
        "input_size": (h, w),
        "output_size": tuple(up.shape[-2:]),
        "phase_sums": sums.tolist(),
        "even": even,
    }
    return View(lines, numbers, fig)


def bilinear_explorer(photo_size: int = 32) -> Explorer:
    """Sliders for the upsampling factor and the kernel size; shows the kernel and the upsampled photo.

    Moving ``factor`` also sets ``kernel_size`` to the matching size (``2 * factor`` or
    ``2 * factor - 1``); move ``kernel_size`` afterwards to see what a mismatched kernel does.
    ``photo_size`` is the side of the (square) face crop of the sample photo.
    """
    photo = sample_photo((photo_size, photo_size))
    controls = {
        "factor": _slider("upsampling factor", 2, 1, 8),
        "kernel_size": _slider("kernel_size", 4, 1, 16),
    }

    def adjust(name: str, values: dict[str, Any]) -> dict[str, Any]:
        if name == "factor":
            return {"kernel_size": upsampling_params(values["factor"])[0]}
        return {}

    def view(factor: int, kernel_size: int) -> View:
        return bilinear_view(factor, kernel_size, photo)

    rows = [widgets.HBox([controls["factor"], controls["kernel_size"]])]
    return Explorer(controls, view, rows, adjust, title="Bilinear kernel explorer")


def transposed_conv_view(
    size: int = 2,
    kernel_size: int = 2,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
    step: int | None = None,
    figure: bool = True,
) -> View:
    """What :func:`transposed_conv_explorer` shows: the output size formula, the scatter and the overlap counts.

    The input is ``size x size`` with values ``0, 1, 2, ...`` and the kernel
    ``kernel_size x kernel_size`` with values ``0, 1, 2, ...`` (d2l's example for 2 and 2).
    ``step`` input pixels have been scattered (``None``: all). An impossible setting gives
    a View with ``ok=False`` whose text is the rule it breaks (the same rule PyTorch enforces).
    ``figure=False`` skips the drawing (the text and numbers stay the same).
    """
    formula = explain_conv_transpose_output_size(size, kernel_size, stride, padding, output_padding, dilation)
    numbers: dict[str, Any] = {
        "size": size,
        "kernel_size": kernel_size,
        "stride": stride,
        "padding": padding,
        "output_padding": output_padding,
        "dilation": dilation,
        "formula": formula,
    }
    try:
        out = conv_transpose_output_size(size, kernel_size, stride, padding, output_padding, dilation)
    except ValueError:
        numbers["output_size"] = None
        return View([formula, "nothing to draw: change the highlighted rule's parameter"], numbers, ok=False)
    x = torch.arange(size * size, dtype=torch.float32).reshape(size, size)
    kernel = torch.arange(kernel_size * kernel_size, dtype=torch.float32).reshape(kernel_size, kernel_size)
    total = size * size
    step = total if step is None else min(max(int(step), 0), total)
    counts = overlap_map(size, kernel_size, stride, padding, output_padding, dilation)
    lo, hi = int(counts.min()), int(counts.max())
    taps = f"exactly {lo} kernel tap{'s' * (lo != 1)}" if lo == hi else f"{lo} to {hi} kernel taps"
    lines = [f"output size = {formula}", f"the output is {out}x{out}; each output pixel receives {taps}"]
    if step == 0:
        lines.append("step 0: nothing scattered yet")
    else:
        i, j = divmod(step - 1, size)
        lines.append(
            f"step {step}/{total}: input pixel ({i}, {j}) = {int(x[i, j])} adds {int(x[i, j])} x kernel "
            f"with its top-left tap at ({i * stride}, {j * stride}) of the canvas"
        )
    numbers.update(
        output_size=out, step=step, steps=total, overlap_min=int(counts.min()), overlap_max=int(counts.max())
    )
    if not figure:
        return View(lines, numbers)
    fig = Figure(figsize=(12, 3.3))
    canvas_side = (size - 1) * stride + dilation * (kernel_size - 1) + 1 + output_padding
    axes = fig.subplots(1, 4, gridspec_kw={"width_ratios": [1, 1, max(1.3, 0.22 * canvas_side), 1.3]})
    draw_scatter(axes[:3], x, kernel, stride, padding, output_padding, dilation, step)
    draw_grid(axes[3], counts, title=f"taps per output pixel ({out}x{out})", vmin=0)
    _fixed_layout(fig)
    return View(lines, numbers, fig)


def transposed_conv_explorer() -> Explorer:
    """Sliders for input size, kernel, stride, padding, output_padding and dilation, and a step player.

    Shows ``output size = ...`` with this setting's numbers in the formula, the scatter
    picture (which output pixels the current input pixel writes, the partial sums so far,
    the part padding trims) and how many taps each output pixel gets. Press play (or move
    ``step``) to walk through the input pixels one at a time; the last step is the full
    transposed convolution. Impossible settings show the rule they break.
    """
    controls = {
        "size": _slider("input size", 2, 1, 5),
        "kernel_size": _slider("kernel_size", 2, 1, 4),
        "stride": _slider("stride", 1, 1, 4),
        "padding": _slider("padding", 0, 0, 3),
        "output_padding": _slider("output_padding", 0, 0, 3),
        "dilation": _slider("dilation", 1, 1, 3),
        "step": _slider("step", 4, 0, 4),
    }
    play = widgets.Play(value=4, min=0, max=4, step=1, interval=800, description="play the steps")
    widgets.jslink((play, "value"), (controls["step"], "value"))

    def adjust(name: str, values: dict[str, Any]) -> dict[str, Any]:
        if name == "size":
            total = values["size"] ** 2
            play.max = total
            controls["step"].max = total
            return {"step": total}
        return {}

    def view(**values: Any) -> View:
        return transposed_conv_view(**values)

    c = controls
    rows = [
        widgets.HBox([c["size"], c["kernel_size"], c["stride"]]),
        widgets.HBox([c["padding"], c["output_padding"], c["dilation"]]),
        widgets.HBox([play, c["step"]]),
    ]
    return Explorer(controls, view, rows, adjust, title="Transposed convolution explorer")


def checkerboard_view(kernel_size: int = 3, stride: int = 2, layers: int = 2, method: str = "transposed") -> View:
    """What :func:`checkerboard_explorer` shows: taps per output pixel, and a constant image after 1 and ``layers`` layers.

    ``method="transposed"``: transposed convolutions with a uniform kernel (overlap counts
    from :func:`fcnlib.upsampling.overlap_map`); ``"resize"``: resize-convolutions
    (:func:`fcnlib.explain.resize_conv`), which give every output pixel all ``k*k`` taps.
    """
    one = checkerboard(kernel_size, stride, 1, 4, method)
    many = checkerboard(kernel_size, stride, layers, 2, method)
    _, _, spread_one = spread(one)
    _, _, spread_many = spread(many)
    if method == "transposed":
        counts = overlap_map(3, kernel_size, stride)  # 3x3 input: small enough to print every count
        name = "transposed conv"
    else:
        # Taps per pixel of the stride-1 convolution after nearest upsampling (replicated edges).
        counts = resize_conv(
            torch.ones(1, 1, 3, 3), stride, torch.ones(kernel_size, kernel_size), padding_mode="replicate"
        )[0, 0]
        name = "resize-conv"
    even = method == "resize" or kernel_size % stride == 0
    if method == "resize":
        reason = f"every output pixel sees all {kernel_size}x{kernel_size} taps of the stride-1 convolution: flat"
    elif even:
        reason = f"{kernel_size} is a multiple of {stride}: every output pixel gets {kernel_size // stride} taps per axis: flat"
    else:
        reason = (
            f"{kernel_size} is not a multiple of {stride}: output pixels get "
            f"{kernel_size // stride} or {kernel_size // stride + 1} taps per axis: a checkerboard"
        )
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
    numbers = {
        "kernel_size": kernel_size,
        "stride": stride,
        "layers": layers,
        "method": method,
        "spread_one": spread_one,
        "spread_many": spread_many,
        "even": even,
        "size_one": tuple(one.shape),
        "size_many": tuple(many.shape),
    }
    return View(lines, numbers, fig)


def checkerboard_explorer() -> Explorer:
    """Kernel and stride sliders, a layers slider and a transposed / resize-conv toggle.

    Shows how many taps land on each output pixel and what that does to a constant image
    after one layer and after several (the pattern compounds). Resize-convolution
    (nearest-neighbour upsampling, then a stride-1 convolution) stays flat.
    """
    controls = {
        "kernel_size": _slider("kernel_size", 3, 1, 8),
        "stride": _slider("stride", 2, 1, 4),
        "layers": _slider("layers", 2, 1, 3),
        "method": widgets.ToggleButtons(
            options=[("transposed conv", "transposed"), ("resize-conv", "resize")],
            value="transposed",
            description="method",
        ),
    }
    c = controls
    rows = [widgets.HBox([c["kernel_size"], c["stride"], c["layers"]]), c["method"]]
    return Explorer(controls, checkerboard_view, rows, title="Checkerboard artifacts explorer")
