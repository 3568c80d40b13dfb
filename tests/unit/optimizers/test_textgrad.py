from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from dataclasses import FrozenInstanceError

import pytest

from memory.prompt_store import PromptStore
from memory.response_cache import ResponseCache
from optimizers.base import Candidate, OptimizerContext, Scored
from optimizers.budget import Budget
from optimizers.evaluation.chat_calls import Usage
from optimizers.evaluation.evaluator import EvalResult
from optimizers.evaluation.stats import Interval
from optimizers.evaluation.structured_prompt import StructuredPrompt
from optimizers.runner import Runner
from optimizers.selection.racing import RacingConfig
from optimizers.tasks.example import Example
from optimizers.textgrad import UCB1, TextGrad, TextGradConfig, collect_errors, run_ucb
from optimizers.textgrad.prompts import parse_critique
from tests.unit.optimizer_fixtures import make_context as context_on

SEED = "Answer the question."
GOOD = "Classify the review as positive or negative."
CRITIQUE = "The instruction never says the answer must be positive or negative."
SPEC = "Answer with exactly one of: negative, positive."

GOOD_WORDS = ("wonderful", "great", "moving")
BAD_WORDS = ("dreadful", "boring", "awful")


def reviews(prefix: str, n: int) -> tuple[Example, ...]:
    out = []
    for i in range(n):
        good = i % 2 == 0
        word = (GOOD_WORDS if good else BAD_WORDS)[i % 3]
        out.append(
            Example(
                id=f"{prefix}{i}",
                input=f"Review {prefix}{i}: the film was {word}.",
                targets=("positive" if good else "negative",),
            )
        )
    return tuple(out)


TRAIN = reviews("t", 24)
DEV = reviews("d", 12)


def task_rule(text: str) -> str:
    """Right only when the prompt names both labels; otherwise always 'positive' (50%)."""
    prompt, _, rest = text.partition("\n\nInput: ")
    review = rest.split("\nOutput:")[0]
    if "positive or negative" in prompt.lower():
        return "positive" if any(w in review for w in GOOD_WORDS) else "negative"
    return "positive"


def is_gradient(text: str) -> bool:
    return "reasons why the instruction" in text


def is_edit(text: str) -> bool:
    return "What is wrong with the instruction" in text


def is_rewrite(text: str) -> bool:
    return "Write one improved instruction for the same task" in text


def is_paraphrase(text: str) -> bool:
    return text.startswith("Rewrite the following instruction")


def improving_proposer() -> Callable[[str], str]:
    """Critiques, and fixes the prompt when shown a missed 'negative' (a new variant each call)."""
    counter = itertools.count(1)

    def rule(text: str) -> str:
        if is_gradient(text):
            return CRITIQUE
        n = next(counter)
        if is_edit(text) and "Expected output: negative" in text:
            return f"Sure! <START>{GOOD} Variant {n}.<END>"
        return f"<START>Answer the question, variant {n}.<END>"

    return rule


@pytest.fixture
def store(tmp_path, bundled_embedder):
    with PromptStore.embedded(tmp_path / "store", bundled_embedder) as opened:
        yield opened


@pytest.fixture
def make_context(tmp_path, store, bundled_embedder):
    def build(
        proposer_rule: Callable[[str], str],
        *,
        task: Callable[[str], str] = task_rule,
        train: tuple[Example, ...] = TRAIN,
        directives: tuple[str, ...] = (),
        total_steps: int = 4,
        seed: int = 0,
        cache_name: str = "cache.sqlite",
    ) -> OptimizerContext:
        return context_on(
            store,
            bundled_embedder,
            task_rule=task,
            proposer_rule=proposer_rule,
            seed_prompt=SEED,
            train=train,
            total_steps=total_steps,
            seed=seed,
            directives=directives,
            dev_size=len(DEV),
            cache=ResponseCache(tmp_path / cache_name),
        )

    return build


def proposer_calls(context: OptimizerContext) -> list[str]:
    return context.proposer.backend.model.calls


