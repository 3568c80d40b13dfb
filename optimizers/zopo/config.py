"""ZOPO's settings, with the reference values as defaults (see docs ALGORITHMS.md, ZOPO)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

UncertaintyKind = Literal["variance", "gradient_trace"]


@dataclass(frozen=True, kw_only=True)
class ZOPOConfig:
    """How a :class:`~optimizers.zopo.search.ZOPOSearch` runs; validated on construction.

    Why ``relative_uncertainty`` is on by default: λ = 0.01 is the reference value for
    the *absolute* uncertainty, which is in the NTK's units. With N(0, 1) weights and
    min-max normalised inputs in [0, 1]^384 (sentence embeddings) the prior variance
    k(z, z) is ~5e4, so an absolute v(z) of 0.01 is never reached away from the data:
    exploration then fires every ``uncertainty_patience`` steps whatever the data say,
    and λ means nothing. Dividing by the prior (v(z) / k(z, z), the share of the prior
    uncertainty the data leave unexplained, in [0, 1]) makes λ = 0.01 a statement that
    holds for any embedding size or kernel scale: "explore when the surrogate has
    explained less than 99 % of its prior uncertainty at the proposed point".
    ``relative_uncertainty=False`` restores the reference behaviour.
    """

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
    relative_uncertainty: bool = field(
        default=True,
        metadata={"doc": "compare v(z)/k(z,z) (or the trace share) with λ, not the raw value"},
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
        if not isinstance(self.relative_uncertainty, bool):
            raise ValueError(
                f"relative_uncertainty must be True or False, got {self.relative_uncertainty!r}"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")


def _is_real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
