"""Training curves per epoch: :func:`plot_history`, :func:`plot_histories` (runs compared), :class:`LiveCurves`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
from IPython import get_ipython  # installed with ipywidgets
from IPython.display import Image, display
from matplotlib.ticker import MaxNLocator

from ._common import png_bytes

__all__ = ["plot_histories", "plot_history", "LiveCurves"]

History = Sequence[Mapping[str, Any]]
TITLES = dict(loss="training loss", train_acc="training pixel accuracy", pixel_acc="test pixel accuracy")
TITLES.update(miou="test mean IoU", mean_acc="test mean accuracy", fw_iou="test f.w. IoU")
CURVES = (("loss", "train loss", 0), ("train_acc", "train pixel acc", 1))  # (key, label, panel 0 loss, 1 rates)
CURVES += (("pixel_acc", "test pixel acc", 1), ("miou", "test mIoU", 1))


def _xy(history: History, key: str) -> list[list[Any]]:
    """Epochs (from 1 where a dict has none) and values of ``key``, skipping epochs without it."""
    points = [(e.get("epoch", i + 1), e[key]) for i, e in enumerate(history) if e.get(key) is not None]
    return [[p[0] for p in points], [p[1] for p in points]]


def _epoch_axis(ax: Any, title: str, **title_kw: Any) -> None:
    ax.set_title(title, **title_kw)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)


def plot_histories(histories: Mapping[str, History | None], keys=("loss", "miou"), figsize=(8, 2.8)):
    """One panel per key, one line per run; ``histories``: run name (``"32s"``) -> per-epoch dicts (not empty)."""
    if not histories:
        raise ValueError("no histories to plot")
    fig, axes = plt.subplots(1, len(keys), figsize=figsize, squeeze=False, layout="tight")
    for ax, key in zip(axes[0], keys):
        for name, history in histories.items():
            if history is not None:
                ax.plot(*_xy(history, key), "o-", label=name if str(name).startswith("FCN") else f"FCN-{name}")
        _epoch_axis(ax, TITLES.get(key, key), fontsize=10)
    axes[0][-1].legend(fontsize=9)
    return fig


def in_notebook() -> bool:
    """True inside a Jupyter (IPython kernel) session: JupyterLab, Notebook, Colab, VS Code."""
    return hasattr(get_ipython(), "kernel")


def plot_history(history: History, num_epochs: int | None = None, figsize=(8, 3), axes: Sequence[Any] | None = None):
    """A finished run: ``history`` as :func:`fcnlib.train` returns it (per-epoch dicts; missing keys skipped), loss
    left, rates right; ``axes``: two axes to clear and redraw (:class:`LiveCurves`)."""
    axes = plt.subplots(1, 2, figsize=figsize, layout="tight")[1] if axes is None else axes
    history = list(history)
    last = max([int(e.get("epoch", i + 1)) for i, e in enumerate(history)] or [1])
    for ax in axes:
        ax.clear()
    for key, label, panel in CURVES:
        xs, ys = _xy(history, key)
        if xs:
            axes[panel].plot(xs, ys, marker="o", markersize=3, label=label)
    for ax, title in zip(axes, ("training loss", "accuracy and mIoU")):
        _epoch_axis(ax, title)
        ax.set_xlim(0.8, max(num_epochs or 1, last, 1) + 0.2)
        if ax.get_lines():
            ax.legend(loc="best", fontsize=9)
    axes[1].set_ylim(0, 1)
    return axes[0].figure


class LiveCurves:
    """Curves redrawn in place after each epoch (outside a kernel only ``fig``); ``reporter=`` of ``fcnlib.train``."""

    def __init__(self, num_epochs: int | None = None, figsize=(8, 3)) -> None:
        self.num_epochs, self._handle = num_epochs, None
        self.fig, self.axes = plt.subplots(1, 2, figsize=figsize, layout="tight")
        plt.close(self.fig)  # shown only through the display handle, not again when the cell ends

    def update(self, history: History) -> None:
        """Redraw with every epoch of ``history`` and refresh the displayed figure (a PNG: any backend)."""
        plot_history(history, self.num_epochs, axes=self.axes)
        if not in_notebook():
            return
        image = Image(data=png_bytes(self.fig, self.fig.dpi), format="png")
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)

    def on_train_begin(self, num_epochs: int, num_batches: int | None, history: History) -> None:
        self.num_epochs = self.num_epochs or num_epochs
        self.update(history)

    def on_epoch_end(self, history: History) -> None:
        self.update(history)
