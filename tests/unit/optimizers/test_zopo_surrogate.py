from __future__ import annotations

import gpytorch
import pytest
import torch

from optimizers.zopo.ntk_kernel import NeuralTangentKernel
from optimizers.zopo.surrogate import (
    NTKGP,
    fit,
    fit_local,
    gradient_covariance_trace,
    mean_and_gradient,
    minmax,
    posterior_mean,
    posterior_variance,
)

DTYPE = torch.float64
NOISE = 1e-4


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_posterior_mean_interpolates_the_data():
    x = torch.rand(15, 8, generator=gen(0), dtype=DTYPE)
    y = torch.rand(15, generator=gen(1), dtype=DTYPE)
    s = fit(x, y, NeuralTangentKernel(8, seed=0), noise=NOISE)
    torch.testing.assert_close(posterior_mean(s, x), y, atol=1e-3, rtol=0)
    variance = posterior_variance(s, x)
    assert (variance <= NOISE * 1.01).all()
    away = posterior_variance(s, torch.rand(5, 8, generator=gen(2), dtype=DTYPE))
    assert (away > 100 * NOISE).all()


def test_explicit_cholesky_matches_gpytorch_prediction():
    x = torch.rand(20, 12, generator=gen(0), dtype=DTYPE)
    y = torch.rand(20, generator=gen(1), dtype=DTYPE)
    s = fit(x, y, NeuralTangentKernel(12, seed=4), noise=NOISE)
    assert isinstance(s.model, NTKGP)
    assert isinstance(s.model, gpytorch.models.ExactGP)
    z = torch.rand(6, 12, generator=gen(2), dtype=DTYPE)
    with gpytorch.settings.fast_pred_var(False), torch.no_grad():
        posterior = s.model(s.normalise(z))
    torch.testing.assert_close(posterior_mean(s, z), posterior.mean, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(posterior_variance(s, z), posterior.variance, rtol=1e-5, atol=1e-6)


def test_gradient_points_uphill_on_a_smooth_function():
    d, center = 8, torch.full((8,), 0.5, dtype=DTYPE)
    cosines = []
    for seed in range(3):
        x = torch.rand(300, d, generator=gen(seed), dtype=DTYPE)
        y = -(x - center).square().sum(-1)
        kernel = NeuralTangentKernel(d, seed=seed)
        for j in range(15):
            z = x[j] + 0.01 * torch.randn(d, generator=gen(100 + j), dtype=DTYPE)
            s = fit_local(x, y, z, kernel, n_local=20, noise=NOISE)
            _, grad = mean_and_gradient(s, z)
            true = -2 * (z - center)
            cosines.append(torch.nn.functional.cosine_similarity(grad, true, dim=0))
    assert torch.stack(cosines).mean() > 0.3


def test_gradient_is_the_derivative_of_the_mean():
    x = torch.rand(20, 6, generator=gen(0), dtype=DTYPE)
    y = torch.rand(20, generator=gen(1), dtype=DTYPE)
    s = fit(x, y, NeuralTangentKernel(6, seed=0), noise=NOISE)
    z = torch.rand(6, generator=gen(2), dtype=DTYPE)
    mu, grad = mean_and_gradient(s, z)
    torch.testing.assert_close(mu, posterior_mean(s, z))
    # μ is piecewise linear (ReLU network): a tiny central difference is exact within a piece.
    h = 1e-7
    fd = torch.stack(
        [
            (posterior_mean(s, z + h * e) - posterior_mean(s, z - h * e)) / (2 * h)
            for e in torch.eye(6, dtype=DTYPE)
        ]
    )
    torch.testing.assert_close(grad, fd, rtol=1e-5, atol=1e-6)


def test_fit_local_uses_the_nearest_points_and_their_minmax():
    x = torch.rand(50, 4, generator=gen(0), dtype=DTYPE)
    y = torch.rand(50, generator=gen(1), dtype=DTYPE)
    center = x[7]
    s = fit_local(x, y, center, NeuralTangentKernel(4), n_local=10, noise=NOISE)
    expected = torch.argsort((x - center).square().sum(-1))[:10]
    assert sorted(s.index.tolist()) == sorted(expected.tolist())
    local = x[s.index]
    torch.testing.assert_close(s.lower, local.amin(0))
    torch.testing.assert_close(s.scale, local.amax(0) - local.amin(0))
    assert s.train_x.min() == 0
    assert s.train_x.max() == 1
    torch.testing.assert_close(s.train_y, y[s.index])
    few = fit_local(x[:3], y[:3], center, NeuralTangentKernel(4), n_local=10, noise=NOISE)
    assert len(few.index) == 3


def test_minmax_gives_constant_and_near_dead_dimensions_unit_scale():
    # column 2 is constant, column 3 varies by ~1e-33 (like a dead MiniLM coordinate)
    x = torch.tensor([[1.0, 2.0, 0.0, 1e-33], [3.0, 2.0, 0.5, -2e-33]], dtype=DTYPE)
    lower, scale = minmax(x)
    torch.testing.assert_close(lower, torch.tensor([1.0, 2.0, 0.0, -2e-33], dtype=DTYPE))
    torch.testing.assert_close(scale, torch.tensor([2.0, 1.0, 0.5, 1.0], dtype=DTYPE))


def test_duplicate_points_still_factorise():
    x = torch.rand(5, 3, generator=gen(0), dtype=DTYPE).repeat(2, 1)
    y = torch.rand(10, generator=gen(1), dtype=DTYPE)
    s = fit(x, y, NeuralTangentKernel(3), noise=NOISE)
    assert torch.isfinite(s.alpha).all()


def brute_force_gradient_trace(s, z: torch.Tensor) -> float:
    """Σ_j [∂²k/∂u_j∂u'_j - ∂_j k(u,X) (K + σ² I)⁻¹ ∂_j k(X,u)] with nested autograd."""
    u = s.normalise(z).detach()
    kernel = s.kernel
    d = u.shape[0]
    prior = 0.0
    for j in range(d):
        a = u.clone().requires_grad_(True)
        b = u.clone().requires_grad_(True)
        k = kernel.forward(a[None], b[None])[0, 0]
        (ga,) = torch.autograd.grad(k, a, create_graph=True)
        (gab,) = torch.autograd.grad(ga[j], b)
        prior += float(gab[j])
    a = u.clone().requires_grad_(True)
    row = kernel.forward(a[None], s.train_x)[0]
    jac = torch.stack(
        [torch.autograd.grad(row[i], a, retain_graph=True)[0] for i in range(len(row))]
    )
    k_noisy = kernel.forward(s.train_x, s.train_x) + NOISE * torch.eye(len(row), dtype=DTYPE)
    reduction = torch.trace(jac.T @ torch.linalg.solve(k_noisy, jac))
    return prior - float(reduction)


def test_gradient_covariance_trace_matches_brute_force():
    x = torch.rand(12, 5, generator=gen(0), dtype=DTYPE)
    y = torch.rand(12, generator=gen(1), dtype=DTYPE)
    s = fit(x, y, NeuralTangentKernel(5, seed=2), noise=NOISE)
    for z in (x[0], torch.rand(5, generator=gen(3), dtype=DTYPE)):
        trace = float(gradient_covariance_trace(s, z))
        assert trace == pytest.approx(brute_force_gradient_trace(s, z), rel=1e-6)
        assert trace >= 0


def test_bad_shapes_raise():
    kernel = NeuralTangentKernel(3)
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        fit(torch.zeros(4, 3, dtype=DTYPE), torch.zeros(5, dtype=DTYPE), kernel, noise=NOISE)
    with pytest.raises(ValueError, match="n >= 1"):
        fit(torch.zeros(0, 3, dtype=DTYPE), torch.zeros(0, dtype=DTYPE), kernel, noise=NOISE)
