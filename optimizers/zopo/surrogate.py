"""ZOPO's local Gaussian-process surrogate: an NTK ``ExactGP`` fit on the nearest scored points.

The model is a gpytorch ``ExactGP`` (zero mean, :class:`NeuralTangentKernel`, fixed noise).
Nothing is trained: the NTK has no hyperparameters and σ² is fixed. Prediction uses an
explicit Cholesky factor of ``K + σ² I`` computed once per fit, instead of gpytorch's
prediction strategy: with at most ``n_local`` (20) points this is exact, about 3x faster
per fit + query (1.2 vs 3.5 ms at n = 20, d = 384, one thread), and keeps ``∇z μ(z)`` a
plain autograd graph. A test checks it against ``model.eval()`` predictions.

Inputs are min-max normalised per dimension over the local points (as the reference code
does); :func:`fit_local` stores that transform and every query goes through it, so the
gradient returned is with respect to the *raw* embedding.
"""

from __future__ import annotations

from dataclasses import dataclass

import gpytorch
import torch
from torch import Tensor

from optimizers.zopo.ntk_kernel import NeuralTangentKernel

MIN_RELATIVE_SPAN = 1e-3
"""Local spans narrower than this fraction of the widest are treated as constant."""


class NTKGP(gpytorch.models.ExactGP):
    """Exact GP with zero prior mean and an NTK covariance."""

    def __init__(
        self,
        train_x: Tensor,
        train_y: Tensor,
        likelihood: gpytorch.likelihoods.Likelihood,
        kernel: NeuralTangentKernel,
    ) -> None:
        super().__init__(train_x, train_y, likelihood)
        self.mean_module = gpytorch.means.ZeroMean()
        self.covar_module = kernel

    def forward(self, x: Tensor) -> gpytorch.distributions.MultivariateNormal:
        """Prior at ``x`` (``... x N x d``)."""
        return gpytorch.distributions.MultivariateNormal(self.mean_module(x), self.covar_module(x))


@dataclass(frozen=True)
class LocalSurrogate:
    """A fitted local GP: the model, its input transform and the factorisation used to predict.

    Attributes:
        model: the gpytorch model (train inputs already normalised).
        index: ``n`` positions, in the ``X`` given to :func:`fit_local`, of the points used.
        lower: ``d`` per-dimension minimum of the raw local inputs.
        scale: ``d`` per-dimension range (1 where the range is 0).
        chol: ``n x n`` lower Cholesky factor of ``K + σ² I``.
        alpha: ``n`` weights ``(K + σ² I)⁻¹ y``.

    """

    model: NTKGP
    index: Tensor
    lower: Tensor
    scale: Tensor
    chol: Tensor
    alpha: Tensor

    @property
    def kernel(self) -> NeuralTangentKernel:
        """The NTK (shared, not copied)."""
        return self.model.covar_module

    @property
    def train_x(self) -> Tensor:
        """``n x d`` normalised training inputs."""
        return self.model.train_inputs[0]

    @property
    def train_y(self) -> Tensor:
        """``n`` training scores."""
        return self.model.train_targets

    def normalise(self, z: Tensor) -> Tensor:
        """Map raw embeddings ``... x d`` into the GP's input space."""
        return (z - self.lower) / self.scale


def nearest(points: Tensor, center: Tensor, k: int) -> Tensor:
    """Return the ``≤ k`` rows of ``points`` (``N x d``) nearest ``center`` (``d``), in L2.

    Ties go to the lower index, so the choice is deterministic.
    """
    dist = (points - center).square().sum(-1)
    return torch.argsort(dist, stable=True)[:k]


def minmax(x: Tensor) -> tuple[Tensor, Tensor]:
    """Per-dimension ``(lower, scale)`` of ``x`` (``N x d``).

    Dimensions whose span is below ``MIN_RELATIVE_SPAN`` of the widest one count as
    constant and get scale 1 (raw units). Without this a near-dead coordinate blows a
    0.01 step up to astronomic normalised values: all-MiniLM-L6-v2 has one whose values
    are ~1e-33, which made v(z) ~1e63.
    """
    lower = x.amin(0)
    span = x.amax(0) - lower
    constant = span <= MIN_RELATIVE_SPAN * span.max()
    return lower, torch.where(constant, torch.ones_like(span), span)


