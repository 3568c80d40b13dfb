"""GP-UCB over the pool: the standard Bayesian-optimization baseline on the same embeddings.

After a random initial design (by default the same size as ZOPO's at that budget, so
the two GP methods differ only in how they search after it), each query goes to the
unqueried candidate with the highest upper confidence bound ``μ(z) + √β_t σ(z)`` of an
exact GP (:mod:`replay.exact_gp`) fitted on the standardised dev scores
seen so far. A global model over the whole pool, where ZOPO fits a local one and
follows its gradient.

β_t is Srinivas et al.'s schedule for a finite domain, ``2 log(|D| t² π² / 6δ)``,
scaled by ``beta_scale`` (their experiments scaled it down by 5, as here by default).
Hyper-parameters (lengthscale, output scale, noise, constant mean) are refitted by
marginal likelihood when ``refit_every`` new scores have arrived since the last fit
(warm-started, ``fit_iterations`` Adam steps); in between, the GP is conditioned on
the new data with the last hyper-parameters. With the defaults a budget of 80 refits
about a dozen times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np
import torch

from optimizers.zopo.optimizer import initial_design_size, torch_threads
from replay.exact_gp import DTYPE, KernelName, fit_hyperparameters, make_gp, posterior
from replay.oracle import DevOracle


@dataclass(frozen=True, kw_only=True)
class GPUCB:
    """Exact-GP upper-confidence-bound search over the unqueried candidates."""

    name: ClassVar[str] = "gp-ucb"
    kernel: KernelName = field(default="matern52", metadata={"doc": "'matern52' or 'rbf'"})
    n_initial: int | None = field(
        default=None, metadata={"doc": "random evaluations first; None: as ZOPO's at the budget"}
    )
    delta: float = field(default=0.1, metadata={"doc": "δ of the β_t schedule"})
    beta_scale: float = field(default=0.2, metadata={"doc": "β_t multiplier (1/5 as Srinivas)"})
    refit_every: int = field(default=5, metadata={"doc": "new scores between hyper-parameter fits"})
    fit_iterations: int = field(default=50, metadata={"doc": "Adam steps per fit"})
    fit_lr: float = field(default=0.1, metadata={"doc": "Adam learning rate of the fit"})

    def __post_init__(self) -> None:
        if self.kernel not in ("matern52", "rbf"):
            raise ValueError(f"kernel must be 'matern52' or 'rbf', got {self.kernel!r}")
        for name in ("refit_every", "fit_iterations"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        if self.n_initial is not None and (isinstance(self.n_initial, bool) or self.n_initial < 1):
            raise ValueError(f"n_initial must be None or an int >= 1, got {self.n_initial!r}")
        if not 0 < self.delta < 1:
            raise ValueError(f"delta must be in (0, 1), got {self.delta!r}")
        for name in ("beta_scale", "fit_lr"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")

    def beta(self, t: int, n_candidates: int) -> float:
        """β_t for the ``t``-th query (1-based) over ``n_candidates``."""
        return self.beta_scale * 2 * math.log(n_candidates * t**2 * math.pi**2 / (6 * self.delta))

    def run(self, oracle: DevOracle, embeddings: np.ndarray, seed: int) -> None:
        """Random initial design, then one UCB pick per query."""
        rng = np.random.default_rng(seed)
        n_initial = min(self.n_initial or initial_design_size(oracle.budget), oracle.n)
        picked: list[int] = []
        scores: list[float] = []
        for index in rng.choice(oracle.n, size=n_initial, replace=False):
            if oracle.remaining < 1:
                return
            picked.append(int(index))
            scores.append(oracle.evaluate(int(index)))
        with torch_threads(1):
            self._search(oracle, torch.tensor(np.array(embeddings), dtype=DTYPE), picked, scores)

    def _search(
        self, oracle: DevOracle, x: torch.Tensor, picked: list[int], scores: list[float]
    ) -> None:
        lengthscale = float(torch.pdist(x).median()) if len(x) > 1 else 1.0
        model = None
        fitted_at = 0
        while oracle.remaining >= 1 and len(picked) < oracle.n:
            y = torch.tensor(scores, dtype=DTYPE)
            y = (y - y.mean()) / (y.std() if len(y) > 1 and float(y.std()) > 0 else 1.0)
            if model is None:
                model = make_gp(x[picked], y, kernel=self.kernel, lengthscale=lengthscale)
            else:
                model.set_train_data(inputs=x[picked], targets=y, strict=False)
            if fitted_at == 0 or len(picked) - fitted_at >= self.refit_every:
                fit_hyperparameters(model, iterations=self.fit_iterations, lr=self.fit_lr)
                fitted_at = len(picked)
            free = np.setdiff1d(np.arange(oracle.n), picked)
            mean, std = posterior(model, x[free])
            ucb = mean + math.sqrt(self.beta(len(picked) + 1, oracle.n)) * std
            index = int(free[int(torch.argmax(ucb))])
            picked.append(index)
            scores.append(oracle.evaluate(index))
