from __future__ import annotations

import pytest
import torch
from torch.func import functional_call, jacrev, vmap

from optimizers.zopo.ntk_kernel import NeuralTangentKernel

DTYPE = torch.float64


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def points(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(seed), dtype=DTYPE)


def brute_force_ntk(
    kernel: NeuralTangentKernel, x1: torch.Tensor, x2: torch.Tensor
) -> torch.Tensor:
    """Per pair: flatten ∇θ f for each input with plain autograd, then dot."""
    net = kernel.network()
    params = list(net.parameters())

    def grad_theta(x: torch.Tensor) -> torch.Tensor:
        out = net(x.unsqueeze(0)).squeeze()
        return torch.cat([g.reshape(-1) for g in torch.autograd.grad(out, params)])

    g1 = [grad_theta(x) for x in x1]
    g2 = [grad_theta(x) for x in x2]
    return torch.tensor([[float(a @ b) for b in g2] for a in g1], dtype=DTYPE)


def func_ntk(kernel: NeuralTangentKernel, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """The torch.func formulation (vmap over jacrev of functional_call); differentiable in x."""
    net = kernel.network()
    params = {k: v.detach() for k, v in net.named_parameters()}

    def f(p: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        return functional_call(net, p, (x.unsqueeze(0),)).squeeze()

    j1 = vmap(jacrev(f), (None, 0))(params, x1)
    j2 = vmap(jacrev(f), (None, 0))(params, x2)
    return sum(j1[k].flatten(1) @ j2[k].flatten(1).T for k in params)


def test_matches_brute_force_per_pair_gradient_dot_products():
    kernel = NeuralTangentKernel(7, seed=3)
    x1, x2 = points(5, 7, seed=1), points(4, 7, seed=2)
    expected = brute_force_ntk(kernel, x1, x2)
    torch.testing.assert_close(kernel.forward(x1, x2), expected, rtol=1e-10, atol=1e-8)
    torch.testing.assert_close(kernel(x1, x2).to_dense(), expected, rtol=1e-10, atol=1e-8)


def test_matches_torch_func_ntk_including_input_gradients():
    kernel = NeuralTangentKernel(6, hidden=8, seed=1)
    x1 = points(4, 6, seed=4).requires_grad_(True)
    x2 = points(3, 6, seed=5)
    weights = points(4, 3, seed=6)
    ours = kernel.forward(x1, x2)
    reference = func_ntk(kernel, x1, x2)
    torch.testing.assert_close(ours, reference, rtol=1e-10, atol=1e-8)
    (g_ours,) = torch.autograd.grad((ours * weights).sum(), x1)
    (g_ref,) = torch.autograd.grad((reference * weights).sum(), x1)
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-8, atol=1e-8)
    assert g_ours.abs().sum() > 0


def test_kernel_matrix_is_symmetric_psd():
    kernel = NeuralTangentKernel(384, seed=0)
    x = points(30, 384)
    k = kernel.forward(x, x)
    torch.testing.assert_close(k, k.T)
    eigenvalues = torch.linalg.eigvalsh(k)
    assert eigenvalues.min() >= -1e-9 * eigenvalues.max()


def test_diag_matches_matrix_diagonal():
    kernel = NeuralTangentKernel(10, seed=2)
    x = points(8, 10)
    full = kernel.forward(x, x)
    torch.testing.assert_close(kernel.forward(x, x, diag=True), full.diagonal())
    torch.testing.assert_close(kernel(x, diag=True), full.diagonal())
    x2 = points(8, 10, seed=9)
    torch.testing.assert_close(kernel.forward(x, x2, diag=True), kernel.forward(x, x2).diagonal())


def test_batch_dimensions_broadcast():
    kernel = NeuralTangentKernel(5, seed=0)
    x1, x2 = points(3, 4, 5), points(3, 2, 5, seed=1)
    batched = kernel.forward(x1, x2)
    assert batched.shape == (3, 4, 2)
    for b in range(3):
        torch.testing.assert_close(batched[b], kernel.forward(x1[b], x2[b]))
    assert kernel.forward(x1, x1, diag=True).shape == (3, 4)


def test_follows_input_dtype():
    kernel = NeuralTangentKernel(5, seed=0)
    x = points(4, 5).float()
    assert kernel.forward(x, x).dtype == torch.float32
    assert kernel.forward(x, x, diag=True).dtype == torch.float32


def test_seed_fixes_the_weights():
    x = points(4, 5)
    same = NeuralTangentKernel(5, seed=11).forward(x, x)
    torch.testing.assert_close(NeuralTangentKernel(5, seed=11).forward(x, x), same)
    assert not torch.allclose(NeuralTangentKernel(5, seed=12).forward(x, x), same)


def test_bad_inputs_raise():
    kernel = NeuralTangentKernel(5)
    with pytest.raises(ValueError, match="last dimension 5"):
        kernel.forward(points(3, 4), points(3, 4))
    with pytest.raises(ValueError, match="last_dim_is_batch"):
        kernel.forward(points(3, 5), points(3, 5), last_dim_is_batch=True)
    with pytest.raises(ValueError, match="input_dim"):
        NeuralTangentKernel(0)
