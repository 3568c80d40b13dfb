"""The scored prompts on a plane: PCA of their embeddings, ZOPO's path and its GP field.

A live run recomputes the map after each step (:mod:`ui.live_run`), a stored run when it
is first shown without one (:mod:`ui.live_runs`); :mod:`ui.panels.figures` draws it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optimizers.base import prompt_key
from optimizers.events import TrajectoryEntry
from optimizers.registry import ZOPO
from ui.panels.inspect import best_index
from ui.panels.run_view import EmbeddingMap, GpField


@dataclass(frozen=True)
class Projection:
    """A 2-D PCA basis: ``coords = (x - mean) @ axes.T``; ``explained`` variance shares."""

    mean: np.ndarray
    axes: np.ndarray  # 2 x d
    explained: tuple[float, float]

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Project ``n x d`` points to ``n x 2``."""
        return (np.asarray(points, dtype=np.float64) - self.mean) @ self.axes.T


def pca_2d(points: np.ndarray) -> Projection:
    """The two principal axes of ``n x d`` points (numpy SVD); fewer points give zero axes."""
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"expected points of shape (n, d) with n >= 1, got {x.shape}")
    mean = x.mean(axis=0)
    _, singular, vt = np.linalg.svd(x - mean, full_matrices=False)
    axes = np.zeros((2, x.shape[1]))
    k = min(2, vt.shape[0])
    axes[:k] = vt[:k]
    variance = singular**2
    total = float(variance.sum())
    shares = [
        float(variance[i]) / total if total > 0 and i < len(variance) else 0.0 for i in (0, 1)
    ]
    return Projection(mean=mean, axes=axes, explained=(shares[0], shares[1]))


def unique_prompts(trajectory: Sequence[TrajectoryEntry]) -> list[int]:
    """Trajectory indices of each distinct prompt's first occurrence."""
    seen: set[str] = set()
    keep = []
    for i, entry in enumerate(trajectory):
        key = prompt_key(entry.prompt)
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return keep


def embedding_map(
    trajectory: Sequence[TrajectoryEntry],
    vectors: np.ndarray,
    *,
    best_prompt: str | None = None,
    surrogate: Any = None,
) -> EmbeddingMap:
    """Project the prompts of :func:`unique_prompts` (``vectors``, one row each) with PCA.

    ``surrogate`` is a :class:`~optimizers.zopo.optimizer.SurrogateView` (or None): its
    candidates, with their GP std, are shown on the same plane, which is then the PCA
    plane of the scored prompts and those candidates together.
    """
    rows = unique_prompts(trajectory)
    if len(rows) != len(vectors):
        raise ValueError(
            f"expected {len(rows)} vectors (one per distinct prompt), got {len(vectors)}"
        )
    has_field = surrogate is not None and len(surrogate.texts) > 0
    # The plane of everything shown: with few scored prompts their own second axis is arbitrary.
    projection = pca_2d(np.vstack([vectors, surrogate.embeddings]) if has_field else vectors)
    xy = projection.apply(vectors)
    best = best_index(trajectory, best_prompt)
    best_key = None if best is None else prompt_key(trajectory[best].prompt)
    position = {prompt_key(trajectory[i].prompt): n for n, i in enumerate(rows)}
    path = [
        position[prompt_key(entry.prompt)]
        for entry in trajectory
        if entry.source == ZOPO and not entry.reused
    ]
    gp = None
    if has_field:
        gp = GpField(
            xy=projection.apply(surrogate.embeddings).round(5).tolist(),
            std=[round(float(v), 5) for v in surrogate.std],
            mean=[round(float(v), 5) for v in surrogate.mean],
        )
    return EmbeddingMap(
        xy=xy.round(5).tolist(),
        scores=[trajectory[i].dev for i in rows],
        numbers=rows,
        sources=[trajectory[i].source for i in rows],
        uncertainty=[_uncertainty(trajectory[i]) for i in rows],
        seed=0,
        best=None if best_key is None else position[best_key],
        path=path,
        explained=projection.explained,
        field=gp,
    )


def _uncertainty(entry: TrajectoryEntry) -> float | None:
    value = entry.meta.get("uncertainty")
    return float(value) if isinstance(value, int | float) else None
