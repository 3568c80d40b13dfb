"""ZOPO's settings, with the reference values as defaults (see docs ALGORITHMS.md, ZOPO)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

UncertaintyKind = Literal["variance", "gradient_trace"]


@dataclass(frozen=True, kw_only=True)
class ZOPOConfig:
    """How a :class:`~optimizers.zopo.search.ZOPOSearch` runs; validated on construction."""

    n_initial: int = field(
        default=40,
        metadata={"doc": "random evaluations before local search (40 of 165 in the reference)"},
    )
    lr: float = field(default=0.01, metadata={"doc": "Adam learning rate, raw embedding units"})
    n_local: int = field(
        default=20, metadata={"doc": "evaluated points nearest the current one the GP is fit on"}
    )
    noise: float = field(default=1e-4, metadata={"doc": "fixed GP noise variance σ² (not fit)"})
    uncertainty_threshold: float = field(
        default=0.01, metadata={"doc": "λ: uncertainty above this counts towards exploring"}
    )
    uncertainty_patience: int = field(
        default=5, metadata={"doc": "consecutive uncertain steps that trigger exploration"}
    )
    n_explore: int = field(
        default=10, metadata={"doc": "nearest unevaluated neighbours queried when exploring"}
    )
    tolerance: int = field(
        default=2, metadata={"doc": "steps without a new best before restarting at the best"}
    )
    uncertainty: UncertaintyKind = field(
        default="variance",
        metadata={"doc": "'variance' (reference code) or 'gradient_trace' (paper's gradient GP)"},
    )
    hidden: int = field(default=32, metadata={"doc": "width of the NTK network's hidden layers"})
    seed: int = field(default=0, metadata={"doc": "seeds the NTK weights and the initial design"})

    def __post_init__(self) -> None:
        positive_ints = {
            "n_initial": self.n_initial,
            "n_local": self.n_local,
            "uncertainty_patience": self.uncertainty_patience,
            "n_explore": self.n_explore,
            "tolerance": self.tolerance,
            "hidden": self.hidden,
        }
        for name, value in positive_ints.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        positive_floats = {"lr": self.lr, "noise": self.noise}
        for name, value in positive_floats.items():
            if not _is_real(value) or not value > 0 or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
        if not _is_real(self.uncertainty_threshold) or not self.uncertainty_threshold >= 0:
            raise ValueError(
                f"uncertainty_threshold must be a number >= 0, got {self.uncertainty_threshold!r}"
            )
        if self.uncertainty not in ("variance", "gradient_trace"):
            raise ValueError(
                f"uncertainty must be 'variance' or 'gradient_trace', got {self.uncertainty!r}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
