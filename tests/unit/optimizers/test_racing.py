"""Racing: candidates scored on growing dev blocks, clear losers dropped early, budgets kept."""

import random
import re

import pytest

from memory.prompt_store import PromptStore
from memory.response_cache import ResponseCache
from optimizers.base import Candidate, Optimizer, OptimizerContext, Scored
from optimizers.budget import Budget
from optimizers.evaluation.chat_calls import ChatCaller, Usage
from optimizers.evaluation.evaluator import EvalResult, Evaluator, ExampleResult
from optimizers.evaluation.metrics import get_metric
from optimizers.evaluation.stats import mean_with_ci
from optimizers.events import CandidateScored, Raced
from optimizers.outcome import RunOutcome
from optimizers.runner import Runner
from optimizers.search import Search
from optimizers.selection.racing import RacingConfig, drop_reason
from optimizers.tasks.example import Example
from tests.fakes import HashEmbedder, fake_backend
from tests.unit.optimizer_fixtures import ScriptedOptimizer as Scripted

N_DEV = 40
DEV = tuple(
    Example(id=f"d{i}", input=f"item {i}", targets=("yes" if i % 2 == 0 else "no",))
    for i in range(N_DEV)
)
SEED = "Answer."


def task_model(message: str) -> str:
    """Right on every item with MARKER in the prompt; "maybe" with JUNK; else always "yes"."""
    item = int(re.findall(r"item (\d+)", message)[-1])
    truth = "yes" if item % 2 == 0 else "no"
    if "MARKER" in message:
        return truth
    if "JUNK" in message:
        return "maybe"
    if "LATE" in message:  # right on the first 5 items only, then wrong everywhere
        return truth if item < 5 else ("no" if truth == "yes" else "yes")
    return "yes"


@pytest.fixture
def context(tmp_path):
    store = PromptStore.embedded(tmp_path / "prompts", HashEmbedder())
    yield OptimizerContext(
        task="t",
        run="r1",
        seed_prompt=SEED,
        train=(),
        evaluator=Evaluator(ChatCaller(fake_backend(task_model)), metric=get_metric("exact")),
        proposer=ChatCaller(fake_backend(str.upper)),
        embedder=HashEmbedder(),
        store=store,
        rng=random.Random(0),
        dev_size=N_DEV,
        total_steps=5,
    )
    store.close()


def result(scores) -> EvalResult:
    """A dev result with these per-example scores (examples d0, d1, ...)."""
    examples = tuple(
        ExampleResult(f"d{i}", f"item {i}", ("yes",), "", float(s), False)
        for i, s in enumerate(scores)
    )
    mean, interval = mean_with_ci([e.score for e in examples])
    return EvalResult("p", "dev", "inline", "exact", examples, mean, interval, Usage(), 0.0)


def paid(context) -> int:
    return context.evaluator.caller.usage.calls


# ------------------------------------------------------------------ the rule


def test_stages_double_up_to_all_of_dev():
    config = RacingConfig()
    assert config.stages(40) == [5, 10, 20, 40]
    assert config.stages(41) == [5, 10, 20, 40, 41]
    assert config.stages(25) == [5, 10, 20, 25]
    assert config.stages(10) == [5, 10]
    assert config.stages(6) == [5, 6]
    assert config.stages(5) == [5]
    assert config.stages(3) == [3]
    assert config.stages(1) == [1]
    assert RacingConfig(first_block=3, growth=3.0).stages(30) == [3, 9, 27, 30]
    assert RacingConfig(first_block=1, growth=1.1).stages(4) == [1, 2, 3, 4]  # always grows


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"first_block": 0}, "first_block"),
        ({"first_block": True}, "first_block"),
        ({"growth": 1.0}, "growth"),
        ({"z": -0.1}, "z must be"),
    ],
)
def test_bad_settings_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        RacingConfig(**bad)


