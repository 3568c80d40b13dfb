"""A scored candidate pool: every prompt's dev and test score known in advance.

Replaying a search over such a pool costs no LLM call, so many seeds and budgets of
several strategies can be compared on exactly the same candidates and scores (the
query-efficiency benchmark). Scores stay hidden from the strategies: only a
:class:`~replay.oracle.DevOracle` reveals dev scores, and charges for them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True, eq=False)
class ScoredPool:
    """Candidates with their embeddings and scores, validated and stored read-only.

    Attributes:
        texts: ``n`` prompt texts.
        embeddings: ``n x d`` vectors the model-based strategies search in.
        dev: ``n`` mean dev scores (what a query reveals).
        test: ``n`` mean test scores (only reported, for the chosen prompt).
        dev_examples: ``n x n_dev`` per-example dev scores, or ``None``; needed for
            strategies that score candidates on part of dev (APE's filter). Its row
            means must equal ``dev``.

    """

    texts: tuple[str, ...]
    embeddings: np.ndarray
    dev: np.ndarray
    test: np.ndarray
    dev_examples: np.ndarray | None = None

    def __post_init__(self) -> None:
        n = len(self.texts)
        if n < 2:
            raise ValueError(f"a pool needs at least 2 candidates, got {n}")
        emb = _frozen(self.embeddings, "embeddings", ndim=2)
        if emb.shape[0] != n or emb.shape[1] < 1:
            raise ValueError(f"expected embeddings of shape ({n}, d >= 1), got {emb.shape}")
        dev = _frozen(self.dev, "dev", ndim=1)
        test = _frozen(self.test, "test", ndim=1)
        for name, values in (("dev", dev), ("test", test)):
            if values.shape != (n,):
                raise ValueError(f"expected {n} {name} scores, got {values.shape[0]}")
        object.__setattr__(self, "texts", tuple(self.texts))
        object.__setattr__(self, "embeddings", emb)
        object.__setattr__(self, "dev", dev)
        object.__setattr__(self, "test", test)
        if self.dev_examples is not None:
            per = _frozen(self.dev_examples, "dev_examples", ndim=2)
            if per.shape[0] != n or per.shape[1] < 1:
                raise ValueError(
                    f"expected dev_examples of shape ({n}, n_dev >= 1), got {per.shape}"
                )
            worst = float(np.abs(per.mean(axis=1) - dev).max())
            if worst > 1e-9:
                raise ValueError(
                    f"dev must be the row means of dev_examples; they differ by up to {worst:.3g}"
                )
            object.__setattr__(self, "dev_examples", per)

    @property
    def n(self) -> int:
        """Number of candidates."""
        return len(self.texts)

    @property
    def n_dev(self) -> int | None:
        """Dev examples per candidate, when per-example scores are known."""
        return None if self.dev_examples is None else int(self.dev_examples.shape[1])

    @property
    def best_dev(self) -> float:
        """The pool's best dev score: what regret is measured against."""
        return float(self.dev.max())

    @property
    def best_indices(self) -> np.ndarray:
        """Every candidate that reaches :attr:`best_dev` (dev scores often tie)."""
        return np.flatnonzero(self.dev == self.dev.max())


def _frozen(values: object, name: str, *, ndim: int) -> np.ndarray:
    """A float64, finite, read-only copy of ``values`` with ``ndim`` dimensions."""
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numbers, got {type(values).__name__}") from exc
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name} contains NaN or infinite values")
    array.setflags(write=False)
    return array