async def dev_scored(context: OptimizerContext, candidates: list[Candidate]) -> list[Scored]:
    """What the runner would tell: dev scores (used in tests that drive ask/tell by hand)."""
    return [
        Scored(c, await context.evaluator.evaluate(c.text, DEV, split="dev")) for c in candidates
    ]


def beam_texts(optimizer: TextGrad) -> list[tuple[str, float]]:
    return [(parts.text, score) for parts, score in optimizer.beam]


async def start(context: OptimizerContext, config: TextGradConfig | None = None) -> TextGrad:
    optimizer = TextGrad(context, config)
    seed = Candidate(text=SEED, source="seed", step=0)
    optimizer.tell(await dev_scored(context, [seed]))
    return optimizer


# -------------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    "bad",
    [
        {"minibatch_size": 0},
        {"max_errors": -1},
        {"edits_per_gradient": 1.5},
        {"beam_width": True},
        {"select_per_round": 0},
        {"ucb_pulls_per_arm": 0},
        {"ucb_minibatch_size": 0},
        {"rounds": 0},
        {"ucb_c": -1.0},
        {"ucb_c": float("nan")},
        {"paraphrase": "yes"},
        {"feedback": "labels"},
    ],
)
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        TextGradConfig(**bad)


def test_config_is_frozen_and_derives_sizes():
    config = TextGradConfig(minibatch_size=6)
    assert config.pull_size == 6
    assert TextGradConfig(ucb_minibatch_size=3).pull_size == 3
    with pytest.raises(FrozenInstanceError):
        config.beam_width = 2  # type: ignore[misc]


def test_needs_train_examples_and_rounds(make_context):
    with pytest.raises(ValueError, match="train examples"):
        TextGrad(make_context(improving_proposer(), train=()))
    with pytest.raises(ValueError, match="at least one round"):
        TextGrad(make_context(improving_proposer(), total_steps=0))
    optimizer = TextGrad(
        make_context(improving_proposer(), total_steps=0), TextGradConfig(rounds=2)
    )
    assert optimizer.rounds == 2


# ------------------------------------------------------------------ errors and meta-prompts


async def test_collect_errors_keeps_failures_only_up_to_the_limit(make_context):
    context = make_context(improving_proposer())
    result = await context.evaluator.evaluate(SEED, TRAIN[:8], split="train")
    errors = collect_errors(result, 3)
    assert len(errors) == 3  # 4 negatives were missed, 3 asked for
    assert all(e.expected == "negative" and e.got == "positive" for e in errors)
    assert {e.input for e in errors} <= {ex.input for ex in TRAIN[:8] if ex.target == "negative"}
    assert collect_errors(result, 10) == collect_errors(result, 4)
    perfect = await context.evaluator.evaluate(GOOD, TRAIN[:8], split="train")
    assert collect_errors(perfect, 4) == []


async def test_gradient_and_edit_prompts_show_errors_critique_and_constraints(make_context):
    directives = ("at most 30 words", "mention the labels")
    context = make_context(improving_proposer(), directives=directives)
    optimizer = await start(context, TextGradConfig(minibatch_size=8, max_errors=2))
    candidates = await optimizer.ask()

    calls = proposer_calls(context)
    gradients = [c for c in calls if is_gradient(c)]
    edits = [c for c in calls if is_edit(c)]
    assert len(gradients) == 1
    assert len(edits) == 2  # edits_per_gradient independent samples
    for text in (gradients[0], edits[0]):
        assert f'"{SEED}"' in text
        assert text.count("Expected output: negative") == 2  # max_errors, all missed negatives
        assert text.count("Model output: positive") == 2
        assert "Input: Review t" in text
    assert CRITIQUE in edits[0]
    assert "<START>" in edits[0]
    assert "<END>" in edits[0]
    for directive in directives:
        assert f"- {directive}" in edits[0]
        assert directive not in gradients[0]

    assert candidates, "the fake proposer fixes the prompt"
    meta = candidates[0].meta
    assert candidates[0].source == "textgrad"
    assert candidates[0].parents == (SEED,)
    assert meta["parent"] == SEED
    assert meta["critique"] == CRITIQUE
    assert meta["n_errors"] == 2
    assert meta["parse_rule"] == "tags"
    assert meta["feedback"] == "errors"
    json.dumps(meta)  # the runner emits it in events