def test_drop_reason_drops_all_zero_candidates():
    why = drop_reason([0, 0, 0, 0, 0], [0, 0, 0, 0, 0], z=0.5)
    assert why == "scored 0 on the first 5 dev examples"
    assert drop_reason([0.0] * 5, [1.0] * 5, z=0.5) is not None


def test_drop_reason_drops_a_candidate_that_loses():
    incumbent = [1, 1, 1, 1, 0]
    why = drop_reason([1, 0, 0, 0, 0], incumbent, z=0.5)
    assert why is not None
    assert why.startswith("behind the best prompt by 3")
    # One loss on 5, nothing else: D = -1, S = 1, -1 < -0.5: dropped.
    assert drop_reason([1, 1, 1, 0, 0], incumbent, z=0.5) is not None
    # z is the slack: with z = 1, D = -S is not below -S.
    assert drop_reason([1, 1, 1, 0, 0], incumbent, z=1.0) is None


def test_drop_reason_keeps_a_winner_or_a_tie():
    incumbent = [1, 0, 1, 0, 0]
    assert drop_reason([1, 1, 1, 1, 0], incumbent, z=0.5) is None
    assert drop_reason(incumbent, incumbent, z=0.5) is None  # a tie is not clearly worse
    # two wins, two losses: D = 0
    assert drop_reason([0, 1, 0, 1, 1], [1, 0, 1, 0, 1], z=0.5) is None


def test_drop_reason_needs_paired_scores():
    with pytest.raises(ValueError, match="paired"):
        drop_reason([1, 0], [1, 0, 1], z=0.5)
    with pytest.raises(ValueError, match="paired"):
        drop_reason([], [], z=0.5)


# ------------------------------------------------------------------ through Search


async def test_a_junk_candidate_is_dropped_after_the_first_block(context):
    events = []
    search = Search(
        context, DEV, Budget(max_queries=20), racing=RacingConfig(), on_event=events.append
    )
    await search.start()
    assert search.outcome.seed.dev.n == N_DEV
    assert search.outcome.seed.complete
    before = paid(context)
    [junk] = await search.step(Scripted(context, [["JUNK answer."]]))
    assert paid(context) - before == 5 < N_DEV  # far cheaper than a full pass
    assert junk.dev.n == 5
    assert [r.example_id for r in junk.dev.examples] == ["d0", "d1", "d2", "d3", "d4"]
    assert not junk.complete
    assert junk.score == 0.0
    assert junk.candidate.meta["raced_out"] == "scored 0 on the first 5 dev examples"
    raced = [e for e in events if isinstance(e, Raced)]
    assert [(r.examples, r.of) for r in raced] == [(5, N_DEV)]
    scored = [e.entry for e in events if isinstance(e, CandidateScored)]
    assert (scored[-1].complete, scored[-1].examples) == (False, 5)
    assert search.outcome.queries == 2  # a raced-out candidate is still one query
    assert search.outcome.best_number == 0


async def test_a_losing_candidate_is_dropped_at_the_block_where_it_falls_behind(context):
    search = Search(context, DEV, Budget(max_queries=20), racing=RacingConfig())
    [late] = await search.step(Scripted(context, [["LATE answer."]]))
    # Right on items 0-4 (two wins over the seed), then wrong: on items 5-9 it loses
    # 6 and 8 (D = 0, kept), on 10-19 five more (D = -5 < -0.5 * 3): dropped after 20.
    assert late.dev.n == 20
    assert not late.complete
    assert late.candidate.meta["raced_out"].startswith("behind the best prompt")
    assert paid(context) == N_DEV + 20


async def test_a_winning_candidate_is_scored_on_all_of_dev_and_becomes_best(context):
    events = []
    search = Search(
        context, DEV, Budget(max_queries=20), racing=RacingConfig(), on_event=events.append
    )
    before_seed = paid(context)
    await search.start()
    assert paid(context) - before_seed == N_DEV
    [winner] = await search.step(Scripted(context, [["MARKER answer."]]))
    assert winner.complete
    assert winner.dev.n == N_DEV
    assert winner.score == 1.0
    assert [r.example_id for r in winner.dev.examples] == [e.id for e in DEV]
    assert "raced_out" not in winner.candidate.meta
    assert paid(context) == 2 * N_DEV  # the blocks add up to one pass, nothing twice
    raced = [e.examples for e in events if isinstance(e, Raced)]
    assert raced[:3] == [5, 10, 20]  # checked after every block (the last one may be silent)
    assert not any(e.dropped for e in events if isinstance(e, Raced))
    assert search.outcome.best.candidate.text == "MARKER answer."
    assert search.outcome.best_number == 1


