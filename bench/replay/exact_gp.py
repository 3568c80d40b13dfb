"""A standard exact GP on embeddings (gpytorch): the surrogate of the GP-UCB baseline.

Constant mean, a scaled stationary kernel (Matérn 5/2 or RBF) with one lengthscale
shared by all dimensions, Gaussian noise; hyper-parameters fitted by maximising the
exact marginal log likelihood with Adam. One lengthscale, not one per dimension:
with at most ~100 observations in 384 dimensions, automatic relevance determination
would have far more hyper-parameters than data.
"""

from __future__ import annotations

from typing import Literal

import gpytorch
import torch
from torch import Tensor

KernelName = Literal["matern52", "rbf"]
DTYPE = torch.float64
MIN_NOISE = 1e-4


class ExactGPModel(gpytorch.models.ExactGP):
    """``f ~ GP(c, s · k_ℓ)`` observed with Gaussian noise; inputs ``N x d``, targets ``N``."""

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        likelihood: gpytorch.likelihoods.GaussianLikelihood,
        *,
        kernel: KernelName,
        lengthscale: float,
    ) -> None:
        super().__init__(x, y, likelihood)
        self.mean_module = gpytorch.means.ConstantMean()
        base = (
            gpytorch.kernels.MaternKernel(nu=2.5)
            if kernel == "matern52"
            else gpytorch.kernels.RBFKernel()
        )
        base.lengthscale = lengthscale
        self.covar_module = gpytorch.kernels.ScaleKernel(base)

    def forward(self, x: Tensor) -> gpytorch.distributions.MultivariateNormal:
        """Prior of ``f`` at ``x`` (``N x d``)."""
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


def make_gp(x: Tensor, y: Tensor, *, kernel: KernelName, lengthscale: float) -> ExactGPModel:
    """A GP on ``(x, y)`` (float64), noise starting at 1e-2 and bounded below by 1e-4."""
    if kernel not in ("matern52", "rbf"):
        raise ValueError(f"kernel must be 'matern52' or 'rbf', got {kernel!r}")
    if not lengthscale > 0:
        raise ValueError(f"lengthscale must be > 0, got {lengthscale!r}")
    likelihood = gpytorch.likelihoods.GaussianLikelihood(
        noise_constraint=gpytorch.constraints.GreaterThan(MIN_NOISE)
    ).to(DTYPE)
    likelihood.noise = 1e-2
    return ExactGPModel(
        x.to(DTYPE), y.to(DTYPE), likelihood, kernel=kernel, lengthscale=lengthscale
    ).to(DTYPE)


def fit_hyperparameters(model: ExactGPModel, *, iterations: int, lr: float) -> float:
    """Maximise the exact marginal log likelihood with Adam from the current values.

    Returns the final MLL per data point (for logs). Warm starts make later fits cheap.
    """
    model.train()
    model.likelihood.train()
    mll = gpytorch.mlls.ExactMarginalLogLikelihood(model.likelihood, model)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    value = float("nan")
    for _ in range(iterations):
        optimizer.zero_grad()
        loss = -mll(model(*model.train_inputs), model.train_targets)
        loss.backward()
        optimizer.step()
        value = -float(loss.detach())
    return value


def posterior(model: ExactGPModel, x: Tensor) -> tuple[Tensor, Tensor]:
    """Posterior mean and standard deviation of the latent ``f`` at ``x`` (``M x d``)."""
    model.eval()
    model.likelihood.eval()
    with torch.no_grad():
        dist = model(x.to(DTYPE))
        return dist.mean, dist.variance.clamp_min(0.0).sqrt()
