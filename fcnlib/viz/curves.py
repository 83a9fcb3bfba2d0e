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

from typing import Any, Mapping, Optional, Sequence

__all__ = ["plot_history", "LiveCurves", "in_notebook"]

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


def _draw(axes: Sequence[Any], history: Sequence[Mapping[str, Any]], num_epochs: Optional[int]) -> None:
    last = max([int(e.get("epoch", i + 1)) for i, e in enumerate(history)] or [1])
    xmax = max(num_epochs or 1, last, 1)
    for ax in axes:
        ax.clear()
    for key, label, panel in CURVES:
        points = [(e.get("epoch", i + 1), e[key]) for i, e in enumerate(history) if e.get(key) is not None]
        if points:
            xs, ys = zip(*points)
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


def plot_history(history: Sequence[Mapping[str, Any]], num_epochs: Optional[int] = None, figsize=(8, 3)):
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

    def __init__(self, num_epochs: Optional[int] = None, figsize=(8, 3)) -> None:
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
