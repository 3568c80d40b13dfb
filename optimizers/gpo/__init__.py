"""GPO: gradient-inspired LLM prompt optimization (Tang et al., AAAI 2025, arXiv 2402.17564).

The update direction comes from the trajectory (:mod:`.retrieval` over
:mod:`.trajectory`, kept in Chroma), the update method is generation with a
cosine-decayed edit budget (:mod:`.step_size`, checked with :mod:`.edit_distance`)
through the meta-prompt in :mod:`.meta_prompt`; :mod:`.optimizer` ties them
into an ask/tell :class:`~optimizers.base.Optimizer` with the settings of :mod:`.config`.
"""

from optimizers.gpo.config import GPOConfig
from optimizers.gpo.edit_distance import word_edit_distance
from optimizers.gpo.meta_prompt import build_meta_prompt, render_exemplar
from optimizers.gpo.optimizer import GPO
from optimizers.gpo.retrieval import RETRIEVAL_MODES, RetrievalMode, retrieve
from optimizers.gpo.step_size import step_size
from optimizers.gpo.trajectory import Trajectory

__all__ = [
    "GPO",
    "RETRIEVAL_MODES",
    "GPOConfig",
    "RetrievalMode",
    "Trajectory",
    "build_meta_prompt",
    "render_exemplar",
    "retrieve",
    "step_size",
    "word_edit_distance",
]
