from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from optimizers.base import Candidate, Scored
from optimizers.baselines.ape import APE, APEConfig
from optimizers.baselines.random_search import RandomSearch, RandomSearchConfig
from optimizers.propose.domain import CandidateDomain
from optimizers.propose.domain_config import DomainConfig
from optimizers.zopo import ZOPOConfig, ZOPOSearch
from optimizers.zopo.ntk_kernel import NeuralTangentKernel
from optimizers.zopo.optimizer import ZOPOOptimizer, ZOPOOptimizerConfig, initial_design_size
from optimizers.zopo.surrogate import fit, posterior_variance
from tests.unit.optimizer_fixtures import (
    DEV,
    SEED_PROMPT,
    assert_beats_the_seed_within_budget,
    assert_honest_run,
    run_and_restore,
)
from tests.unit.optimizer_fixtures import run_optimizer as run

SMALL = DomainConfig(size=24)


def test_initial_design_scales_the_reference_40_of_165():
    assert initial_design_size(165) == 40
    assert initial_design_size(29) == 7
    assert initial_design_size(4) == 2
    assert initial_design_size(0) == 2


async def test_zopo_runs_within_budget_and_beats_the_seed(optimizer_context):
    context = optimizer_context(total_steps=14)
    optimizer = ZOPOOptimizer(context, ZOPOOptimizerConfig(domain=SMALL))
    assert optimizer.zopo_config.n_initial == 3
    assert optimizer.zopo_config.relative_uncertainty
    outcome = await run(optimizer, context, 15)
    picked = assert_beats_the_seed_within_budget(outcome, 15, source="zopo")
    phases = [s.candidate.meta["zopo"] for s in picked]
    assert phases[:2] == ["initial", "initial"]  # with the seed, 3 random-design scores
    assert "step" in phases
    state = optimizer.search.state()
    assert len(state.evaluated) == 15  # every score, the seed's included
    assert dict(state.evaluated)[optimizer.domain.find(SEED_PROMPT).id] == outcome.seed.score


async def test_zopo_math_runs_on_one_torch_thread_and_restores_them(optimizer_context, monkeypatch):
    seen = []
    ask = ZOPOSearch.ask

    def recording_ask(self, n=1):
        seen.append(torch.get_num_threads())
        return ask(self, n)

    monkeypatch.setattr(ZOPOSearch, "ask", recording_ask)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        context = optimizer_context(total_steps=6)
        await run(ZOPOOptimizer(context, ZOPOOptimizerConfig(domain=SMALL)), context, 4)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    assert seen == [1, 1, 1]
    with pytest.raises(ValueError, match="torch_threads"):
        ZOPOOptimizerConfig(torch_threads=0)


async def test_scores_of_other_optimizers_join_the_domain_and_the_data(optimizer_context):
    context = optimizer_context(total_steps=10)
    optimizer = ZOPOOptimizer(context, ZOPOOptimizerConfig(domain=SMALL))
    await run(optimizer, context, 3)
    outside = Candidate(text="Name the sentiment of the review.", source="gpo", step=4)
    scored = Scored(outside, (await context.evaluator.evaluate(outside.text, DEV, split="dev")))
    optimizer.tell([scored])
    entry = optimizer.domain.find(outside.text)
    assert entry is not None
    assert entry.source == "gpo"
    assert dict(optimizer.search.state().evaluated)[entry.id] == scored.score
    assert optimizer.search.candidate_ids == [e.id for e in optimizer.domain]
    asked = [c.text for c in await optimizer.ask()]
    assert outside.text not in asked


async def test_an_exhausted_domain_grows_then_the_run_goes_on(optimizer_context):
    context = optimizer_context(total_steps=20)
    config = ZOPOOptimizerConfig(domain=DomainConfig(size=5, grow_by=4), n_initial=2)
    optimizer = ZOPOOptimizer(context, config)
    outcome = await run(optimizer, context, 12)
    assert_honest_run(outcome, 12)
    assert outcome.queries == 12
    assert len(optimizer.domain) >= 12
    assert optimizer.search.candidate_ids == [e.id for e in optimizer.domain]


@pytest.mark.parametrize(
    ("reply", "make"),
    [
        (
            "ok",
            lambda c: ZOPOOptimizer(
                c, ZOPOOptimizerConfig(domain=DomainConfig(size=24, operators=0))
            ),
        ),
        (  # every paraphrase APE asks for comes back as the seed
            "<START>Answer the question.<END>",
            lambda c: APE(c, APEConfig(domain=DomainConfig(size=20, operators=0))),
        ),
    ],
    ids=["zopo", "ape"],
)
async def test_nothing_left_to_write_ends_the_run(optimizer_context, reply, make):
    context = optimizer_context(proposer_rule=lambda message: reply)
    outcome = await run(make(context), context, 10)
    assert outcome.stopped == "converged"
    assert outcome.queries == 1


