"""ZOPO as an ask/tell search over a finite, growing set of embedded candidates.

One local-search iteration (:meth:`ZOPOSearch._local_step`) is made of named pieces:
``_check_progress`` (restart when stalled), ``_fit`` (local NTK GP around the current
point), ``_gradient`` (μ and ∇μ there), ``_uncertainty`` (v or the gradient-GP trace),
``_explore`` (queue the nearest unevaluated neighbours) and ``_project`` (Adam step to the
nearest unevaluated candidate). See docs ALGORITHMS.md, ZOPO.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from optimizers.zopo.adam import AdamState, adam_ascent
from optimizers.zopo.config import ZOPOConfig
from optimizers.zopo.ntk_kernel import NeuralTangentKernel
from optimizers.zopo.state import ZOPOEvent, ZOPOState
from optimizers.zopo.surrogate import (
    LocalSurrogate,
    fit_local,
    gradient_covariance_trace,
    mean_and_gradient,
    posterior_variance,
)

DTYPE = torch.float64


class ZOPOSearch:
    """Localized zeroth-order prompt optimization over candidate embeddings.

    Call :meth:`add_candidates` (any time; the domain may grow), then alternate
    :meth:`ask` and :meth:`tell`. Scores for candidates it never asked for (evaluated by
    another optimizer) may be told too; they join the data. Until ``n_initial`` scores
    (asked or told) exist it asks for random candidates; after that every ask is either a
    queued exploration neighbour or one Adam ascent step on μ from the current point,
    projected to the nearest (L2, raw embedding) candidate that is neither scored nor
    pending. The projected candidate becomes the current point.

    Where uncertainty is measured: the current point is a candidate that is scored (or
    about to be), where v is ~σ² by construction, so ``variance`` mode measures v at the
    *proposed* point (after the Adam step, before projection): how far the surrogate
    extrapolates. ``gradient_trace`` measures the paper's gradient-GP covariance at the
    current point, which does not vanish at data. In the NTK's units (absolute) both
    are huge with sentence embeddings (d = 384: the prior variance k(z, z) is ~1e4-1e5),
    so the reference λ = 0.01 is exceeded at almost every step and exploration fires
    every ``uncertainty_patience`` steps; by default (``relative_uncertainty``) each is
    divided by its prior value, a share in [0, 1] (see :class:`ZOPOConfig`).

    Several ids per :meth:`ask` are several iterations made before their scores are
    known; the stall count for restarts only advances when new scores have arrived.
    """

    def __init__(self, config: ZOPOConfig) -> None:
        self.config = config
        self._ids: list[str] = []
        self._pos: dict[str, int] = {}
        self._emb = torch.empty(0, 0, dtype=DTYPE)  # N x d raw embeddings
        self._taken = torch.empty(0, dtype=torch.bool)  # N: scored or pending
        self._kernel: NeuralTangentKernel | None = None
        self._scores: dict[int, float] = {}  # in arrival order
        self._pending: dict[int, None] = {}  # an ordered set
        self._queue: list[int] = []
        self._current: int | None = None
        self._adam = AdamState()
        self._rng = random.Random(config.seed)
        self._stall = 0
        self._streak = 0
        self._best_seen: float | None = None
        self._seen_scores = 0  # how many scores the last progress check saw
        self._steps = self._restarts = self._explorations = 0
        self._last: dict[str, float | None] = dict.fromkeys(
            ("mean", "variance", "gradient_trace", "grad_norm")
        )
        self._log: list[ZOPOEvent] = []

    # ----------------------------------------------------------------- domain and data

    def add_candidates(self, ids: Sequence[str], embeddings: np.ndarray | Tensor) -> None:
        """Add candidates ``ids`` with raw embeddings ``(n, d)``; known ids are ignored.

        ``d`` is fixed by the first call.
        """
        if isinstance(embeddings, Tensor):
            emb = embeddings.detach().to("cpu", DTYPE)
        else:
            emb = torch.as_tensor(np.asarray(embeddings, dtype=np.float64))
        if emb.ndim != 2 or emb.shape[0] != len(ids):
            raise ValueError(
                f"expected embeddings of shape ({len(ids)}, d) for {len(ids)} ids, "
                f"got {tuple(emb.shape)}"
            )
        if self._kernel is not None and emb.shape[1] != self._emb.shape[1]:
            raise ValueError(
                f"expected embeddings of dimension {self._emb.shape[1]} (fixed by the first "
                f"call), got {emb.shape[1]}"
            )
        if emb.shape[1] == 0:
            raise ValueError("expected embeddings with d >= 1, got d = 0")
        if not bool(torch.isfinite(emb).all()):
            raise ValueError("embeddings contain NaN or infinite values")
        bad = [cid for cid in ids if not isinstance(cid, str)]
        if bad:
            raise ValueError(f"candidate ids must be str, got {type(bad[0]).__name__}")
        keep: list[int] = []
        for row, cid in enumerate(ids):
            if cid not in self._pos:
                self._pos[cid] = len(self._ids)
                self._ids.append(cid)
                keep.append(row)
        if self._kernel is None:
            self._kernel = NeuralTangentKernel(
                emb.shape[1], hidden=self.config.hidden, seed=self.config.seed
            )
            self._emb = emb.new_empty(0, emb.shape[1])
        self._emb = torch.cat([self._emb, emb[keep]])
        self._taken = torch.cat([self._taken, torch.zeros(len(keep), dtype=torch.bool)])

    def tell(self, id: str, score: float) -> None:
        """Record the dev score of candidate ``id`` (asked for or not); a re-told score replaces."""
        if id not in self._pos:
            raise ValueError(f"unknown candidate id {id!r}: add it with add_candidates first")
        score = float(score)
        if not math.isfinite(score):
            raise ValueError(f"expected a finite score for {id!r}, got {score}")
        i = self._pos[id]
        self._scores[i] = score
        self._pending.pop(i, None)
        self._taken[i] = True

    @property
    def best(self) -> tuple[str, float] | None:
        """Best ``(id, score)`` so far (earliest on ties), or None before any score."""
        if not self._scores:
            return None
        i = self._best_index()
        return self._ids[i], self._scores[i]

    @property
    def candidate_ids(self) -> list[str]:
        """All candidate ids, in the order they were added."""
        return list(self._ids)

    # ----------------------------------------------------------------------------- ask

    def ask(self, n: int = 1) -> list[str]:
        """Up to ``n`` distinct candidates to evaluate next ([] when none is left)."""
        if n < 1:
            raise ValueError(f"expected n >= 1, got {n}")
        chosen: list[str] = []
        for _ in range(n):
            i = self._next()
            if i is None:
                break
            self._pending[i] = None
            self._taken[i] = True
            chosen.append(self._ids[i])
        return chosen

    def _next(self) -> int | None:
        if bool(self._taken.all()):
            return None
        while self._queue:
            i = self._queue.pop(0)
            if not self._taken[i]:
                return i
        if not self._scores or len(self._scores) + len(self._pending) < self.config.n_initial:
            return self._random_pick()
        return self._local_step()

    def _random_pick(self) -> int:
        free = torch.nonzero(~self._taken).squeeze(-1)
        return int(free[self._rng.randrange(len(free))])

    # ---------------------------------------------------------------------- local search

    def _local_step(self) -> int:
        """One ZOPO iteration from the current point; returns the candidate to query."""
        self._check_progress()
        if self._current is None:
            self._current = self._best_index()
        z = self._emb[self._current]
        surrogate = self._fit(z)
        mean, grad = self._gradient(surrogate, z)
        proposal, adam = adam_ascent(z, grad, self._adam, self.config.lr)
        uncertainty = self._uncertainty(surrogate, z, proposal)
        self._streak = self._streak + 1 if uncertainty > self.config.uncertainty_threshold else 0
        if self._streak >= self.config.uncertainty_patience:
            self._streak = 0
            return self._explore(z, mean, uncertainty, grad)
        self._adam = adam
        i = self._project(proposal)
        self._current = i
        self._steps += 1
        self._record("step", (i,), mean, uncertainty, grad)
        return i

    def _check_progress(self) -> None:
        """Count steps without a new best; at ``tolerance`` jump back to the best, reset Adam.

        A step counts only once new scores have arrived since the last check, so asking
        for several steps before telling their scores does not look like stalling.
        """
        best = self._scores[self._best_index()]
        if self._best_seen is None or best > self._best_seen:
            self._best_seen = best
            self._seen_scores = len(self._scores)
            self._stall = 0
            return
        if len(self._scores) == self._seen_scores:
            return
        self._seen_scores = len(self._scores)
        self._stall += 1
        if self._stall >= self.config.tolerance:
            self._restart()

    def _restart(self) -> None:
        self._current = self._best_index()
        self._adam = AdamState()
        self._stall = 0
        self._restarts += 1
        self._record("restart", (self._current,))

    def _fit(self, z: Tensor) -> LocalSurrogate:
        """Local GP on the ``n_local`` scored points nearest ``z``."""
        index = torch.tensor(list(self._scores), dtype=torch.long)
        y = torch.tensor(list(self._scores.values()), dtype=DTYPE)
        assert self._kernel is not None
        return fit_local(
            self._emb[index],
            y,
            z,
            self._kernel,
            n_local=self.config.n_local,
            noise=self.config.noise,
        )

    def _gradient(self, surrogate: LocalSurrogate, z: Tensor) -> tuple[float, Tensor]:
        mean, grad = mean_and_gradient(surrogate, z)
        self._last["mean"] = float(mean)
        self._last["grad_norm"] = float(grad.norm())
        return float(mean), grad

    def _uncertainty(self, surrogate: LocalSurrogate, z: Tensor, proposal: Tensor) -> float:
        """Return what is compared with λ: v at the proposal, or the gradient trace at ``z``."""
        relative = self.config.relative_uncertainty
        variance = float(posterior_variance(surrogate, proposal, relative=relative))
        self._last["variance"] = variance
        if self.config.uncertainty == "variance":
            return variance
        trace = float(gradient_covariance_trace(surrogate, z, relative=relative))
        self._last["gradient_trace"] = trace
        return trace

    def _explore(self, z: Tensor, mean: float, uncertainty: float, grad: Tensor) -> int:
        """Queue the ``n_explore`` unevaluated candidates nearest ``z``; return the first."""
        picks = self._nearest_free(z, self.config.n_explore)
        self._explorations += 1
        self._record("explore", tuple(picks), mean, uncertainty, grad)
        self._queue = picks[1:]
        return picks[0]

    def _project(self, point: Tensor) -> int:
        """Pick the unevaluated, not pending candidate nearest ``point`` (L2, raw embedding)."""
        return self._nearest_free(point, 1)[0]

    def _nearest_free(self, point: Tensor, k: int) -> list[int]:
        dist = (self._emb - point).square().sum(-1)
        dist = dist.masked_fill(self._taken, math.inf)
        k = min(k, int((~self._taken).sum()))
        return torch.argsort(dist, stable=True)[:k].tolist()

    def _best_index(self) -> int:
        return max(self._scores, key=self._scores.__getitem__)

    def _record(
        self,
        kind: str,
        picks: tuple[int, ...],
        mean: float | None = None,
        uncertainty: float | None = None,
        grad: Tensor | None = None,
    ) -> None:
        self._log.append(
            ZOPOEvent(
                kind=kind,  # type: ignore[arg-type]
                step=self._steps,
                ids=tuple(self._ids[i] for i in picks),
                mean=mean,
                uncertainty=uncertainty,
                grad_norm=None if grad is None else float(grad.norm()),
            )
        )

    # --------------------------------------------------------------------------- state

    def state(self) -> ZOPOState:
        """Snapshot the run (copies, safe to keep) for inspection and checkpoints."""
        return ZOPOState(
            n_candidates=len(self._ids),
            evaluated=[(self._ids[i], s) for i, s in self._scores.items()],
            pending=[self._ids[i] for i in self._pending],
            explore_queue=[self._ids[i] for i in self._queue],
            current_id=None if self._current is None else self._ids[self._current],
            last_mean=self._last["mean"],
            last_variance=self._last["variance"],
            last_gradient_trace=self._last["gradient_trace"],
            last_grad_norm=self._last["grad_norm"],
            steps=self._steps,
            restarts=self._restarts,
            explorations=self._explorations,
            stall=self._stall,
            uncertain_streak=self._streak,
            best_seen=self._best_seen,
            seen_scores=self._seen_scores,
            adam=AdamState(
                m=None if self._adam.m is None else self._adam.m.clone(),
                v=None if self._adam.v is None else self._adam.v.clone(),
                t=self._adam.t,
            ),
            rng_state=self._rng.getstate(),
            log=list(self._log),
        )

    def load_state(self, state: ZOPOState) -> None:
        """Resume from ``state``; add the same candidates in the same order first."""
        if len(self._ids) != state.n_candidates:
            raise ValueError(
                f"expected {state.n_candidates} candidates (as when the state was taken), "
                f"found {len(self._ids)}: add the same candidates in the same order first"
            )
        referenced = [cid for cid, _ in state.evaluated] + state.pending + state.explore_queue
        if state.current_id is not None:
            referenced.append(state.current_id)
        missing = sorted({cid for cid in referenced if cid not in self._pos})
        if missing:
            raise ValueError(f"state refers to unknown candidate ids: {missing[:5]}")
        self._scores = {self._pos[cid]: float(s) for cid, s in state.evaluated}
        self._pending = dict.fromkeys(self._pos[cid] for cid in state.pending)
        self._queue = [self._pos[cid] for cid in state.explore_queue]
        self._taken = torch.zeros(len(self._ids), dtype=torch.bool)
        self._taken[list(self._scores) + list(self._pending)] = True
        self._current = None if state.current_id is None else self._pos[state.current_id]
        self._last = {
            "mean": state.last_mean,
            "variance": state.last_variance,
            "gradient_trace": state.last_gradient_trace,
            "grad_norm": state.last_grad_norm,
        }
        self._steps, self._restarts = state.steps, state.restarts
        self._explorations = state.explorations
        self._stall, self._streak = state.stall, state.uncertain_streak
        self._best_seen = state.best_seen
        self._seen_scores = state.seen_scores
        self._adam = state.adam
        self._rng.setstate(state.rng_state)
        self._log = list(state.log)
