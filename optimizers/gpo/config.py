"""GPO's settings: samples per step, retrieval, the edit budget, retries and fallback."""

from __future__ import annotations

from dataclasses import dataclass, field

from optimizers.gpo.retrieval import RETRIEVAL_MODES, RetrievalMode
from optimizers.gpo.step_size import S_MAX, S_MIN


@dataclass(frozen=True, kw_only=True)
class GPOConfig:
    """How GPO runs; the defaults are the paper's settings. Validated on construction."""

    samples_per_step: int = field(
        default=8, metadata={"doc": "independent optimizer-model samples per step"}
    )
    retrieval: RetrievalMode = field(
        default="relevance",
        metadata={"doc": "update direction: 'relevance' (paper's best), 'recency', 'importance'"},
    )
    k: int = field(default=3, metadata={"doc": "trajectory prompts shown in the meta-prompt"})
    s_max: int = field(default=S_MAX, metadata={"doc": "words that may change at step 0"})
    s_min: int = field(default=S_MIN, metadata={"doc": "words that may change at step T"})
    n_exemplars: int = field(
        default=3, metadata={"doc": "fixed train examples shown in the meta-prompt"}
    )
    max_exemplar_chars: int = field(
        default=500, metadata={"doc": "exemplar inputs and outputs are cut at this length"}
    )
    retries: int = field(
        default=1, metadata={"doc": "extra batches of samples when none of a step is usable"}
    )
    give_up_after: int = field(
        default=3, metadata={"doc": "steps in a row without a usable sample before stopping"}
    )
    operator_fallback: bool = field(
        default=True,
        metadata={"doc": "propose operator neighbours when no proposal is usable (no model)"},
    )

    def __post_init__(self) -> None:
        at_least = {
            "samples_per_step": (self.samples_per_step, 1),
            "k": (self.k, 1),
            "s_min": (self.s_min, 0),
            "s_max": (self.s_max, 1),
            "n_exemplars": (self.n_exemplars, 0),
            "max_exemplar_chars": (self.max_exemplar_chars, 20),
            "retries": (self.retries, 0),
            "give_up_after": (self.give_up_after, 1),
        }
        for name, (value, low) in at_least.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if self.s_min > self.s_max:
            raise ValueError(f"s_min must be <= s_max, got s_min={self.s_min}, s_max={self.s_max}")
        if self.retrieval not in RETRIEVAL_MODES:
            raise ValueError(f"retrieval must be one of {RETRIEVAL_MODES}, got {self.retrieval!r}")
