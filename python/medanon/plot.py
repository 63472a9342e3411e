"""Figures of a release: partition rectangles, before/after distributions.

Uses matplotlib's object API with no GUI backend, so it runs on servers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
from matplotlib.collections import PatchCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from medanon.tabular.anonymise import AnonymisationResult
from medanon.tabular.encode import EncodedColumn

_DAY = 86400.0


def _axis_values(col: EncodedColumn, encoded: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    # datetimes are encoded in seconds; matplotlib's date axis counts days since 1970
    return encoded / _DAY if col.kind == "datetime" else encoded


def _column(result: AnonymisationResult, name: str) -> int:
    names = [c.name for c in result.encoded.columns]
    if name not in names:
        raise ValueError(f"{name!r} is not a quasi-identifier of this release (they are: {', '.join(names)})")
    return names.index(name)


def _style_axis(fig_ax: object, col: EncodedColumn, which: str) -> None:
    ax = fig_ax
    if col.kind == "categorical":
        ticks = np.arange(len(col.labels))
        labels = [str(v) for v in col.labels]
        if len(ticks) > 30:  # thin out long category lists
            step = int(np.ceil(len(ticks) / 30))
            ticks, labels = ticks[::step], labels[::step]
        getattr(ax, f"set_{which}ticks")(ticks, labels, fontsize=7, rotation=90 if which == "x" else 0)
    elif col.kind == "datetime":
        getattr(ax, f"{which}axis_date")()


def partitions(result: AnonymisationResult, x: str, y: str, *, max_points: int = 20000, seed: int = 0) -> Figure:
    """The classic Mondrian figure: partition rectangles over a scatter of two quasi-identifiers.

    Parameters
    ----------
    result : AnonymisationResult
        What :func:`medanon.anonymise` returned.
    x, y : str
        Two quasi-identifier columns.
    max_points : int
        Scatter at most this many points (a seeded sample).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import medanon
    >>> from medanon.synthetic.tables import make_patients
    >>> r = medanon.anonymise(make_patients(300), ["age", "weight"], "diagnosis", k=10, l=2)
    >>> fig = partitions(r, "age", "weight")
    >>> fig.savefig("/tmp/partitions.png")
    """
    i, j = _column(result, x), _column(result, y)
    enc, part = result.encoded, result.partitioning
    cx, cy = enc.columns[i], enc.columns[j]
    xs, ys = _axis_values(cx, enc.x[:, i]), _axis_values(cy, enc.x[:, j])
    fig = Figure(figsize=(7, 6), layout="constrained")
    ax = fig.add_subplot()
    rng = np.random.default_rng(seed)
    sel = rng.choice(len(xs), max_points, replace=False) if len(xs) > max_points else slice(None)
    shown = min(len(xs), max_points)
    size = float(np.clip(20000 / shown, 4, 30))  # few points: draw them larger
    ax.scatter(xs[sel], ys[sel], s=size, c=part.labels[sel] % 20, cmap="tab20", alpha=0.7, linewidths=0)
    pad_x = 0.4 if cx.kind == "categorical" else 0.0
    pad_y = 0.4 if cy.kind == "categorical" else 0.0
    x0 = _axis_values(cx, part.mins[:, i]) - pad_x
    x1 = _axis_values(cx, part.maxs[:, i]) + pad_x
    y0 = _axis_values(cy, part.mins[:, j]) - pad_y
    y1 = _axis_values(cy, part.maxs[:, j]) + pad_y
    rects = [Rectangle((a, b), c - a, d - b) for a, b, c, d in zip(x0, y0, x1, y1, strict=True)]
    ax.add_collection(PatchCollection(rects, facecolor="none", edgecolor="black", linewidth=0.5, alpha=0.7))
    ax.autoscale_view()
    _style_axis(ax, cx, "x")
    _style_axis(ax, cy, "y")
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    rep = result.report
    ax.set_title(
        f"{part.n_partitions} partitions, k = {rep.achieved['k']} (asked {rep.requested['k']}), NCP = {rep.ncp:.3f}",
        fontsize=10,
    )
    return fig


def histograms(result: AnonymisationResult, columns: Sequence[str] | None = None, *, bins: int = 30) -> Figure:
    """Before/after distributions of the quasi-identifiers.

    Numbers and dates: the original values against the partition centroids
    (what a ``centroid`` release writes). Categories: counts of each value
    against counts of each released value set.

    Examples
    --------
    >>> import medanon
    >>> from medanon.synthetic.tables import make_patients
    >>> r = medanon.anonymise(make_patients(300), ["age", "sex"], "diagnosis", k=10, l=2)
    >>> histograms(r).savefig("/tmp/histograms.png")
    """
    enc, part = result.encoded, result.partitioning
    names = list(columns) if columns is not None else [c.name for c in enc.columns]
    idx = [_column(result, c) for c in names]
    ncols = min(3, len(idx))
    nrows = int(np.ceil(len(idx) / ncols))
    fig = Figure(figsize=(4.2 * ncols, 3.2 * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, j in zip(axes, idx, strict=False):
        col = enc.columns[j]
        vals = enc.x[:, j]
        if col.kind == "categorical":
            before = pd.Series(vals.astype(np.int64)).map(lambda c, col=col: str(col.labels[c])).value_counts()
            after = result.table[col.name].astype(str).value_counts() if col.name in result.table else before
            top = list(before.index[:12])
            pos = np.arange(len(top))
            ax.bar(pos - 0.2, before.reindex(top).to_numpy(), 0.4, label="original")
            kept = [v for v in after.index if v in top]
            ax.bar(
                [top.index(v) + 0.2 for v in kept], after.reindex(kept).to_numpy(), 0.4, label="released (same value)"
            )
            ax.set_xticks(pos, [t[:12] for t in top], rotation=60, fontsize=7)
        else:
            means = np.bincount(part.labels, weights=vals) / part.counts
            centroid = means[part.labels]
            edges = np.histogram_bin_edges(_axis_values(col, vals), bins=bins)
            ax.hist(_axis_values(col, vals), edges, alpha=0.55, label="original")
            ax.hist(_axis_values(col, centroid), edges, alpha=0.55, label="centroid release")
            if col.kind == "datetime":
                ax.xaxis_date()
                ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        ax.set_title(col.name, fontsize=10)
        ax.legend(fontsize=7)
    for ax in axes[len(idx) :]:
        ax.set_visible(False)
    return fig