async def test_an_incomplete_candidate_is_never_best(context):
    # The budget cuts the winner before the end of dev: a perfect partial score, yet not best.
    budget = Budget(max_calls=N_DEV + 17, max_queries=None)
    search = Search(context, DEV, budget, racing=RacingConfig())
    optimizer = Scripted(context, [["MARKER answer."]])
    outcome = await Runner.over(optimizer, search).run()
    assert search.calls <= N_DEV + 17
    cut = outcome.history[1]
    assert cut.candidate.text == "MARKER answer."
    assert 5 <= cut.dev.n <= 17
    assert (cut.complete, cut.score) == (False, 1.0)
    assert cut.score > outcome.seed.score
    assert not outcome.counts(1)
    assert outcome.counts(0)
    assert outcome.best_number == 0
    assert outcome.best is outcome.seed
    assert outcome.answer_number == 0


def test_counts_and_best_skip_incomplete_candidates():
    seed = Scored(Candidate(text="seed", source="seed", step=0), result([0, 1] * 5))
    partial = Scored(Candidate(text="p", source="s", step=1), result([1] * 5), complete=False)
    full = Scored(Candidate(text="f", source="s", step=1), result([1, 1] * 4 + [0, 1]))
    outcome = RunOutcome(seed=seed, history=[seed, partial, full])
    assert [outcome.counts(n) for n in range(3)] == [True, False, True]
    assert outcome.best_number == 2
    outcome.history.pop()
    assert outcome.best_number == 0


async def test_the_optimizer_is_told_partial_scores_as_incomplete(context):
    search = Search(context, DEV, Budget(max_queries=20), racing=RacingConfig())
    optimizer = Scripted(context, [["JUNK one.", "MARKER two."]])
    await search.step(optimizer)
    told = {s.candidate.text: (s.complete, s.dev.n) for s in optimizer.told}
    assert told == {SEED: (True, N_DEV), "JUNK one.": (False, 5), "MARKER two.": (True, N_DEV)}


async def test_a_raced_out_prompt_proposed_again_is_reused_and_stays_incomplete(context):
    search = Search(context, DEV, Budget(max_queries=20), racing=RacingConfig())
    await search.step(Scripted(context, [["JUNK one."]]))
    spent = paid(context)
    [again] = await search.step(Scripted(context, [["  JUNK   one. "]]))
    assert (again.reused, again.complete, again.dev.n) == (True, False, 5)
    assert paid(context) == spent


async def test_without_racing_every_candidate_gets_all_of_dev(context):
    search = Search(context, DEV, Budget(max_queries=20))
    [junk] = await search.step(Scripted(context, [["JUNK answer."]]))
    assert (junk.dev.n, junk.complete) == (N_DEV, True)
    assert paid(context) == 2 * N_DEV


@pytest.mark.parametrize("limit", [41, 45, 46, 57, 83, 100, 141])
async def test_racing_never_exceeds_a_call_budget(context, limit):
    search = Search(context, DEV, Budget(max_calls=limit, max_queries=None), racing=RacingConfig())
    batches = [["MARKER a.", "JUNK b."], ["LATE c.", "MARKER d."], ["JUNK e.", "MARKER f."]]
    outcome = await Runner.over(Scripted(context, batches), search).run()
    # The batches would need 190 calls in all: every limit here cuts the run short.
    assert search.calls == paid(context) <= limit
    assert search.calls > limit - RacingConfig().first_block  # all but less than one block
    assert outcome.stopped in ("budget: calls", "converged")
    for number, scored in outcome.numbered():
        assert scored.complete == (scored.dev.n == N_DEV)
        if not outcome.counts(number):
            assert number != outcome.best_number


