"""How a candidate domain is built and grown: its settings and its default size."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True, kw_only=True)
class DomainConfig:
    """How the domain is built and grown.

    The reference builds hundreds of candidates for 165 queries; here the size scales
    with the budget (:func:`domain_size_for`) since every candidate costs the
    optimizer model one or two calls (rejected samples included).
    """

    size: int | None = field(
        default=None, metadata={"doc": "candidates to generate at first; None: scale with budget"}
    )
    paraphrase_share: float = field(
        default=0.25, metadata={"doc": "share of the generated candidates that paraphrase the seed"}
    )
    demos_per_prompt: int = field(default=5, metadata={"doc": "train demos shown per APE sample"})
    grow_by: int = field(
        default=8, metadata={"doc": "candidates to add when an optimizer has tried them all"}
    )
    operators: int = field(
        default=16,
        metadata={"doc": "structured candidates from the operators (no optimizer model), extra"},
    )

    def __post_init__(self) -> None:
        if self.size is not None and (isinstance(self.size, bool) or self.size < 1):
            raise ValueError(f"size must be None or an int >= 1, got {self.size!r}")
        if not 0.0 <= self.paraphrase_share <= 1.0:
            raise ValueError(f"paraphrase_share must be in [0, 1], got {self.paraphrase_share!r}")
        if self.demos_per_prompt < 1:
            raise ValueError(f"demos_per_prompt must be >= 1, got {self.demos_per_prompt!r}")
        if self.grow_by < 0:
            raise ValueError(f"grow_by must be >= 0, got {self.grow_by!r}")
        if isinstance(self.operators, bool) or self.operators < 0:
            raise ValueError(f"operators must be an int >= 0, got {self.operators!r}")


def domain_size_for(total_steps: int) -> int:
    """Default domain size: 1.5 times the optimizer's steps, at least 8, at most 300.

    About 40 for the default 30-query budget and ~250 for the reference 165 queries
    (ZOPO's paper used hundreds): enough that choosing matters, while a tiny budget
    does not pay for dozens of candidates it can never score.
    """
    return max(8, min(300, math.ceil(1.5 * total_steps)))
