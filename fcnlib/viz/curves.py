"""Training curves: the loss (left) and the rates in [0, 1] (right), per epoch.

:class:`LiveCurves` redraws one figure in place in a notebook (an IPython display handle);
:func:`plot_history` draws a finished run, :func:`plot_histories` compares runs.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib.pyplot as plt
from matplotlib.ticker import MaxNLocator

__all__ = ["plot_histories", "CURVES", "in_notebook", "plot_history", "LiveCurves"]


def plot_histories(histories: Mapping[str, Sequence[Mapping[str, Any]]], keys=("loss", "miou"), figsize=(8, 2.8)):
    """One panel per key, one line per run; ``histories``: run name (``"32s"``) -> per-epoch dicts (not empty)."""
    titles = dict(loss="training loss", train_acc="training pixel accuracy", pixel_acc="test pixel accuracy")
    titles.update(miou="test mean IoU", mean_acc="test mean accuracy", fw_iou="test f.w. IoU")
    if not histories:
        raise ValueError("no histories to plot")
    fig, axes = plt.subplots(1, len(keys), figsize=figsize, squeeze=False)
    for ax, key in zip(axes[0], keys, strict=False):
        for name, history in histories.items():
            if history is None:
                continue
            points = [(e["epoch"], e[key]) for e in history if e.get(key) is not None]
            label = name if str(name).startswith("FCN") else f"FCN-{name}"
            ax.plot([p[0] for p in points], [p[1] for p in points], "o-", label=label)
        ax.set_title(titles.get(key, key), fontsize=10)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize="small")
    fig.tight_layout()
    return fig


# (history key, legend label, panel): panel 0 is the loss, panel 1 the rates in [0, 1].
CURVES = (("loss", "train loss", 0), ("train_acc", "train pixel acc", 1))
CURVES += (("pixel_acc", "test pixel acc", 1), ("miou", "test mIoU", 1))


def in_notebook() -> bool:
    """True inside a Jupyter (IPython kernel) session: JupyterLab, Notebook, Colab, VS Code."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _draw(axes: Sequence[Any], history: Sequence[Mapping[str, Any]], num_epochs: int | None) -> None:
    last = max([int(e.get("epoch", i + 1)) for i, e in enumerate(history)] or [1])
    xmax = max(num_epochs or 1, last, 1)
    for ax in axes:
        ax.clear()
    for key, label, panel in CURVES:
        points = [(e.get("epoch", i + 1), e[key]) for i, e in enumerate(history) if e.get(key) is not None]
        if points:
            xs, ys = zip(*points, strict=False)
            axes[panel].plot(xs, ys, marker="o", markersize=3, label=label)
    axes[0].set_title("training loss")
    axes[1].set_title("accuracy and mIoU")
    axes[1].set_ylim(0, 1)
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_xlim(0.8, xmax + 0.2)
        ax.grid(True, alpha=0.3)
        if ax.get_lines():
            ax.legend(loc="best", fontsize="small")


def plot_history(history: Sequence[Mapping[str, Any]], num_epochs: int | None = None, figsize=(8, 3)):
    """A finished run: ``history`` as :func:`fcnlib.train` returns it (per-epoch dicts; missing keys skipped)."""
    fig, axes = plt.subplots(1, 2, figsize=figsize)
    _draw(axes, list(history), num_epochs)
    fig.tight_layout()
    return fig


class LiveCurves:
    """The curves of a running training, redrawn in place after every epoch (``update(history)``).

    Outside an IPython kernel only the hidden figure ``live.fig`` is redrawn.
    """

    def __init__(self, num_epochs: int | None = None, figsize=(8, 3)) -> None:
        self.num_epochs = num_epochs
        self.fig, self.axes = plt.subplots(1, 2, figsize=figsize)
        plt.close(self.fig)  # shown only through the display handle, not again when the cell ends
        self._handle = None

    def _displayable(self) -> Any:
        """A PNG of the figure (whatever matplotlib backend the notebook uses)."""
        from IPython.display import Image

        buffer = io.BytesIO()
        self.fig.savefig(buffer, format="png", dpi=self.fig.dpi)
        return Image(data=buffer.getvalue(), format="png")

    def update(self, history: Sequence[Mapping[str, Any]]) -> None:
        """Redraw with every epoch of ``history`` and refresh the displayed figure."""
        _draw(self.axes, list(history), self.num_epochs)
        self.fig.tight_layout()
        if not in_notebook():
            return
        from IPython.display import display

        if self._handle is None:
            self._handle = display(self._displayable(), display_id=True)
        else:
            self._handle.update(self._displayable())

    # A reporter for fcnlib.train(..., reporter=LiveCurves()): shown at the start, redrawn after every epoch.
    def on_train_begin(self, num_epochs: int, num_batches: int | None, history: Sequence[Mapping[str, Any]]) -> None:
        self.num_epochs = self.num_epochs or num_epochs
        self.update(history)

    def on_epoch_end(self, history: Sequence[Mapping[str, Any]]) -> None:
        self.update(history)