def fit(
    x: Tensor,
    y: Tensor,
    kernel: NeuralTangentKernel,
    *,
    noise: float,
    lower: Tensor | None = None,
    scale: Tensor | None = None,
    index: Tensor | None = None,
) -> LocalSurrogate:
    """Condition the NTK GP on raw inputs ``x`` (``n x d``) and scores ``y`` (``n``).

    ``lower``/``scale`` default to the min-max transform of ``x``. Adds jitter only if
    ``K + σ² I`` is numerically not positive definite.
    """
    if x.ndim != 2 or y.shape != x.shape[:1] or x.shape[0] == 0:
        raise ValueError(
            f"expected x of shape (n, d) and y of shape (n,) with n >= 1, "
            f"got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    if lower is None or scale is None:
        lower, scale = minmax(x)
    xn = (x - lower) / scale
    y = y.to(x)
    noise_vec = torch.full_like(y, noise)
    likelihood = gpytorch.likelihoods.FixedNoiseGaussianLikelihood(noise=noise_vec)
    model = NTKGP(xn, y, likelihood, kernel)
    model.eval()
    likelihood.eval()
    with torch.no_grad():
        k = kernel.forward(xn, xn)
        chol = _cholesky(k + torch.diag_embed(noise_vec))
        alpha = torch.cholesky_solve(y.unsqueeze(-1), chol).squeeze(-1)
    if index is None:
        index = torch.arange(x.shape[0])
    return LocalSurrogate(model, index, lower, scale, chol, alpha)


def fit_local(
    x: Tensor,
    y: Tensor,
    center: Tensor,
    kernel: NeuralTangentKernel,
    *,
    n_local: int,
    noise: float,
) -> LocalSurrogate:
    """Fit on the ``≤ n_local`` rows of ``x`` nearest ``center``, normalised over those rows."""
    index = nearest(x, center, n_local)
    xs = x[index]
    lower, scale = minmax(xs)
    return fit(xs, y[index], kernel, noise=noise, lower=lower, scale=scale, index=index)


def posterior_mean(s: LocalSurrogate, z: Tensor) -> Tensor:
    """``μ(z) = k(z, X)(K + σ² I)⁻¹ y`` for raw ``z`` (``... x d``) → ``...``; differentiable."""
    zn = s.normalise(z).unsqueeze(-2)  # ... x 1 x d
    return (s.kernel.forward(zn, s.train_x) @ s.alpha).squeeze(-1)


def posterior_variance(s: LocalSurrogate, z: Tensor, *, relative: bool = False) -> Tensor:
    """``v(z) = k(z, z) - k(z, X)(K + σ² I)⁻¹ k(X, z)`` for raw ``z`` (``... x d``) → ``...``.

    Clamped at 0 (round-off can make it slightly negative at the data). With
    ``relative`` it is divided by the prior variance ``k(z, z)``: the share of the prior
    uncertainty the data leave unexplained, in ``[0, 1]`` whatever the kernel's scale.
    """
    zn = s.normalise(z).unsqueeze(-2)  # ... x 1 x d
    prior = s.kernel.forward(zn, zn, diag=True).squeeze(-1)
    cross = s.kernel.forward(s.train_x, zn)  # ... x n x 1
    chol = s.chol.expand(*cross.shape[:-2], *s.chol.shape)
    half = torch.linalg.solve_triangular(chol, cross, upper=False)
    variance = (prior - half.square().sum((-2, -1))).clamp_min(0)
    if relative:
        return (variance / prior.clamp_min(torch.finfo(prior.dtype).tiny)).clamp_max(1)
    return variance


def mean_and_gradient(s: LocalSurrogate, z: Tensor) -> tuple[Tensor, Tensor]:
    """``(μ(z), ∇z μ(z))`` at one raw point ``z`` (``d``), by autograd through μ."""
    with torch.enable_grad():
        zg = z.detach().requires_grad_(True)
        mu = posterior_mean(s, zg)
        (grad,) = torch.autograd.grad(mu, zg)
    return mu.detach(), grad


def gradient_covariance_trace(s: LocalSurrogate, z: Tensor, *, relative: bool = False) -> Tensor:
    """Trace of the covariance of the gradient GP at ``z`` (``d``), in the normalised space.

    ``Σ∇(z) = ∂z∂z' k(z, z')|_{z'=z} - ∂z k(z, X)(K + σ² I)⁻¹ ∂z' k(X, z)`` (paper's
    uncertainty of the derived gradient). Uses ``torch.func`` second derivatives of the
    kernel; ``O(d)`` backward passes, so it is the slower option. With ``relative`` it is
    divided by the prior trace (the first term), giving a share in ``[0, 1]``.
    """
    kernel = s.kernel
    u = s.normalise(z).detach()

    def k_pair(a: Tensor, b: Tensor) -> Tensor:
        return kernel.forward(a.unsqueeze(0), b.unsqueeze(0))[0, 0]

    def k_row(a: Tensor) -> Tensor:
        return kernel.forward(a.unsqueeze(0), s.train_x)[0]

    mixed = torch.func.jacrev(torch.func.jacrev(k_pair, argnums=0), argnums=1)(u, u)  # d x d
    jac = torch.func.jacrev(k_row)(u)  # n x d
    half = torch.linalg.solve_triangular(s.chol, jac, upper=False)
    prior = torch.diagonal(mixed).sum()
    trace = prior - half.square().sum()
    if relative:
        return (trace / prior.clamp_min(torch.finfo(prior.dtype).tiny)).clamp(0, 1)
    return trace


def _cholesky(a: Tensor) -> Tensor:
    """Lower Cholesky factor, adding growing jitter if round-off breaks positive definiteness."""
    chol, info = torch.linalg.cholesky_ex(a)
    if not bool(info.any()):
        return chol
    scale = a.diagonal(dim1=-2, dim2=-1).abs().mean().clamp_min(1.0)
    eye = torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    for exponent in range(-10, 0):
        chol, info = torch.linalg.cholesky_ex(a + eye * scale * 10.0**exponent)
        if not bool(info.any()):
            return chol
    raise torch.linalg.LinAlgError("K + σ² I is not positive definite even with jitter")