async def test_zopo_and_random_search_compare_on_one_domain(optimizer_context):
    context = optimizer_context(total_steps=8)
    domain = CandidateDomain(context.embedder)
    await run(ZOPOOptimizer(context, ZOPOOptimizerConfig(domain=SMALL), domain=domain), context, 9)
    size, calls = len(domain), context.proposer.usage.calls
    await run(RandomSearch(context, RandomSearchConfig(domain=SMALL), domain=domain), context, 9)
    assert (len(domain), context.proposer.usage.calls) == (size, calls)


async def test_same_seed_same_domain_for_zopo_ape_and_random(optimizer_context):
    texts = []
    for make in (
        lambda c: ZOPOOptimizer(c, ZOPOOptimizerConfig(domain=SMALL)),
        lambda c: APE(c, APEConfig(domain=SMALL)),
        lambda c: RandomSearch(c, RandomSearchConfig(domain=SMALL)),
    ):
        context = optimizer_context(total_steps=8, seed=4)
        optimizer = make(context)
        await run(optimizer, context, 3)
        texts.append(optimizer.domain.texts)
    assert texts[0] == texts[1] == texts[2]


@pytest.mark.parametrize("queries", [1, 6, 12])  # before the domain, initial design, local search
async def test_state_round_trips_and_resumes_to_the_same_asks(optimizer_context, queries):
    context, original, restored = await run_and_restore(
        lambda c: ZOPOOptimizer(c, ZOPOOptimizerConfig(domain=SMALL)),
        optimizer_context,
        queries,
        total_steps=16,
        seed=5,
    )
    for _ in range(3):
        want = await original.ask()
        got = await restored.ask()
        assert [c.text for c in got] == [c.text for c in want]
        assert [c.meta["zopo"] for c in got] == [c.meta["zopo"] for c in want]
        fake = [
            Scored(c, (await context.evaluator.evaluate(c.text, DEV, split="dev"))) for c in want
        ]
        original.tell(fake)
        restored.tell(fake)
    assert json.dumps(restored.state_dict()) == json.dumps(original.state_dict())


# ------------------------------------------------------------------- relative uncertainty


def test_relative_variance_is_the_unexplained_share_of_the_prior():
    gen = torch.Generator().manual_seed(0)
    x = torch.nn.functional.normalize(
        torch.randn(12, 384, generator=gen, dtype=torch.float64), dim=-1
    )
    y = torch.rand(12, generator=gen, dtype=torch.float64)
    surrogate = fit(x, y, NeuralTangentKernel(384, seed=0), noise=1e-4)
    z = torch.nn.functional.normalize(
        torch.randn(5, 384, generator=gen, dtype=torch.float64), dim=-1
    )
    absolute = posterior_variance(surrogate, z)
    relative = posterior_variance(surrogate, z, relative=True)
    prior = surrogate.kernel.forward(surrogate.normalise(z), surrogate.normalise(z), diag=True)
    torch.testing.assert_close(relative, absolute / prior)
    assert bool((relative >= 0).all() and (relative <= 1).all())
    assert float(absolute.min()) > 100  # sentence-embedding scale: λ = 0.01 is meaningless
    assert float(posterior_variance(surrogate, x, relative=True).max()) < 1e-3  # at the data


def test_relative_uncertainty_is_the_default_and_the_absolute_one_an_option():
    assert ZOPOConfig().relative_uncertainty is True
    assert ZOPOConfig().uncertainty_threshold == 0.01
    with pytest.raises(ValueError, match="relative_uncertainty"):
        ZOPOConfig(relative_uncertainty=1)  # type: ignore[arg-type]
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 384))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    scores = rng.random(60)
    recorded = {}
    for relative in (True, False):
        search = ZOPOSearch(ZOPOConfig(n_initial=8, relative_uncertainty=relative))
        search.add_candidates([f"c{i}" for i in range(60)], x)
        for _ in range(12):
            (cid,) = search.ask()
            search.tell(cid, float(scores[int(cid[1:])]))
        recorded[relative] = search.state().last_variance
    assert 0 <= recorded[True] <= 1
    assert recorded[False] > 100
