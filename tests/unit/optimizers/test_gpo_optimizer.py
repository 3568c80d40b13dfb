import dataclasses
import json
import random
import re
import threading
from collections.abc import Callable, Sequence

import pytest

from memory.prompt_store import PromptStore
from memory.response_cache import ResponseCache
from optimizers.base import Allowance, Candidate, OptimizerContext, Scored
from optimizers.budget import Budget
from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.evaluation.concurrency import ConcurrencyLimit, LimitPolicy
from optimizers.evaluation.evaluator import Evaluator
from optimizers.evaluation.metrics import get_metric
from optimizers.gpo import GPO, GPOConfig
from optimizers.gpo.edit_distance import word_edit_distance
from optimizers.gpo.meta_prompt import EXEMPLARS_HEADER, INSTRUCTION
from optimizers.runner import Runner
from optimizers.tasks.example import Example
from tests.fakes import fake_backend

# A task whose fake model gets more right the more of these words the prompt has:
# example i is answered correctly when i % 4 < (keywords in the prompt), so the
# dev accuracy is (keywords present) / 4.
KEYWORDS = ("sentiment", "positive", "negative", "label")
SEED = "Answer the question."


def examples(prefix: str, n: int) -> tuple[Example, ...]:
    return tuple(
        Example(
            id=f"{prefix}{i}",
            input=f"review {i} {'good' if i % 2 else 'bad'}",
            targets=("positive" if i % 2 else "negative",),
        )
        for i in range(n)
    )


DEV = examples("d", 8)
TRAIN = examples("t", 6)


def task_model(text: str) -> str:
    prompt, _, rest = text.partition("\n\nInput: ")
    review = rest.split("\nOutput:")[0]
    hits = sum(keyword in prompt.lower() for keyword in KEYWORDS)
    if int(review.split()[1]) % 4 < hits:
        return "positive" if "good" in review else "negative"
    return "neutral"


def accuracy(prompt: str) -> float:
    return min(4, sum(keyword in prompt.lower() for keyword in KEYWORDS)) / 4


def current_in(meta_prompt: str) -> str:
    return meta_prompt.split("The current prompt is:\n", 1)[1].split("\n\n", 1)[0]


def step_size_in(meta_prompt: str) -> int:
    return int(re.search(r"change up to (\d+) words", meta_prompt).group(1))


def scripted(*replies: str | Callable[[str], str]) -> Callable[[str], str]:
    """Answer the n-th call with replies[n % len]; a callable reply gets the meta-prompt."""
    lock = threading.Lock()
    count = 0

    def rule(meta_prompt: str) -> str:
        nonlocal count
        with lock:
            reply = replies[count % len(replies)]
            count += 1
        return reply(meta_prompt) if callable(reply) else reply

    return rule


def fail(meta_prompt: str) -> str:
    raise RuntimeError("HTTP 400: context length exceeded")


@pytest.fixture
def make_context(tmp_path, bundled_embedder):
    stores: list[PromptStore] = []

    def make(
        proposer_rule: Callable[[str], str],
        *,
        seed: str = SEED,
        total_steps: int = 4,
        directives: tuple[str, ...] = (),
    ) -> OptimizerContext:
        store = PromptStore.embedded(tmp_path / "chroma", bundled_embedder)
        stores.append(store)
        cache = ResponseCache(tmp_path / "responses.sqlite")
        # One request at a time, in order: the n-th sample meets the n-th scripted reply.
        proposer = dataclasses.replace(
            fake_backend(proposer_rule, role="optimizer"),
            limit=ConcurrencyLimit(LimitPolicy.fixed(1)),
        )
        return OptimizerContext(
            task="sentiment",
            run="run-1",
            seed_prompt=seed,
            train=TRAIN,
            evaluator=Evaluator(ChatCaller(fake_backend(task_model), cache), get_metric("exact")),
            proposer=ChatCaller(proposer, cache),
            embedder=bundled_embedder,
            store=store,
            rng=random.Random(0),
            dev_size=len(DEV),
            total_steps=total_steps,
            directives=directives,
        )

    yield make
    for store in stores:
        store.close()