def test_parse_critique_is_tolerant():
    assert parse_critique("") == ""
    assert parse_critique("  \n ") == ""
    assert (
        parse_critique("<START>too vague<END> and <START>no labels<END>") == "too vague\nno labels"
    )
    assert parse_critique("<START>unclosed reason") == "unclosed reason"
    assert parse_critique("a\n\n  b   c") == "a\nb c"
    assert len(parse_critique("x" * 5000)) <= 1200


async def test_no_errors_skips_the_gradient_and_records_it(make_context):
    context = make_context(improving_proposer())
    optimizer = TextGrad(context, TextGradConfig(operator_fallback=False))
    optimizer.tell(await dev_scored(context, [Candidate(text=GOOD, source="seed", step=0)]))
    assert await optimizer.ask() == []  # perfect on every minibatch, every round
    assert proposer_calls(context) == []
    assert len(optimizer.rejections) == optimizer.rounds
    assert all(r["stage"] == "gradient" for r in optimizer.rejections)
    assert all(r["reason"].startswith("skipped: no errors") for r in optimizer.rejections)
    assert [entry["errors"] for entry in optimizer.log] == [[0]] * optimizer.rounds


# -------------------------------------------------------------------------------- junk replies


async def test_junk_and_untagged_replies_are_recorded_not_fatal(make_context):
    replies = itertools.cycle(
        [
            "ok",  # too short
            "",  # empty
            "<START> <END>",  # empty tags
            f"Here is the new prompt: {GOOD}",  # no tags at all: plain
            "boom",  # the request fails
            f"<START>{GOOD} Be brief.",  # no closing tag
        ]
    )

    def rule(text: str) -> str:
        if is_gradient(text):
            return "   "  # an empty critique: edits go ahead from the errors alone
        reply = next(replies)
        if reply == "boom":
            raise RuntimeError("HTTP 400: request rejected")
        return reply

    context = make_context(rule)
    optimizer = await start(context, TextGradConfig(edits_per_gradient=6, select_per_round=6))
    candidates = await optimizer.ask()

    assert sorted(c.meta["parse_rule"] for c in candidates) == ["open tag", "plain"]
    assert {c.text for c in candidates} == {GOOD, f"{GOOD} Be brief."}
    reasons = [r["reason"] for r in optimizer.rejections]
    assert any("empty critique; editing from the errors alone" in r for r in reasons)
    assert any("fewer than 2 words" in r for r in reasons)
    assert any(r == "empty reply" for r in reasons)
    assert any(r.startswith("call failed") and "HTTP 400" in r for r in reasons)
    edit_rejections = [r for r in optimizer.rejections if r["stage"] == "edit"]
    assert len(edit_rejections) == 4
    assert all(r["parent"] == SEED and r["round"] == 1 for r in optimizer.rejections)
    assert "(no reasons were given" in next(c for c in proposer_calls(context) if is_edit(c))
    json.dumps(optimizer.rejections)


async def test_all_junk_spends_rounds_then_stops(make_context):
    context = make_context(lambda text: "???")
    optimizer = await start(context, TextGradConfig(rounds=3, operator_fallback=False))
    assert await optimizer.ask() == []
    assert optimizer.step == 3
    assert len(optimizer.log) == 3
    # 3 rounds x (1 gradient, kept as critique '???', + 2 unparseable edits)
    assert len(proposer_calls(context)) == 9
    assert len(optimizer.rejections) == 6
    assert await optimizer.ask() == []  # nothing left: no more calls
    assert len(proposer_calls(context)) == 9


