"""ZOPO: localized zeroth-order prompt optimization over candidate embeddings (Hu et al. 2024)."""

from optimizers.zopo.config import ZOPOConfig
from optimizers.zopo.ntk_kernel import NeuralTangentKernel
from optimizers.zopo.search import ZOPOSearch
from optimizers.zopo.state import ZOPOEvent, ZOPOState

__all__ = ["NeuralTangentKernel", "ZOPOConfig", "ZOPOEvent", "ZOPOSearch", "ZOPOState"]
