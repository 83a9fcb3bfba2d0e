"""Training curves: one figure that grows by one point per epoch.

Two panels tell the story of a training run. On the left the training loss, which should
fall; on the right three rates between 0 and 1: the training pixel accuracy, the test
pixel accuracy and the test mean IoU. When the training accuracy climbs but the test
numbers stall, the net has started to memorise its training images.

In a notebook, :class:`LiveCurves` draws the figure once and then *replaces* it after
every epoch (an IPython display handle), so a run of 50 epochs leaves one figure behind,
not 50. Outside a notebook nothing is drawn while training; call :func:`plot_history`
afterwards.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["plot_histories", "CURVES", "in_notebook", "plot_history", "LiveCurves"]


def plot_histories(
    histories: Mapping[str, Sequence[Mapping[str, Any]]],
    keys: Sequence[str] = ("loss", "miou"),
    figsize: tuple[float, float] = (8, 2.8),
):
    """Training curves of several runs in one figure: one panel per key, one line per run.

    ``histories`` maps a run's name (``"32s"``) to the :class:`fcnlib.train.History` that
    :func:`fcnlib.train` returned (a list of per-epoch dicts).
    """
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    titles = {
        "loss": "training loss",
        "train_acc": "training pixel accuracy",
        "pixel_acc": "test pixel accuracy",
        "miou": "test mean IoU",
        "mean_acc": "test mean accuracy",
        "fw_iou": "test f.w. IoU",
    }
    if not histories:
        raise ValueError("no histories to plot")
    fig, axes = plt.subplots(1, len(keys), figsize=figsize, squeeze=False)
    for ax, key in zip(axes[0], keys, strict=False):
        for name, history in histories.items():
            if history is None:
                continue
            epochs = [e["epoch"] for e in history if e.get(key) is not None]
            ax.plot(
                epochs,
                [e[key] for e in history if e.get(key) is not None],
                "o-",
                label=f"FCN-{name}" if not str(name).startswith("FCN") else name,
            )
        ax.set_title(titles.get(key, key), fontsize=10)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize="small")
    fig.tight_layout()
    return fig


# (history key, legend label, panel): panel 0 is the loss, panel 1 the rates in [0, 1].
CURVES = (
    ("loss", "train loss", 0),
    ("train_acc", "train pixel acc", 1),
    ("pixel_acc", "test pixel acc", 1),
    ("miou", "test mIoU", 1),
)


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
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_xlim(0.8, xmax + 0.2)
        ax.grid(True, alpha=0.3)
        if ax.get_lines():
            ax.legend(loc="best", fontsize="small")


def plot_history(history: Sequence[Mapping[str, Any]], num_epochs: int | None = None, figsize=(8, 3)):
    """A figure of a finished (or interrupted) run: loss on the left, accuracies and mIoU on the right.

    ``history`` is what :func:`fcnlib.train` returns: a list of per-epoch dicts with keys
    ``epoch``, ``loss``, ``train_acc``, ``pixel_acc`` and ``miou`` (missing keys are skipped).
    Returns the matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=figsize)
    _draw(axes, list(history), num_epochs)
    fig.tight_layout()
    return fig


class LiveCurves:
    """The curves of a running training, redrawn in place in the notebook after every epoch.

    >>> live = LiveCurves(num_epochs=5)      # doctest: +SKIP
    >>> live.update(history)                 # after each epoch; shows or refreshes one figure

    Outside an IPython kernel :meth:`update` only redraws the (hidden) figure, which
    ``live.fig`` holds.
    """

    def __init__(self, num_epochs: int | None = None, figsize=(8, 3)) -> None:
        import matplotlib.pyplot as plt

        self.num_epochs = num_epochs
        self.fig, self.axes = plt.subplots(1, 2, figsize=figsize)
        # Closed for pyplot: the notebook must not show it a second time when the cell ends;
        # the display handle below is the one place it appears.
        plt.close(self.fig)
        self._handle = None

    def _displayable(self) -> Any:
        """The figure itself when IPython can render it, else a PNG of it."""
        try:
            from IPython import get_ipython

            shell = get_ipython()
            shell.display_formatter.formatters["image/png"].lookup(self.fig)
            return self.fig
        except Exception:  # no inline backend registered: render the PNG ourselves
            import io

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
