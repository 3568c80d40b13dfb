from __future__ import annotations

import json

import pytest

from optimizers.baselines.ape import APE, APEConfig
from optimizers.baselines.random_search import RandomSearch, RandomSearchConfig
from optimizers.propose.domain import CandidateDomain
from optimizers.propose.domain_config import DomainConfig, domain_size_for
from tests.unit.optimizer_fixtures import (
    SEED_PROMPT,
    assert_beats_the_seed_within_budget,
    assert_honest_run,
    run_and_restore,
)
from tests.unit.optimizer_fixtures import run_optimizer as run

SMALL = DomainConfig(size=20)
NO_OPERATORS = DomainConfig(operators=0)  # the optimizer model's candidates alone


# --------------------------------------------------------------------------- the domain


async def test_domain_is_seed_then_inductions_then_seed_paraphrases(optimizer_context):
    context = optimizer_context()
    domain = CandidateDomain(context.embedder)
    await domain.build(context, DomainConfig(size=17, paraphrase_share=0.25, operators=0))
    sources = [entry.source for entry in domain]
    assert sources[0] == "seed"
    assert domain.entries[0].text == SEED_PROMPT
    n_ape = sources.count("ape")
    assert sources == ["seed"] + ["ape"] * n_ape + ["paraphrase"] * (len(domain) - 1 - n_ape)
    assert 1 <= len(domain) - 1 - n_ape <= 4  # round(16 * 0.25) asked for
    assert len(domain) <= 17
    assert all(e.parents == (SEED_PROMPT,) for e in domain if e.source == "paraphrase")
    assert domain.embeddings.shape == (len(domain), context.embedder.dim)
    assert context.proposer.usage.calls <= 2 * 16
    assert len(domain.log) == context.proposer.usage.calls
    calls = context.proposer.usage.calls
    await domain.build(context, DomainConfig(size=17))  # built once
    assert context.proposer.usage.calls == calls


async def test_domain_grows_with_outside_prompts_and_round_trips(optimizer_context):
    context = optimizer_context()
    domain = CandidateDomain(context.embedder)
    added = domain.add(["Say yes.", "Say  yes.", "Say no."], "user")
    assert [e.text for e in added] == ["Say yes.", "Say no."]
    assert domain.add(["Say yes. "], "gpo") == []
    assert "Say  yes." in domain
    assert domain.find("Say no.").source == "user"
    again = CandidateDomain.from_dict(json.loads(json.dumps(domain.to_dict())), context.embedder)
    assert again.entries == domain.entries
    assert (again.embeddings == domain.embeddings).all()


def test_domain_size_scales_with_the_budget():
    assert domain_size_for(3) == 8
    assert domain_size_for(29) == 44
    assert domain_size_for(165) == 248
    assert domain_size_for(10_000) == 300
    with pytest.raises(ValueError, match="paraphrase_share"):
        DomainConfig(paraphrase_share=1.5)


# ------------------------------------------------------------------------- random search


async def test_random_search_runs_within_budget_and_beats_the_seed(optimizer_context):
    context = optimizer_context(total_steps=12)
    optimizer = RandomSearch(context, RandomSearchConfig(domain=SMALL))
    outcome = await run(optimizer, context, 13)
    picked = assert_beats_the_seed_within_budget(outcome, 13, source="random")
    assert all(s.candidate.meta["origin"] in ("ape", "paraphrase", "operator") for s in picked)
    assert optimizer.domain.entries[0].text == SEED_PROMPT


async def test_random_search_depends_on_the_seed_only(optimizer_context):
    async def picks(seed: int) -> list[str]:
        context = optimizer_context(seed=seed)
        outcome = await run(RandomSearch(context, RandomSearchConfig(domain=SMALL)), context, 6)
        return [s.candidate.text for s in outcome.history]

    assert await picks(1) == await picks(1)
    assert await picks(1) != await picks(2)


async def test_a_model_that_writes_only_junk_stops_the_run_not_loops(optimizer_context):
    context = optimizer_context(proposer_rule=lambda message: "ok", total_steps=20)
    outcome = await run(RandomSearch(context, RandomSearchConfig(domain=NO_OPERATORS)), context, 20)
    assert outcome.stopped == "converged"
    assert outcome.queries == 1  # the seed only
    domain_calls = 2 * (domain_size_for(20) - 1)
    assert context.proposer.usage.calls <= domain_calls + 2 * DomainConfig().grow_by


async def test_random_search_grows_the_domain_when_everything_is_scored(optimizer_context):
    context = optimizer_context()
    config = RandomSearchConfig(domain=DomainConfig(size=4, grow_by=4), batch_size=2)
    optimizer = RandomSearch(context, config)
    outcome = await run(optimizer, context, 12)
    assert_honest_run(outcome, 12)
    assert outcome.queries > 4
    assert len(optimizer.domain) > 4


