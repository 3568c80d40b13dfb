"""Adam for one point, as plain state that can be checkpointed (ZOPO's ascent on μ)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

BETAS = (0.9, 0.999)
EPS = 1e-8


@dataclass(frozen=True)
class AdamState:
    """Adam's moments for one point; ``t == 0`` means fresh (after a restart).

    Attributes:
        m: ``d`` first-moment estimate (``None`` when fresh).
        v: ``d`` second-moment estimate (``None`` when fresh).
        t: number of steps taken since the last reset.

    """

    m: Tensor | None = None
    v: Tensor | None = None
    t: int = 0

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {
            "m": None if self.m is None else self.m.tolist(),
            "v": None if self.v is None else self.v.tolist(),
            "t": self.t,
        }

    @classmethod
    def from_dict(cls, data: dict[str, object], dtype: torch.dtype = torch.float64) -> AdamState:
        """Inverse of :meth:`to_dict`."""
        m, v = data["m"], data["v"]
        return cls(
            m=None if m is None else torch.tensor(m, dtype=dtype),
            v=None if v is None else torch.tensor(v, dtype=dtype),
            t=int(data["t"]),  # type: ignore[arg-type]
        )


def adam_ascent(z: Tensor, grad: Tensor, state: AdamState, lr: float) -> tuple[Tensor, AdamState]:
    """One Adam step *up* ``grad`` from ``z`` (``d``); returns the new point and state.

    Same update as ``torch.optim.Adam(maximize=True)`` with default betas and eps; pure,
    so a step can be proposed and only committed if taken.
    """
    b1, b2 = BETAS
    m_prev = torch.zeros_like(grad) if state.m is None else state.m
    v_prev = torch.zeros_like(grad) if state.v is None else state.v
    m = b1 * m_prev + (1 - b1) * grad
    v = b2 * v_prev + (1 - b2) * grad.square()
    t = state.t + 1
    m_hat = m / (1 - b1**t)
    v_hat = v / (1 - b2**t)
    return z + lr * m_hat / (v_hat.sqrt() + EPS), AdamState(m=m, v=v, t=t)
