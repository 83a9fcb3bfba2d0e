"""Figures of the field's history: segmentation methods on a time line, grouped by idea."""

from __future__ import annotations

import matplotlib.pyplot as plt

__all__ = ["CLASSIC_METHODS", "DEEP_METHODS", "plot_segmentation_history"]

# Method -> year of publication (Otsu 1979, Canny 1986, Beucher and Lantuejoul 1979, Brice and Fennema 1970,
# Haralick et al. 1973, MacQueen 1967, Comaniciu and Meer 2002, Shi and Malik 2000, Rother et al. 2004,
# Shotton et al. 2006), grouped by idea.
CLASSIC_METHODS = {
    "threshold": [("Otsu", 1979)],
    "edges": [("Canny", 1986)],
    "regions": [("region\nmerging", 1970), ("watershed", 1979)],
    "texture": [("Haralick", 1973)],
    "clustering": [("k-means", 1967), ("mean shift", 2002)],
    "graphs": [("normalized\ncuts", 2000), ("GrabCut", 2004)],
    "classifiers": [("TextonBoost", 2006)],
}
# Year + (month - 1) / 12 of the first arXiv version (Ciresan et al.: NIPS, Dec 2012; Farabet et al.: TPAMI,
# Aug 2013), grouped by the idea each is best known for; DeepLab v1 appears under both of its ideas.
DEEP_METHODS = {
    "patch / region\nclassifiers": [("Ciresan", 2012 + 11 / 12), ("Farabet", 2013 + 7 / 12), ("SDS", 2014 + 6 / 12)],
    "fully conv.\n+ skips": [("FCN", 2014 + 10 / 12)],
    "encoder-decoder": [("U-Net", 2015 + 4 / 12), ("SegNet", 2015 + 10 / 12), ("RefineNet", 2016 + 10 / 12)],
    "dilation": [("DeepLab v1", 2014 + 11 / 12), ("dilated conv.", 2015 + 10 / 12), ("DeepLab v3", 2017 + 5 / 12)],
    "pyramid pooling": [("DeepLab v2", 2016 + 5 / 12), ("PSPNet", 2016 + 11 / 12)],
    "CRFs": [("DeepLab v1", 2014 + 11 / 12), ("CRF-RNN", 2015 + 1 / 12)],
    "large kernels": [("Large Kernel\nMatters", 2017 + 2 / 12)],
}


def plot_segmentation_history(classic=None, deep=None):
    """Two time lines, methods as dots with their names (alternately above and below), one row per idea:
    ``classic`` (default :data:`CLASSIC_METHODS`) in grey, ``deep`` (default :data:`DEEP_METHODS`) in red;
    each maps an idea to ``[(name, year as a float)]``."""
    groups = (CLASSIC_METHODS if classic is None else classic, DEEP_METHODS if deep is None else deep)
    fig, axes = plt.subplots(1, 2, figsize=(14, 4.4), width_ratios=[1, 1.4], layout="constrained")
    for ax, ideas, color in zip(axes, groups, ("tab:gray", "tab:red")):
        years = [year for papers in ideas.values() for _, year in papers]
        for row, papers in enumerate(ideas.values()):
            for k, (name, year) in enumerate(papers):
                ax.plot(year, row, "o", color=color)
                offset, va = ((0, -7), "top") if k % 2 else ((0, 7), "bottom")
                ax.annotate(
                    name, (year, row), xytext=offset, textcoords="offset points", ha="center", va=va, fontsize=9
                )
        ax.set_yticks(range(len(ideas)), list(ideas))
        ax.set_ylim(-0.8, len(ideas) - 0.1)
        ax.set_xlim(min(years) - 0.12 * (max(years) - min(years)), max(years) + 0.12 * (max(years) - min(years)))
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel("year")
    axes[0].set_title("before deep learning: hand-designed features and rules")
    axes[1].set_title("deep networks: features learnt from labelled images")
    first, last = (int(f(y for p in groups[1].values() for _, y in p)) for f in (min, max))
    axes[1].set_xticks(range(first + 1, last + 1), [f"Jan {y}" for y in range(first + 1, last + 1)])
    return fig