# ----------------------------------------------------------------------------------- APE


async def test_ape_scores_in_generation_order_then_paraphrases_the_best(optimizer_context):
    context = optimizer_context(total_steps=9)
    optimizer = APE(context, APEConfig(domain=SMALL))
    assert optimizer.resample_from == 7
    outcome = await run(optimizer, context, 10)
    assert_honest_run(outcome, 10)
    first, last = outcome.history[1:7], outcome.history[7:]
    domain_order = [e.text for e in optimizer.domain if e.source == "ape"]
    assert [s.candidate.text for s in first] == domain_order[:6]
    assert [s.candidate.source for s in last] == ["paraphrase"] * 3
    top3 = sorted(outcome.history[:7], key=lambda s: -s.score)[:3]
    assert {s.candidate.parents[0] for s in last} <= {s.candidate.text for s in top3}
    assert outcome.best.score > outcome.seed.score


async def test_ape_resamples_early_when_the_domain_is_used_up(optimizer_context):
    context = optimizer_context(total_steps=30)
    optimizer = APE(context, APEConfig(domain=DomainConfig(size=3, operators=0)))
    outcome = await run(optimizer, context, 8)
    assert_honest_run(outcome, 8)
    assert [s.candidate.source for s in outcome.history[3:]] == ["paraphrase"] * 5


async def test_a_shared_domain_is_built_once(optimizer_context):
    context = optimizer_context()
    domain = CandidateDomain(context.embedder)
    await run(RandomSearch(context, RandomSearchConfig(domain=SMALL), domain=domain), context, 3)
    calls = context.proposer.usage.calls
    outcome = await run(APE(context, APEConfig(domain=SMALL), domain=domain), context, 3)
    assert context.proposer.usage.calls == calls
    assert outcome.history[1].candidate.text == domain.entries[1].text


# -------------------------------------------------------------------------------- resume


@pytest.mark.parametrize(
    ("make", "queries"),
    [
        (lambda c: RandomSearch(c, RandomSearchConfig(domain=SMALL)), 5),
        (lambda c: APE(c, APEConfig(domain=SMALL)), 4),
        (lambda c: APE(c, APEConfig(domain=SMALL)), 9),  # inside the Monte-Carlo phase
    ],
)
async def test_state_round_trips_and_resumes_to_the_same_asks(optimizer_context, make, queries):
    _, original, restored = await run_and_restore(
        make, optimizer_context, queries, total_steps=10, seed=99
    )
    for _ in range(2):
        want = [c.text for c in await original.ask()]
        assert want
        assert [c.text for c in await restored.ask()] == want


async def test_generated_candidates_enter_the_prompt_memory_before_scoring(optimizer_context):
    context = optimizer_context()
    optimizer = RandomSearch(context, RandomSearchConfig(domain=SMALL))
    outcome = await run(optimizer, context, queries=3)
    stored = {r.text: r for r in context.store.trajectory(context.run)}
    generated = [e for e in optimizer.domain if e.source in ("ape", "paraphrase")]
    assert generated
    assert all(e.text in stored for e in generated)
    scored = {s.candidate.text for s in outcome.history}
    unscored = [e.text for e in generated if e.text not in scored]
    assert unscored
    assert all(stored[text].dev_score is None for text in unscored)
    assert all(stored[text].dev_score is not None for text in scored)


async def test_operator_candidates_join_the_domain_built_from_train_only(optimizer_context):
    context = optimizer_context(proposer_rule=lambda message: "ok")  # a model that writes junk
    domain = CandidateDomain(context.embedder)
    await domain.build(context, DomainConfig(size=8, operators=12))
    operators = [entry for entry in domain if entry.source == "operator"]
    assert 1 <= len(operators) <= 12
    train_ids = {example.id for example in context.train}
    assert any(entry.structure is not None and entry.structure.output_spec for entry in operators)
    for entry in operators:
        if entry.structure is not None:
            assert {demo.id for demo in entry.structure.demos} <= train_ids
    restored = CandidateDomain.from_dict(domain.to_dict(), context.embedder)
    assert [e.key for e in restored] == [e.key for e in domain]


async def test_random_search_scores_operator_candidates_when_the_writer_fails(optimizer_context):
    context = optimizer_context(proposer_rule=lambda message: "ok", total_steps=20)
    outcome = await run(RandomSearch(context), context, 6)
    assert outcome.queries == 6
    assert {s.candidate.meta.get("origin") for s in outcome.history[1:]} == {"operator"}