async def test_snapshot_restore_of_a_raced_out_candidate_is_free(context, tmp_path):
    context.evaluator.caller.cache = ResponseCache(tmp_path / "cache.sqlite")
    search = Search(context, DEV, Budget(max_queries=20), racing=RacingConfig())
    await search.step(Scripted(context, [["JUNK one.", "LATE two.", "MARKER three."]]))
    snapshot = search.snapshot()
    sizes = [item["n"] for item in snapshot["history"]]
    assert sizes == [s.dev.n for s in search.outcome.history]
    assert sizes[0] == sizes[3] == N_DEV
    assert sizes[1] == 5
    assert 5 < sizes[2] < N_DEV  # LATE: raced out after a few blocks
    spent = paid(context)

    restored = Search(context, DEV, Budget(max_queries=20), racing=RacingConfig())
    await restored.restore(snapshot)
    assert paid(context) == spent  # every answer came from the cache
    history = restored.outcome.history
    assert [s.candidate.text for s in history] == [SEED, "JUNK one.", "LATE two.", "MARKER three."]
    assert [(s.dev.n, s.complete) for s in history] == [
        (N_DEV, True),
        (5, False),
        (sizes[2], False),
        (N_DEV, True),
    ]
    assert [s.score for s in history] == [s.score for s in search.outcome.history]
    assert restored.outcome.best_number == search.outcome.best_number == 3
    assert restored.calls == search.calls
    # The restored raced-out prompt, proposed again, is reused as it was: still free.
    [again] = await restored.step(Scripted(context, [["JUNK one."]]))
    assert (again.reused, again.complete, again.dev.n) == (True, False, 5)
    assert paid(context) == spent


class Endless(Optimizer):
    """Proposes a new prompt at every ask (as operator neighbours do), for at most 30 asks."""

    name = "endless"

    def __init__(self, context):
        super().__init__(context)
        self.asks = 0

    async def ask(self):
        self.asks += 1
        self.step += 1
        if self.asks > 30:
            return []
        return [Candidate(text=f"MARKER {self.asks}.", source="endless", step=self.step)]

    def tell(self, scored):
        pass


async def test_a_run_with_less_than_a_block_of_calls_left_stops_on_its_budget(context):
    search = Search(
        context, DEV, Budget(max_calls=N_DEV + 3, max_queries=None), racing=RacingConfig()
    )
    optimizer = Endless(context)
    outcome = await Runner.over(optimizer, search).run()
    assert search.calls <= N_DEV + 3
    assert outcome.stopped == "budget: calls"
    assert optimizer.asks <= 2


async def test_an_interrupt_ends_the_step_at_the_next_candidate_and_costs_no_budget(context):
    """A person's stop (from another thread) is not kept waiting for the step's last block."""
    search = Search(context, DEV, Budget(max_calls=1000), racing=RacingConfig())
    await search.start()
    texts = [f"MARKER {i}." for i in range(6)]
    optimizer = Scripted(context, [texts, ["MARKER again."]])
    interrupting = context.evaluator.evaluate

    async def evaluate(prompt, examples, split):
        found = await interrupting(prompt, examples, split=split)
        if prompt == "MARKER 1.":  # the second candidate's first block: the person says stop
            search.interrupt()
        return found

    context.evaluator.evaluate = evaluate
    before = paid(context)
    scored = await search.step(optimizer)
    assert [s.candidate.text for s in scored] == ["MARKER 0.", "MARKER 1."]  # kept, partial
    assert paid(context) - before == 10  # two first blocks of 5: nothing after the stop
    assert search.exhausted() is None  # an interrupt is not a spent budget
    assert search.allowance.for_ask().calls == 0  # and no ask may spend while it holds
    search.resume_steps()
    assert [s.candidate.text for s in await search.step(optimizer)] == ["MARKER again."]