async def test_unchanged_and_duplicate_edits_are_rejected(make_context):
    def rule(text: str) -> str:
        return CRITIQUE if is_gradient(text) else f"<START>{SEED}<END>"

    context = make_context(rule)
    optimizer = await start(context, TextGradConfig(rounds=1, operator_fallback=False))
    assert await optimizer.ask() == []
    assert [r["reason"] for r in optimizer.rejections] == ["unchanged: same as its parent"] * 2


async def test_a_round_of_junk_falls_back_on_operator_neighbours(make_context):
    context = make_context(lambda text: "???")
    optimizer = await start(context, TextGradConfig(rounds=3))
    candidates = await optimizer.ask()
    assert candidates
    assert optimizer.step == 1
    train_ids = {example.id for example in context.train}
    for candidate in candidates:
        assert candidate.meta["rule"].startswith("fallback: operators")
        assert {demo.id for demo in candidate.parts.demos} <= train_ids


async def test_paraphrases_expand_each_edit(make_context):
    def rule(text: str) -> str:
        if is_gradient(text):
            return CRITIQUE
        if is_paraphrase(text):
            return "<START>Say whether the review is positive or negative.<END>"
        return f"<START>{GOOD}<END>"

    context = make_context(rule)
    optimizer = await start(context, TextGradConfig(paraphrase=True, select_per_round=4))
    candidates = await optimizer.ask()
    kinds = {c.meta["kind"]: c for c in candidates}
    assert set(kinds) == {"edit", "paraphrase"}  # the second edit and paraphrase are duplicates
    assert kinds["paraphrase"].meta["paraphrase_of"] == GOOD
    assert kinds["paraphrase"].parents == (SEED,)
    # The two identical edits are paraphrased once.
    assert sum(is_paraphrase(c) for c in proposer_calls(context)) == 1


# -------------------------------------------------------------------------------- UCB and beam


async def test_ucb_pulls_every_arm_and_finds_the_best():
    rng = random.Random(0)
    means = [0.2, 0.3, 0.8, 0.25, 0.1]
    pulls: list[tuple[int, int]] = []

    async def pull(arm: int, t: int) -> float:
        pulls.append((arm, t))
        return float(rng.random() < means[arm])

    bandit = await run_ucb(len(means), pull, total_pulls=40, c=1.0)
    assert [arm for arm, _ in pulls[:5]] == [0, 1, 2, 3, 4]  # a sweep first
    assert [t for _, t in pulls] == list(range(40))
    assert all(count >= 1 for count in bandit.counts)
    assert bandit.total == 40
    assert bandit.ranking()[0] == 2
    assert bandit.counts[2] == max(bandit.counts)


async def test_ucb_budget_never_below_one_pull_per_arm():
    async def pull(arm: int, t: int) -> float:
        return 0.5

    bandit = await run_ucb(3, pull, total_pulls=1, c=2.0)
    assert bandit.counts == [1, 1, 1]
    with pytest.raises(ValueError, match="at least one arm"):
        UCB1(0)


def test_ucb1_rule():
    bandit = UCB1(2, c=0.0)
    assert bandit.select() == 0
    bandit.update(0, 1.0)
    assert bandit.select() == 1  # unpulled arms first
    bandit.update(1, 0.0)
    assert bandit.select() == 0  # c=0: pure exploitation
    assert bandit.ranking() == [0, 1]
    explorer = UCB1(2, c=10.0, counts=[10, 1], sums=[9.0, 0.5])
    assert explorer.select() == 1  # the rarely pulled arm's bonus wins


async def test_ucb_selects_the_clearly_better_candidate_on_train(make_context):
    variants = itertools.cycle(
        [
            "<START>Reply with positive, whatever the review says.<END>",
            "<START>Read the review, then answer.<END>",
            f"<START>{GOOD}<END>",
            "<START>Answer with one word.<END>",
        ]
    )

    def rule(text: str) -> str:
        return CRITIQUE if is_gradient(text) else next(variants)

    context = make_context(rule)
    config = TextGradConfig(edits_per_gradient=4, select_per_round=1, ucb_pulls_per_arm=3)
    optimizer = await start(context, config)
    seen_dev = context.evaluator.examples_seen["dev"]
    candidates = await optimizer.ask()

    assert [c.text for c in candidates] == [GOOD]
    assert candidates[0].meta["ucb_mean"] == 1.0
    assert candidates[0].meta["ucb_pulls"] >= 1
    assert optimizer.log[-1]["drafts"] == 4
    assert optimizer.log[-1]["pulls"] == 12
    # 1 minibatch for errors + 12 pulls, 8 examples each; never dev
    assert context.evaluator.examples_seen["dev"] == seen_dev
    assert context.evaluator.examples_seen["train"] == 13 * 8