async def score(context: OptimizerContext, candidates: Sequence[Candidate]) -> list[Scored]:
    return [
        Scored(c, await context.evaluator.evaluate(c.text, DEV, split="dev")) for c in candidates
    ]


async def start(gpo: GPO) -> None:
    seed = Candidate(text=gpo.context.seed_prompt, source="seed", step=0)
    gpo.tell(await score(gpo.context, [seed]))


async def one_step(gpo: GPO) -> list[Scored]:
    scored = await score(gpo.context, await gpo.ask())
    gpo.tell(scored)
    return scored


def proposer_calls(context: OptimizerContext) -> int:
    return len(context.proposer.backend.model.calls)


def tagged(text: str) -> str:
    return f"<START>{text}<END>"


# ------------------------------------------------------------------------------ config


def test_config_defaults_are_the_papers():
    config = GPOConfig()
    assert (config.samples_per_step, config.k, config.retrieval) == (8, 3, "relevance")
    assert (config.s_max, config.s_min, config.n_exemplars) == (50, 10, 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.k = 4


@pytest.mark.parametrize(
    "bad",
    [
        {"samples_per_step": 0},
        {"k": True},
        {"s_min": -1},
        {"s_max": 2.5},
        {"s_min": 20, "s_max": 10},
        {"n_exemplars": -1},
        {"max_exemplar_chars": 5},
        {"retries": -1},
        {"give_up_after": 0},
        {"retrieval": "random"},
    ],
)
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        GPOConfig(**bad)


def test_needs_a_schedule_length(make_context):
    with pytest.raises(ValueError, match="total_steps"):
        GPO(make_context(scripted("x"), total_steps=0))


async def test_ask_needs_the_seed_score_first(make_context):
    with pytest.raises(RuntimeError, match="seed"):
        await GPO(make_context(scripted("x"))).ask()


# ------------------------------------------------------------------- one step in detail


async def test_first_step_meta_prompt_and_independent_samples(make_context):
    context = make_context(
        scripted(tagged("Label the sentiment of the review.")), directives=("at most 30 words",)
    )
    gpo = GPO(context)
    await start(gpo)
    candidates = await gpo.ask()

    meta = gpo.last_meta_prompt
    assert current_in(meta) == SEED
    assert f"Prompt: {SEED}\nScore: 0" in meta
    assert step_size_in(meta) == 50
    assert "- at most 30 words" in meta
    assert meta.index(EXEMPLARS_HEADER) < meta.index(INSTRUCTION)
    assert len(gpo.exemplar_ids) == 3
    assert gpo.exemplar_ids == [e.id for e in random.Random(0).sample(TRAIN, 3)]
    for example in gpo.exemplars():
        assert f"<Prompt>\n\nInput: {example.input}\nOutput:" in meta

    # Eight real calls although the request is the same: distinct sample indices.
    assert proposer_calls(context) == 8
    assert [c.text for c in candidates] == ["Label the sentiment of the review."]
    (candidate,) = candidates
    assert (candidate.source, candidate.step, candidate.parents) == ("gpo", 1, (SEED,))
    assert candidate.meta["edit_distance"] == 5
    assert candidate.meta["step_size"] == 50
    assert candidate.meta["rule"] == "tags"
    assert candidate.meta["over_budget"] is False
    assert [r["reason"] for r in gpo.rejections] == ["duplicate of sample 0 in this step"] * 7
    assert [r["sample"] for r in gpo.rejections] == list(range(1, 8))


async def test_unruly_replies_are_parsed_or_rejected_with_reasons(make_context):
    long_rewrite = " ".join(["Carefully"] * 60)
    context = make_context(
        scripted(
            tagged("Give the sentiment: positive or negative."),
            "Here is the new prompt: Say whether the review is positive.",
            "",
            "ok",
            tagged("Give the sentiment:   positive or negative."),
            tagged(SEED),
            tagged(long_rewrite),
            fail,
        )
    )
    gpo = GPO(context)
    await start(gpo)
    candidates = await gpo.ask()

    assert [(c.text, c.meta["rule"]) for c in candidates] == [
        ("Give the sentiment: positive or negative.", "tags"),
        ("Say whether the review is positive.", "plain"),
    ]
    reasons = {r["sample"]: r["reason"] for r in gpo.rejections}
    assert reasons[2] == "empty reply"
    assert "fewer than 2 words" in reasons[3]
    assert reasons[4] == "duplicate of sample 0 in this step"
    assert reasons[5] == "unchanged: same as the current prompt"
    assert reasons[6] == "over budget: changes 60 words, 50 allowed"
    assert reasons[7].startswith("call failed: ")
    assert "context length" in reasons[7]
    assert len(gpo.rejections) == 6
    over = next(r for r in gpo.rejections if r["sample"] == 6)
    assert (over["edit_distance"], over["text"], over["step"]) == (60, long_rewrite, 1)
    json.dumps(gpo.rejections)  # inspectable and checkpointable


async def test_when_all_are_over_budget_the_closest_is_kept(make_context):
    context = make_context(
        scripted(
            tagged("Read the review and answer with its sentiment label."),  # 8 edits
            tagged("Answer the question about sentiment please."),  # 4 edits
            tagged("Answer with one sentiment word only."),  # 5 edits
            tagged("Answer the question with a label."),  # 4 edits, later
        ),
        total_steps=2,
    )
    gpo = GPO(context, GPOConfig(samples_per_step=4, s_max=2, s_min=1))
    await start(gpo)
    (kept,) = await gpo.ask()
    assert kept.text == "Answer the question about sentiment please."
    assert kept.meta["over_budget"] is True
    assert kept.meta["edit_distance"] == 4
    assert "closest of 4 candidates" in kept.meta["kept"]
    assert sorted((r["sample"], r["edit_distance"]) for r in gpo.rejections) == [
        (0, 8),
        (2, 5),
        (3, 4),
    ]
    assert all(r["reason"].endswith("2 allowed") for r in gpo.rejections)


async def test_junk_retries_then_stands_still_then_gives_up(make_context):
    context = make_context(scripted("", "?", "<START><END>"))
    gpo = GPO(context, GPOConfig(retries=1, give_up_after=2, operator_fallback=False))
    await start(gpo)

    (still,) = await gpo.ask()  # two batches of 8, nothing usable
    assert proposer_calls(context) == 16
    assert still.text == SEED
    assert still.meta["rule"] == "fallback"
    gpo.tell(await score(context, [still]))
    assert gpo.step == 1
    assert gpo.current == SEED

    assert await gpo.ask() == []  # second failed step in a row: give up
    assert proposer_calls(context) == 32
    assert "2 steps in a row" in gpo.stopped
    assert await gpo.ask() == []
    assert proposer_calls(context) == 32
    assert len(gpo.rejections) == 32
    assert {r["attempt"] for r in gpo.rejections} == {0, 1}


async def test_junk_falls_back_on_operator_neighbours_within_the_edit_budget(make_context):
    context = make_context(scripted("", "?", "<START><END>"))
    gpo = GPO(context, GPOConfig(retries=1, give_up_after=2))
    await start(gpo)
    candidates = await gpo.ask()
    assert candidates, "no usable sample: operator neighbours instead of standing still"
    train_ids = {example.id for example in context.train}
    for candidate in candidates:
        assert candidate.meta["rule"].startswith("fallback: operators")
        assert candidate.key != SEED
        assert {demo.id for demo in candidate.parts.demos} <= train_ids
        assert word_edit_distance(candidate.parts.instruction, SEED) <= gpo.step_size()


async def test_a_budget_too_short_for_samples_pays_no_call_and_falls_back(make_context):
    context = make_context(scripted(tagged("Label the sentiment.")))
    gpo = GPO(context, GPOConfig(samples_per_step=8))
    await start(gpo)
    before = proposer_calls(context)
    context.allowance = Allowance(calls_left=lambda: 15)  # half of it: 7 < 8 samples
    candidates = await gpo.ask()
    assert proposer_calls(context) == before
    assert candidates
    assert all(c.meta["rule"].startswith("fallback: operators") for c in candidates)


# ----------------------------------------------------------------------- the move


async def test_moves_to_the_best_new_candidate_even_if_worse(make_context):
    seed = "Label the sentiment as positive."  # 3 keywords: 0.75
    context = make_context(
        scripted(
            tagged("Tell the sentiment."),  # 0.25
            tagged("Say if the review is positive or bad."),  # 0.25
            tagged("Tell the sentiment, positive or bad."),  # 0.5
            tagged("Answer now."),  # 0.0
        ),
        seed=seed,
    )
    gpo = GPO(context, GPOConfig(samples_per_step=4))
    await start(gpo)
    scored = await one_step(gpo)
    assert max(s.score for s in scored) == 0.5 < accuracy(seed)
    assert gpo.current == "Tell the sentiment, positive or bad."
    assert gpo.step == 1
    assert [(r.text, r.dev_score, r.step) for r in gpo.trajectory.entries] == [
        (seed, 0.75, 0),
        ("Tell the sentiment, positive or bad.", 0.5, 1),
    ]
    await gpo.ask()
    assert current_in(gpo.last_meta_prompt) == "Tell the sentiment, positive or bad."
    assert step_size_in(gpo.last_meta_prompt) == 44  # t = 1 of T = 4


async def test_the_schedule_ends_after_total_steps(make_context):
    context = make_context(scripted(tagged("Label the sentiment.")), total_steps=1)
    gpo = GPO(context)
    await start(gpo)
    await one_step(gpo)
    calls = proposer_calls(context)
    assert await gpo.ask() == []
    assert gpo.stopped == "schedule finished: 1 steps"
    assert proposer_calls(context) == calls


async def test_after_a_step_that_did_not_improve_operator_neighbours_join_the_samples(
    make_context,
):
    # A small model's samples parse and score nothing, like the seed.
    context = make_context(scripted(tagged("Here is your new prompt:"), tagged("How to:")))
    gpo = GPO(context, GPOConfig(samples_per_step=4))
    await start(gpo)
    first = await gpo.ask()
    assert {c.meta["rule"] for c in first} == {"tags"}  # samples only: nothing failed yet
    gpo.tell(await score(context, first))
    assert gpo.stalled
    second = await gpo.ask()
    rules = [c.meta["rule"] for c in second]
    assert "tags" in rules  # the samples still come (one repeats the current prompt now)
    assert rules.count("fallback: operators (no usable proposal)") == 2  # half a step's samples
    train_ids = {example.id for example in context.train}
    assert all({d.id for d in c.parts.demos} <= train_ids for c in second)


async def test_samples_rewrite_the_instruction_and_keep_the_other_parts(make_context):
    context = make_context(scripted(tagged("Label it.")))
    gpo = GPO(context, GPOConfig(samples_per_step=2))
    await start(gpo)
    spec = "Answer with exactly one of: negative, positive."
    moved = Candidate.structured(
        gpo.parts.with_parts("output_spec", output_spec=spec), source="gpo", step=1
    )
    gpo.pending = {moved.key}
    gpo.tell(await score(context, [moved]))  # 2 keywords: 0.5 beats the seed's 0
    assert not gpo.stalled
    (sample,) = await gpo.ask()
    assert current_in(gpo.last_meta_prompt) == SEED  # the instruction, not the spec
    assert sample.parts.instruction == "Label it."
    assert sample.parts.output_spec == spec
    assert sample.text == f"Label it. {spec}"
    assert sample.meta["edit_distance"] == word_edit_distance("Label it.", SEED)


# ---------------------------------------------------------------------- end to end


def improving_proposer() -> Callable[[str], str]:
    """A weak optimizer model: half its samples are junk, the rest add one missing word."""

    def add_word(style: str) -> Callable[[str], str]:
        def reply(meta_prompt: str) -> str:
            current = current_in(meta_prompt)
            missing = [k for k in KEYWORDS if k not in current.lower()] or ["please"]
            word = missing[0] if style == "tags" else missing[-1]
            new = f"{current} Use the {word}."
            return tagged(new) if style == "tags" else f"New prompt: {new}"

        return reply

    return scripted(
        "I am not sure what you mean.",
        add_word("tags"),
        "",
        add_word("plain"),
        tagged("Just answer."),
        "<START>",
        lambda meta: tagged(current_in(meta)),
        "Sure!",
    )


async def test_end_to_end_improves_within_the_budget(make_context):
    context = make_context(improving_proposer(), total_steps=3)
    gpo = GPO(context)
    runner = Runner(gpo, context, DEV, Budget(max_queries=12))
    outcome = await runner.run()

    assert outcome.seed.score == 0.0
    assert outcome.best.score >= 0.5 > outcome.seed.score
    assert outcome.queries <= 12
    assert outcome.stopped in ("budget: queries", "converged")
    # Each step moved to its best new candidate; the trajectory lives in Chroma.
    stored = gpo.trajectory.store.trajectory("run-1")
    assert [r.text for r in stored] == [r.text for r in gpo.trajectory.entries]
    assert stored[0].text == SEED
    assert [r.dev_score for r in stored] == sorted(r.dev_score for r in stored)
    assert len(stored) == outcome.steps + 1 or outcome.stopped == "budget: queries"
    # Every candidate the runner scored is in the main store, with GPO's facts in meta.
    proposed = [s for s in outcome.history if s.candidate.source == "gpo"]
    assert proposed
    assert all({"edit_distance", "step_size", "rule"} <= set(s.candidate.meta) for s in proposed)
    assert len(context.store.scored("sentiment", run="run-1")) == outcome.queries
    assert gpo.rejections


async def test_end_to_end_stops_at_the_end_of_the_schedule(make_context):
    context = make_context(improving_proposer(), total_steps=2)
    outcome = await Runner(GPO(context), context, DEV, Budget(max_queries=100)).run()
    assert outcome.stopped == "converged"
    assert outcome.steps == 2  # then ask() returned nothing
    assert outcome.best.score == 0.5


# --------------------------------------------------------------------------- resume


async def test_state_round_trip_resumes_to_the_same_next_step(make_context):
    context = make_context(improving_proposer())
    gpo = GPO(context)
    await start(gpo)
    await one_step(gpo)
    await one_step(gpo)
    state = json.loads(json.dumps(gpo.state_dict()))
    assert state["step"] == 2
    assert state["current"] == gpo.current
    assert len(state["trajectory_ids"]) == 3
    assert state["rejections"] == gpo.rejections

    restored = GPO(dataclasses.replace(context, rng=random.Random(99)))
    restored.load_state_dict(state)
    assert restored.state_dict() == state
    assert [(r.text, r.dev_score) for r in restored.trajectory.entries] == [
        (r.text, r.dev_score) for r in gpo.trajectory.entries
    ]
    # A new runner tells the seed first: a resumed GPO ignores it.
    await start(restored)
    assert restored.current == gpo.current

    # Same next ask; the samples come from the response cache, at no cost.
    calls = proposer_calls(context)
    expected = await gpo.ask()
    assert proposer_calls(context) == calls + 8
    again = await restored.ask()
    assert proposer_calls(context) == calls + 8
    assert restored.last_meta_prompt == gpo.last_meta_prompt
    assert [(c.text, c.meta) for c in again] == [(c.text, c.meta) for c in expected]


async def test_a_resumed_stalled_step_draws_the_same_operator_neighbours(make_context):
    context = make_context(scripted(tagged("Here is your new prompt:"), tagged("How to:")))
    gpo = GPO(context, GPOConfig(samples_per_step=4))
    await start(gpo)
    gpo.tell(await score(context, await gpo.ask()))
    assert gpo.stalled
    state = json.loads(json.dumps(gpo.state_dict()))

    restored = GPO(
        dataclasses.replace(context, rng=random.Random(99)), GPOConfig(samples_per_step=4)
    )
    restored.load_state_dict(state)
    await start(restored)
    expected, again = await gpo.ask(), await restored.ask()
    drawn = [c for c in expected if c.meta["rule"].startswith("fallback: operators")]
    assert len(drawn) == 2
    assert [c.key for c in again] == [c.key for c in expected]


async def test_load_state_rejects_inconsistent_state(make_context):
    context = make_context(improving_proposer())
    gpo = GPO(context)
    await start(gpo)
    state = gpo.state_dict()
    with pytest.raises(ValueError, match="missing"):
        GPO(context).load_state_dict({"step": 0})
    with pytest.raises(ValueError, match="current prompt"):
        GPO(context).load_state_dict({**state, "current": "something else"})
    with pytest.raises(ValueError, match="not in Chroma"):
        GPO(context).load_state_dict({**state, "trajectory_ids": ["nope@0"]})
