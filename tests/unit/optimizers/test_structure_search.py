"""StructureSearch: opening moves, then operator neighbours of the best complete prompt."""

import json
import random
import re

import pytest

from memory.prompt_record import prompt_id
from optimizers.base import Candidate, Scored
from optimizers.budget import Budget
from optimizers.evaluation.chat_calls import Usage
from optimizers.evaluation.evaluator import EvalResult, ExampleResult
from optimizers.evaluation.stats import mean_with_ci
from optimizers.evaluation.structured_prompt import StructuredPrompt
from optimizers.runner import Runner
from optimizers.search import Search
from optimizers.selection.racing import RacingConfig
from optimizers.structure.operators import Moves
from optimizers.structure.optimizer import StructureConfig, StructureSearch
from optimizers.tasks.example import Example
from tests.fakes import HashEmbedder
from tests.unit.optimizer_fixtures import (
    DEV,
    OPERATOR_CHANGES,
    SEED_PROMPT,
    TRAIN,
    context_factory,
    prompt_of,
)

TRAIN_IDS = {example.id for example in TRAIN}
DEV_IDS = {example.id for example in DEV}  # (the fixtures' dev and train share input texts)
LABEL_CLAUSE = "Answer with exactly one of: negative, positive."


def labels_task_model(message: str) -> str:
    """Right on every item when the prompt names both labels, else "unsure" (always wrong)."""
    prompt = prompt_of(message).lower()
    item = int(re.findall(r"item (\d+)", message)[-1])
    truth = "positive" if item % 2 == 0 else "negative"
    return truth if "positive" in prompt and "negative" in prompt else "unsure"


@pytest.fixture
def optimizer_context(tmp_path):
    with context_factory(tmp_path, HashEmbedder()) as factory:
        yield factory


def result(scores) -> EvalResult:
    examples = tuple(
        ExampleResult(e.id, e.input, e.targets, "", float(s), False)
        for e, s in zip(DEV, scores, strict=False)
    )
    mean, interval = mean_with_ci([e.score for e in examples])
    return EvalResult("p", "dev", "inline", "exact", examples, mean, interval, Usage(), 0.0)


def seed_scored(score_list=(1, 0) * 4) -> Scored:
    return Scored(Candidate(text=SEED_PROMPT, source="seed", step=0), result(score_list))


def assert_train_demos_only(prompts):
    for prompt in prompts:
        for demo in prompt.demos:
            assert demo.id in TRAIN_IDS
            assert demo.id not in DEV_IDS


# ------------------------------------------------------------------ ask / tell


async def test_the_first_ask_is_the_opening_moves_from_train(optimizer_context):
    context = optimizer_context()
    optimizer = StructureSearch(context)
    expected = Moves(train=TRAIN, embed=context.embedder.embed).opening(
        StructuredPrompt.plain(SEED_PROMPT), random.Random(0)
    )
    optimizer.tell([seed_scored()])
    candidates = await optimizer.ask()
    assert [c.key for c in candidates] == [p.key for p, _ in expected]
    assert [c.meta["operator"] for c in candidates] == [op for _, op in expected]
    assert [c.meta["operator"] for c in candidates][:3] == ["spec", "demos", "demos"]
    assert candidates[0].structure.output_spec == LABEL_CLAUSE
    assert candidates[0].structure.demos == ()
    assert len(candidates[1].structure.demos) == 4
    assert any(c.structure.layout == "chat" for c in candidates)
    for candidate in candidates:
        assert candidate.source == "structure"
        assert candidate.step == 1
        assert candidate.parents == (SEED_PROMPT,)
        assert candidate.meta["parent_score"] == 0.5
        assert candidate.structure is not None
        assert candidate.text == candidate.structure.text
        assert "neutral" not in candidate.structure.output_spec
    assert_train_demos_only(c.parts for c in candidates)


async def test_opening_moves_use_the_contexts_train_split_only(optimizer_context):
    train = tuple(
        Example(id=f"own{i}", input=f"item {i}: case {i}", targets=("yes" if i % 3 else "no",))
        for i in range(9)
    )
    for seed in range(5):
        context = optimizer_context(train=train, seed=seed)
        candidates = await StructureSearch(context).ask()
        specs = [c.parts.output_spec for c in candidates]
        assert specs[0] == "Answer with exactly one of: yes, no."
        assert not any("positive" in spec for spec in specs)
        demos = [d for c in candidates for d in c.parts.demos]
        assert demos
        assert {d.id for d in demos} <= {e.id for e in train}