def told(prompt: str | StructuredPrompt, score: float) -> Scored:
    """A dev score as the runner would tell it (the examples do not matter to tell())."""
    parts = StructuredPrompt.plain(prompt) if isinstance(prompt, str) else prompt
    candidate = Candidate.structured(parts, source="user", step=1)
    dev = EvalResult(
        prompt=candidate.text,
        split="dev",
        template="inline",
        metric="exact",
        examples=(),
        mean=score,
        interval=Interval(score, score, 0.95),
        usage=Usage(),
        wall_time_s=0.0,
    )
    return Scored(candidate, dev)


async def test_beam_keeps_the_best_dev_scores_and_expands_them_all(make_context):
    context = make_context(improving_proposer())
    optimizer = await start(context, TextGradConfig(beam_width=3))
    optimizer.tell([told("A b", 0.7), told("C d", 0.9), told("E f", 0.7)])
    assert beam_texts(optimizer) == [("C d", 0.9), ("A b", 0.7), ("E f", 0.7)]  # earlier wins
    optimizer.tell([told("G h", 0.95), told(" A  b", 0.7)])  # the same prompt again, reused
    assert beam_texts(optimizer) == [("G h", 0.95), ("C d", 0.9), ("A b", 0.7)]
    assert optimizer.known == {SEED: 0.5, "A b": 0.7, "C d": 0.9, "E f": 0.7, "G h": 0.95}

    await optimizer.ask()
    parents = {text.split('"')[1] for text in proposer_calls(context) if is_gradient(text)}
    assert parents == {"G h", "C d", "A b"}


async def test_edits_rewrite_the_instruction_and_keep_the_other_parts(make_context):
    context = make_context(improving_proposer())
    optimizer = await start(context, TextGradConfig(rounds=1, beam_width=1, select_per_round=4))
    best = StructuredPrompt.plain(SEED).with_parts("output_spec", output_spec=SPEC)
    optimizer.tell([told(best, 0.6)])
    task_calls = context.evaluator.caller.backend.model.calls
    before = len(task_calls)  # the seed's dev scoring
    candidates = await optimizer.ask()

    edits = [c for c in candidates if c.meta.get("kind") == "edit"]
    assert edits
    for candidate in edits:
        assert candidate.parts.output_spec == SPEC
        assert candidate.parts.instruction.startswith(GOOD)
        assert candidate.parents == (best.text,)
    # The errors come from the whole prompt; the critique and the edit see its instruction.
    assert task_calls[before:]
    assert all(SPEC in call for call in task_calls[before:])
    asked = [call for call in proposer_calls(context) if is_gradient(call) or is_edit(call)]
    assert asked
    assert not any(SPEC in call for call in asked)


async def test_after_a_round_that_did_not_improve_operator_neighbours_join_the_drafts(
    make_context,
):
    context = make_context(improving_proposer())
    optimizer = await start(context, TextGradConfig(select_per_round=2))
    first = await optimizer.ask()
    assert all(c.meta.get("rule") is None for c in first)  # drafts only: nothing stalled yet
    optimizer.tell([told(c.parts, 0.0) for c in first])  # worse than the seed's 0.5
    assert optimizer.stalled
    second = await optimizer.ask()
    rules = [c.meta.get("rule") for c in second]
    assert rules.count("fallback: operators (no usable proposal)") == 1  # half of 2
    assert len(second) == 3
    train_ids = {example.id for example in context.train}
    assert all({d.id for d in c.parts.demos} <= train_ids for c in second)
    optimizer.tell([told(second[0].parts, 0.9)])
    assert not optimizer.stalled


