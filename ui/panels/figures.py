"""The Inspect panel's two plots as matplotlib figures (object API: safe off the main thread).

Labels are numbers and method names only; prompt texts never go into a figure
(mathtext would read ``$`` in them as markup).
"""

from __future__ import annotations

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from matplotlib.tri import Triangulation

from optimizers.registry import REGISTRY, ZOPO
from ui.panels.inspect import ScoreSeries
from ui.panels.run_view import EmbeddingMap

COLORS = {
    "seed": "#555555",
    **{item.name: item.color for item in REGISTRY},
    "paraphrase": "#e377c2",
    "user": "#17becf",
}
SIZE = (4.8, 4.0)


def _empty(text: str) -> Figure:
    figure = Figure(figsize=SIZE, dpi=110, layout="constrained")
    ax = figure.add_subplot()
    ax.text(0.5, 0.5, text, ha="center", va="center", color="#777777", transform=ax.transAxes)
    ax.set_axis_off()
    return figure


def score_figure(series: ScoreSeries) -> Figure:
    """Dev score against dev queries: a line per method, the best so far, the best marked."""
    if not series.best_so_far[0]:
        return _empty("no scores yet: the plot fills as candidates are scored on dev")
    figure = Figure(figsize=SIZE, dpi=110, layout="constrained")
    ax = figure.add_subplot()
    xs, ys = series.best_so_far
    ax.step(xs, ys, where="post", color="black", linewidth=1.2, alpha=0.6, label="best so far")
    for source, (sx, sy) in series.lines.items():
        color = COLORS.get(source, "#7f7f7f")
        style = "s" if source == "seed" else "o"
        ax.plot(
            sx, sy, style + "-", color=color, markersize=5, linewidth=1, alpha=0.85, label=source
        )
    if series.best is not None:
        ax.plot(
            *series.best,
            marker="*",
            markersize=16,
            color="gold",
            markeredgecolor="black",
            linestyle="none",
            label="best",
            zorder=5,
        )
    ax.set_title("Dev score by dev queries", fontsize=10)
    ax.set_xlim(0.5, max(xs) + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("dev queries")
    ax.set_ylabel("dev score")
    low = min(0.0, min(ys))
    ax.set_ylim(low - 0.03, max(1.0, max(ys)) + 0.05)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=4, fontsize=7, frameon=False)
    return figure


def map_figure(emap: EmbeddingMap | None) -> Figure:
    """Prompt embeddings on their first two principal axes, coloured by dev score.

    ZOPO's candidates are joined in the order it chose them; where a live ZOPO has a
    surrogate, the GP's relative posterior std at nearby candidates is shaded (its
    contour on the projected plane) and ZOPO points are sized by the uncertainty the
    search measured when it chose them.
    """
    if emap is None or len(emap.xy) < 2:
        return _empty("the map needs two scored prompts")
    figure = Figure(figsize=SIZE, dpi=110, layout="constrained")
    ax = figure.add_subplot()
    xy = np.asarray(emap.xy)
    gp = emap.field
    if gp is not None and len(gp.xy) >= 4:
        _draw_field(ax, np.asarray(gp.xy), np.asarray(gp.std))
    if emap.path:
        _draw_path(ax, xy[emap.path], xy[emap.seed])
    _draw_points(figure, ax, emap, xy)
    ax.set_title("Prompt embeddings (PCA), coloured by dev score", fontsize=10)
    _pad_limits(ax, np.vstack([xy, np.asarray(gp.xy)]) if gp else xy)
    first, second = emap.explained
    ax.set_xlabel(f"PC1 ({first:.0%} of variance)")
    ax.set_ylabel(f"PC2 ({second:.0%})")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, fontsize=6, frameon=False)
    ax.grid(alpha=0.2)
    return figure


def _draw_field(ax: Axes, points: np.ndarray, std: np.ndarray) -> None:
    """The unscored candidates ZOPO's GP knows, shaded by its std where they triangulate."""
    try:
        triangles = Triangulation(points[:, 0], points[:, 1])
        ax.tricontourf(triangles, std, levels=6, cmap="Greys", vmin=0, vmax=1, alpha=0.3)
    except (ValueError, RuntimeError):  # collinear points: no triangulation, no shading
        pass
    label = "unscored (shade: GP std, darker = less sure)"
    ax.scatter(points[:, 0], points[:, 1], s=6, color="#999999", alpha=0.5, label=label)


def _draw_path(ax: Axes, path: np.ndarray, seed: np.ndarray) -> None:
    """ZOPO's choices joined in order, an arrow on the last step (from the seed if only one)."""
    ax.plot(
        path[:, 0], path[:, 1], "-", color=COLORS[ZOPO], linewidth=1.2, alpha=0.8,
        label="ZOPO path",
    )  # fmt: skip
    ax.annotate(
        "",
        xy=path[-1],
        xytext=path[-2] if len(path) > 1 else seed,
        arrowprops={"arrowstyle": "->", "color": COLORS[ZOPO]},
    )


def _draw_points(figure: Figure, ax: Axes, emap: EmbeddingMap, xy: np.ndarray) -> None:
    """The scored prompts coloured by dev score, numbered, with the seed and the best marked."""
    sizes = [
        30 + 220 * u if u is not None and source == ZOPO else 40
        for u, source in zip(emap.uncertainty, emap.sources, strict=True)
    ]
    dots = ax.scatter(
        xy[:, 0], xy[:, 1], c=emap.scores, s=sizes, cmap="viridis", vmin=0.0,
        vmax=max(1.0, max(emap.scores)), edgecolors="black", linewidths=0.4, zorder=3,
    )  # fmt: skip
    figure.colorbar(dots, ax=ax, label="dev score", shrink=0.8, pad=0.01)
    ax.scatter(
        *xy[emap.seed], marker="s", s=110, facecolors="none", edgecolors="black",
        linewidths=1.5, label="#0 (your prompt)", zorder=4,
    )  # fmt: skip
    if emap.best is not None:
        ax.scatter(
            *xy[emap.best], marker="*", s=260, color="gold", edgecolors="black",
            label=f"best (#{emap.numbers[emap.best]})", zorder=5,
        )  # fmt: skip
    for (x, y), number in zip(xy, emap.numbers, strict=True):
        ax.annotate(str(number), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)


def _pad_limits(ax: Axes, points: np.ndarray, pad: float = 0.08) -> None:
    """Axis limits around ``points`` with room for markers (contours would clip them)."""
    low, high = points.min(axis=0), points.max(axis=0)
    span = np.where(high - low > 0, high - low, 1.0)
    ax.set_xlim(low[0] - pad * span[0], high[0] + pad * span[0])
    ax.set_ylim(low[1] - pad * span[1], high[1] + pad * span[1])