async def test_the_next_ask_proposes_neighbours_of_the_best_complete_prompt(optimizer_context):
    context = optimizer_context()
    optimizer = StructureSearch(context, StructureConfig(batch_size=6))
    optimizer.tell([seed_scored()])
    opening = await optimizer.ask()
    good, raced_out, worse = opening[0], opening[1], opening[3]
    optimizer.tell(
        [
            Scored(good, result([1, 1, 1, 1, 1, 1, 0, 1])),  # 0.875, complete
            Scored(raced_out, result([1] * 5), complete=False),  # 1.0 on 5: not the best
            Scored(worse, result([0, 0, 1, 0, 0, 0, 0, 0])),
        ]
    )
    assert optimizer.best == good.parts
    assert optimizer.best_score == pytest.approx(0.875)
    assert optimizer.stats["spec"] == [1, 2]  # the label clause won, another spec lost
    assert optimizer.stats["demos"] == [0, 1]  # raced out: a try, no win
    neighbours = await optimizer.ask()
    assert 0 < len(neighbours) <= 6
    told = {SEED_PROMPT, good.key, raced_out.key, worse.key}
    for candidate in neighbours:
        assert candidate.step == 2
        assert candidate.parents == (good.identity,)
        assert candidate.meta["parent_score"] == pytest.approx(0.875)
        assert candidate.key not in told
        operator = candidate.meta["operator"]
        assert candidate.parts.changed_parts(good.parts) in OPERATOR_CHANGES[operator], operator
    assert len({c.key for c in neighbours}) == len(neighbours)
    assert_train_demos_only(c.parts for c in neighbours)


async def test_a_partial_score_never_becomes_the_incumbent(optimizer_context):
    optimizer = StructureSearch(optimizer_context())
    optimizer.tell([seed_scored()])
    [first, *_] = await optimizer.ask()
    optimizer.tell([Scored(first, result([1] * 5), complete=False)])
    assert optimizer.best == StructuredPrompt.plain(SEED_PROMPT)
    assert optimizer.best_score == 0.5
    for candidate in await optimizer.ask():
        assert candidate.parents == (SEED_PROMPT,)


async def test_state_dict_resumes_with_the_same_next_ask(optimizer_context):
    context = optimizer_context(seed=3)
    optimizer = StructureSearch(context)
    optimizer.tell([seed_scored()])
    opening = await optimizer.ask()
    optimizer.tell([Scored(c, result([1] * 7 + [i % 2])) for i, c in enumerate(opening[:3])])
    state = json.loads(json.dumps(optimizer.state_dict()))
    assert state["optimizer"] == "structure"

    fresh = StructureSearch(optimizer_context(seed=99))
    fresh.load_state_dict(state)
    assert (fresh.best, fresh.best_score, fresh.step) == (
        optimizer.best,
        optimizer.best_score,
        optimizer.step,
    )
    assert fresh.best.origin == optimizer.best.origin
    ours, theirs = await optimizer.ask(), await fresh.ask()
    assert [(c.key, c.meta) for c in theirs] == [(c.key, c.meta) for c in ours]
    assert [c.parents for c in theirs] == [c.parents for c in ours]
    assert theirs


async def test_state_dict_before_any_score_resumes_to_the_opening(optimizer_context):
    optimizer = StructureSearch(optimizer_context(seed=5))
    state = json.loads(json.dumps(optimizer.state_dict()))
    assert state["best_score"] is None
    fresh = StructureSearch(optimizer_context(seed=6))
    fresh.load_state_dict(state)
    assert fresh.best_score == float("-inf")
    assert [c.key for c in await fresh.ask()] == [c.key for c in await optimizer.ask()]


async def test_nothing_left_to_try_says_why(optimizer_context):
    context = optimizer_context(train=(), seed_prompt="Answer.")
    optimizer = StructureSearch(context)
    optimizer.opened = True
    optimizer.seen = {}
    # With no train examples and a one-phrase instruction, few moves exist: try them all.
    proposed = []
    for _ in range(40):
        found = await optimizer.ask()
        if not found:
            break
        assert optimizer.stopped == ""
        proposed += [c.key for c in found]
        optimizer.seen.update(dict.fromkeys((c.key for c in found), 0.0))
    assert found == []
    assert optimizer.stopped == "no untried neighbour of the best prompt"
    assert len(proposed) == len(set(proposed)) > 10  # never the same move twice


# ------------------------------------------------------------------ a whole run


async def test_a_run_finds_the_output_spec_that_names_the_labels(optimizer_context):
    context = optimizer_context(task_rule=labels_task_model)
    runner = Runner(
        StructureSearch(context),
        context,
        DEV,
        Budget(max_calls=120, max_queries=None),
        racing=RacingConfig(),
    )
    outcome = await runner.run()
    assert outcome.seed.score == 0.0
    assert runner.search.calls <= 120
    answer = outcome.answer
    assert outcome.verdict.passed
    assert outcome.answer_number != 0
    assert answer.complete
    assert answer.score == 1.0 > outcome.seed.score
    spec = answer.candidate.parts.output_spec
    assert "positive" in spec
    assert "negative" in spec
    assert answer.candidate.source == "structure"
    # Zero-scoring moves were raced out cheaply; every demonstration came from train.
    assert any(not s.complete and s.dev.n == 5 for s in outcome.history)
    assert_train_demos_only(s.candidate.parts for s in outcome.history)
    # The prompt memory keeps the answer's parts.
    stored = context.store.get(prompt_id(context.run, answer.candidate.identity))
    assert StructuredPrompt.from_parts(stored.parts) == answer.candidate.parts


async def test_parents_of_the_opening_moves_are_stored_prompts(optimizer_context):
    context = optimizer_context(seed_prompt=SEED_PROMPT + "\n")
    search = Search(context, DEV, Budget(max_queries=30))
    await search.step(StructureSearch(context))
    for scored in search.outcome.history[1:]:
        for parent in scored.candidate.parents:
            assert context.store.get(prompt_id(context.run, parent)) is not None