# ------------------------------------------------------------------------ through the runner


async def test_end_to_end_improves_within_budget_and_never_scores_dev(make_context):
    context = make_context(improving_proposer(), total_steps=6)
    optimizer = TextGrad(context)
    outcome = await Runner(optimizer, context, DEV, Budget(max_queries=5)).run()

    assert outcome.seed.score == 0.5
    assert outcome.best.score == 1.0 > outcome.seed.score
    assert outcome.best.candidate.source == "textgrad"
    assert GOOD in outcome.best.candidate.text
    assert outcome.queries <= 5
    assert outcome.stopped == "budget: queries"
    seen = context.evaluator.examples_seen
    assert set(seen) == {"train", "dev"}
    assert seen["dev"] == outcome.queries * len(DEV)  # every dev evaluation is a runner query
    assert seen["train"] > 0
    scored = [s for s in outcome.history if s.candidate.source == "textgrad"]
    assert scored
    assert all(s.candidate.meta["parse_rule"] for s in scored)
    assert all(s.candidate.meta["n_errors"] >= 1 for s in scored)
    assert context.store.count() == outcome.queries
    assert optimizer.beam[0][1] == 1.0


async def test_no_feedback_ablation_runs_without_errors_or_critique(make_context):
    context = make_context(improving_proposer(), total_steps=3)
    optimizer = TextGrad(context, TextGradConfig(feedback="none"))
    outcome = await Runner(optimizer, context, DEV, Budget(max_queries=5)).run()

    calls = proposer_calls(context)
    assert calls
    assert all(is_rewrite(c) for c in calls)
    assert not any("Expected output" in c for c in calls)
    assert outcome.queries <= 5
    assert len(outcome.history) > 1
    assert all(s.candidate.meta["feedback"] == "none" for s in outcome.history[1:])
    assert all("critique" not in s.candidate.meta for s in outcome.history[1:])
    assert context.evaluator.examples_seen["dev"] == outcome.queries * len(DEV)


async def test_state_round_trip_resumes_the_same_run(make_context, tmp_path):
    def rule(text: str) -> str:
        if is_gradient(text):
            return CRITIQUE
        return f"<START>{GOOD} ({len(text) % 7})<END>" if "negative" in text else "<START>x y<END>"

    config = TextGradConfig(edits_per_gradient=3, select_per_round=2)
    context = make_context(rule)
    first = await start(context, config)
    first.tell(await dev_scored(context, await first.ask()))
    first.tell(
        [told(StructuredPrompt.plain(SEED).with_parts("output_spec", output_spec=SPEC), 0.99)]
    )
    first.rejections.append({"round": 1, "stage": "edit", "reason": "test", "reply": ""})
    state = json.loads(json.dumps(first.state_dict()))

    resumed = TextGrad(make_context(rule, seed=99, cache_name="other.sqlite"), config)
    resumed.load_state_dict(state)
    assert resumed.state_dict() == first.state_dict()
    assert resumed.step == 1
    assert resumed.beam == first.beam

    nxt, again = await first.ask(), await resumed.ask()
    assert [c.text for c in nxt] == [c.text for c in again]
    assert first.rng.getstate() == resumed.rng.getstate()


@pytest.mark.parametrize("max_calls", [30, 60, 120])
async def test_a_call_budget_is_kept_although_asks_evaluate_on_train(make_context, max_calls):
    context = make_context(improving_proposer(), total_steps=6)
    optimizer = TextGrad(context)
    runner = Runner(optimizer, context, DEV, Budget(max_calls=max_calls), racing=RacingConfig())
    outcome = await runner.run()

    if max_calls > 30:
        assert context.evaluator.examples_seen["train"] > 0  # asks paid for train evaluations
    assert runner.search.calls <= max_calls
    assert outcome.stopped == "budget: calls"
    assert len(outcome.history) > 1  # and left calls to score what they proposed
