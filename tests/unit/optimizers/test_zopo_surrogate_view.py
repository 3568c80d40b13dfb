"""ZOPO's read-only surrogate view (the app's embedding map shades its uncertainty)."""

from __future__ import annotations

import numpy as np
import torch

from optimizers.propose.domain_config import DomainConfig
from optimizers.zopo.optimizer import ZOPOOptimizer, ZOPOOptimizerConfig
from optimizers.zopo.surrogate import posterior_mean
from tests.unit.optimizer_fixtures import run_optimizer


async def test_the_view_is_the_search_s_own_local_gp_and_changes_nothing(optimizer_context):
    context = optimizer_context(total_steps=6)
    optimizer = ZOPOOptimizer(context, ZOPOOptimizerConfig(domain=DomainConfig(size=12)))
    assert optimizer.surrogate_view() is None  # no search before the first ask
    await run_optimizer(optimizer, context, queries=5)
    before = optimizer.search.state().to_dict()

    view = optimizer.surrogate_view(limit=8)

    assert optimizer.search.state().to_dict() == before  # read-only
    assert len(view.texts) == 8
    assert view.embeddings.shape == (8, 384)
    assert np.all((view.std >= 0) & (view.std <= 1))
    state = optimizer.search.state()
    centre = optimizer.domain.find(view.current)
    assert centre.id == (state.current_id or state.best[0])
    assert view.texts[0] == view.current  # nearest first: the centre itself
    assert view.std[0] < 0.05  # a scored point: the GP is nearly sure there
    # the same numbers as the search's own fit around the same point
    row = [e.id for e in optimizer.domain.entries].index(centre.id)
    z = torch.as_tensor(optimizer.domain.embeddings[row], dtype=torch.float64)
    own = optimizer.search._fit(z)
    expected = posterior_mean(own, torch.as_tensor(view.embeddings, dtype=torch.float64))
    np.testing.assert_allclose(view.mean, expected.numpy(), rtol=1e-6, atol=1e-9)
