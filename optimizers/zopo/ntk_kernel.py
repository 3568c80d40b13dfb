"""Empirical neural tangent kernel of a fixed, untrained ReLU MLP (ZOPO's surrogate kernel)."""

from __future__ import annotations

import torch
from gpytorch.kernels import Kernel
from torch import Tensor


class NeuralTangentKernel(Kernel):
    r"""Empirical NTK of ``Linear(d,h)-ReLU-Linear(h,h)-ReLU-Linear(h,1)`` at random init.

    With :math:`f(z;\theta)` the network and :math:`\theta` all its weights and biases
    (drawn once from :math:`\mathcal N(0, 1)` with a ``torch.Generator`` seeded by
    ``seed``, and never trained),

    .. math::
        k(z, z') = \nabla_\theta f(z) \cdot \nabla_\theta f(z').

    Instead of materialising the ``P``-dimensional parameter gradients (``P = d·h + h² +
    3h + 1``, ~13k for ``d = 384``) the dot product is summed per layer in closed form.
    With pre-activations :math:`h_1 = W_1 z + b_1`, :math:`a_1 = \mathrm{relu}(h_1)`,
    :math:`h_2 = W_2 a_1 + b_2`, :math:`a_2 = \mathrm{relu}(h_2)`, :math:`f = w_3 \cdot a_2 +
    b_3`, and back-propagated signals :math:`\delta_2 = w_3 \odot 1[h_2 > 0]`,
    :math:`\delta_1 = (W_2^\top \delta_2) \odot 1[h_1 > 0]`:

    .. math::
        k(z, z') = \underbrace{1}_{b_3} + \underbrace{a_2 \cdot a_2'}_{w_3}
            + (\delta_2 \cdot \delta_2')\,(a_1 \cdot a_1' + 1)
            + (\delta_1 \cdot \delta_1')\,(z \cdot z' + 1),

    since :math:`\partial f / \partial W_\ell = \delta_\ell\, a_{\ell-1}^\top` and
    :math:`\partial f / \partial b_\ell = \delta_\ell`. This is exact (the tests check it
    against ``torch.func.jacrev`` per pair) and costs a forward pass plus a few
    ``N x M`` matrix products. It is differentiable in ``z``: the ReLU masks have zero
    derivative almost everywhere, exactly what autograd through ``jacrev`` gives.

    Args:
        input_dim: ``d``, the embedding dimension.
        hidden: width ``h`` of the two hidden layers (32 in ZOPO).
        seed: seed of the weight draw; the same seed gives the same kernel.

    """

    is_stationary = False
    has_lengthscale = False

    def __init__(self, input_dim: int, hidden: int = 32, seed: int = 0, **kwargs: object) -> None:
        if input_dim < 1 or hidden < 1:
            raise ValueError(f"input_dim and hidden must be >= 1, got {input_dim} and {hidden}")
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.hidden = hidden
        self.seed = seed
        gen = torch.Generator().manual_seed(seed)

        def draw(*shape: int) -> Tensor:
            return torch.randn(*shape, generator=gen, dtype=torch.float64)

        # Same shapes and draw order as torch.nn.Linear (weight then bias), layer by layer.
        self.register_buffer("w1", draw(hidden, input_dim))  # h x d
        self.register_buffer("b1", draw(hidden))  # h
        self.register_buffer("w2", draw(hidden, hidden))  # h x h
        self.register_buffer("b2", draw(hidden))  # h
        self.register_buffer("w3", draw(1, hidden))  # 1 x h
        self.register_buffer("b3", draw(1))  # 1

    def network(self) -> torch.nn.Sequential:
        """Build the MLP whose NTK this is, as a float64 ``nn.Sequential`` (for checks)."""
        net = torch.nn.Sequential(
            torch.nn.Linear(self.input_dim, self.hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(self.hidden, self.hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(self.hidden, 1),
        ).to(torch.float64)
        with torch.no_grad():
            for layer, (w, b) in zip(
                net[::2], [(self.w1, self.b1), (self.w2, self.b2), (self.w3, self.b3)], strict=True
            ):
                layer.weight.copy_(w)
                layer.bias.copy_(b)
        return net

    def features(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Per-layer pieces of ``∇θ f(x)``: ``(a1, a2, δ1, δ2)``, each ``... x N x h``."""
        w1, b1, w2, b2, w3 = (t.to(x) for t in (self.w1, self.b1, self.w2, self.b2, self.w3))
        h1 = x @ w1.mT + b1  # ... x N x h
        a1 = torch.relu(h1)
        h2 = a1 @ w2.mT + b2  # ... x N x h
        a2 = torch.relu(h2)
        # relu'(h) as a constant mask: its derivative is 0 almost everywhere.
        delta2 = w3[0] * (h2 > 0).to(x.dtype)  # ... x N x h
        delta1 = (delta2 @ w2) * (h1 > 0).to(x.dtype)  # ... x N x h
        return a1, a2, delta1, delta2

    def forward(
        self,
        x1: Tensor,
        x2: Tensor,
        diag: bool = False,
        last_dim_is_batch: bool = False,
        **params: object,
    ) -> Tensor:
        """Kernel matrix ``... x N x M`` (or its diagonal ``... x N`` when ``diag``).

        Args:
            x1: ``... x N x d`` inputs.
            x2: ``... x M x d`` inputs (``M == N`` when ``diag``).
            diag: return only ``k(x1[i], x2[i])``.
            last_dim_is_batch: unsupported (deprecated in gpytorch; the network needs all
                ``d`` inputs at once).
            **params: ignored (gpytorch passes kernel keyword arguments through).

        """
        if last_dim_is_batch:
            raise ValueError(
                "NeuralTangentKernel needs whole d-dimensional inputs, got last_dim_is_batch=True"
            )
        if x1.shape[-1] != self.input_dim or x2.shape[-1] != self.input_dim:
            raise ValueError(
                f"expected inputs with last dimension {self.input_dim}, "
                f"got {tuple(x1.shape)} and {tuple(x2.shape)}"
            )
        a1, a2, d1, d2 = self.features(x1)
        if diag:
            c1, c2, e1, e2 = (a1, a2, d1, d2) if x2 is x1 else self.features(x2)

            def dot(u: Tensor, v: Tensor) -> Tensor:
                return (u * v).sum(-1)

            return (
                1 + dot(a2, c2) + dot(d2, e2) * (dot(a1, c1) + 1) + dot(d1, e1) * (dot(x1, x2) + 1)
            )
        c1, c2, e1, e2 = self.features(x2)
        return 1 + a2 @ c2.mT + (d2 @ e2.mT) * (a1 @ c1.mT + 1) + (d1 @ e1.mT) * (x1 @ x2.mT + 1)
