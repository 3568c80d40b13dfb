import random

import pytest

from memory.prompt_store import PromptStore
from optimizers.base import OptimizerContext
from optimizers.budget import Budget
from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.evaluation.evaluator import Evaluator
from optimizers.evaluation.metrics import get_metric
from optimizers.events import CandidateScored, Stopped
from optimizers.runner import Runner
from optimizers.search import Search
from optimizers.tasks.example import Example
from tests.fakes import fake_backend
from tests.unit.optimizer_fixtures import ScriptedOptimizer

DEV = tuple(Example(id=str(i), input=f"item {i}", targets=("yes",)) for i in range(10))


def task_model(text: str) -> str:
    """Right on a share of items that grows with the number of 'please' in the prompt."""
    pleases = text.count("please")
    item = int(text.split("item ")[1].split()[0])
    return "yes" if item < 3 * pleases else "no"


class Scripted(ScriptedOptimizer):
    """Keeps what it is told as one list a batch of (text, score, reused)."""

    def tell(self, scored):
        self.told.append([(s.candidate.text, s.score, s.reused) for s in scored])


@pytest.fixture
def context(tmp_path, bundled_embedder):
    evaluator = Evaluator(ChatCaller(fake_backend(task_model)), metric=get_metric("exact"))
    store = PromptStore.embedded(tmp_path / "prompts", bundled_embedder)
    yield OptimizerContext(
        task="t",
        run="r1",
        seed_prompt="Answer.",
        train=(),
        evaluator=evaluator,
        proposer=ChatCaller(fake_backend(str.upper)),
        embedder=bundled_embedder,
        store=store,
        rng=random.Random(0),
        dev_size=len(DEV),
        total_steps=5,
    )
    store.close()


async def test_scores_dedupes_records_and_finds_the_best(context):
    optimizer = Scripted(context, [["please answer.", "Answer."], ["please please answer."]])
    events = []
    outcome = await Runner(
        optimizer, context, DEV, Budget(max_queries=10), on_event=events.append
    ).run()
    assert outcome.stopped == "converged"
    assert outcome.best.candidate.text == "please please answer."
    assert outcome.best.score == pytest.approx(0.6)
    assert outcome.queries == 3  # the seed, and two new prompts; "Answer." again was free
    assert optimizer.told[1] == [("please answer.", 0.3, False), ("Answer.", 0.0, True)]
    assert [e.kind for e in events].count("scored") == 4
    assert isinstance(events[-1], Stopped)
    stored = {r.text: r.dev_score for r in context.store.trajectory("r1")}
    assert stored == {
        "Answer.": 0.0,
        "please answer.": 0.3,
        "please please answer.": pytest.approx(0.6),
    }
    assert context.evaluator.examples_seen == {"dev": 30}


async def test_query_budget_cuts_a_batch(context):
    optimizer = Scripted(context, [["a please", "b please", "c please", "d please"]])
    outcome = await Runner(optimizer, context, DEV, Budget(max_queries=3)).run()
    assert outcome.queries == 3
    assert outcome.stopped == "budget: queries"
    assert len(optimizer.told[1]) == 2


async def test_call_budget_and_stop_request(context):
    optimizer = Scripted(context, [[f"p{i} please"] for i in range(10)])
    outcome = await Runner(optimizer, context, DEV, Budget(max_queries=None, max_calls=25)).run()
    assert outcome.stopped == "budget: calls"
    assert outcome.queries == 3  # 10 calls per dev evaluation

    stops = iter([False, False, True])
    optimizer = Scripted(context, [[f"q{i} please"] for i in range(10)])
    outcome = await Runner(
        optimizer, context, DEV, Budget(max_queries=50), should_stop=lambda: next(stops, True)
    ).run()
    assert outcome.stopped == "stop requested"


def test_budget_needs_a_limit():
    with pytest.raises(ValueError, match="at least one limit"):
        Budget()
    assert Budget.default() == Budget(max_calls=250, max_seconds=210)  # the default run
    assert Budget.given() == Budget.default()
    assert Budget.given(30) == Budget(max_queries=30, max_calls=None)
    with pytest.raises(ValueError, match="positive"):
        Budget(max_queries=0)


async def test_an_optimizer_stuck_on_known_prompts_is_stopped(context):
    optimizer = Scripted(context, [["Answer."]] * 10)
    outcome = await Runner(optimizer, context, DEV, Budget(max_queries=5)).run()
    assert outcome.stopped == "no new candidates"
    assert outcome.steps == 3
    assert outcome.queries == 1


async def test_the_optimizers_own_reason_is_kept(context):
    optimizer = Scripted(context, [])
    optimizer.stopped = "gave up after 3 unusable steps"
    outcome = await Runner(optimizer, context, DEV, Budget(max_queries=5)).run()
    assert (outcome.stopped, outcome.stop_detail) == ("converged", "gave up after 3 unusable steps")


async def test_hard_constraints_are_never_scored_nor_best(context):
    context.directives = ("keep it under 4 words", "never mention cats")
    optimizer = Scripted(
        context,
        [["please please please answer now.", "please answer about cats", "please answer."]],
    )
    outcome = await Runner(optimizer, context, DEV, Budget(max_queries=10)).run()
    assert [r["text"] for r in outcome.rejected] == [
        "please please please answer now.",
        "please answer about cats",
    ]
    assert outcome.queries == 2  # seed + the one admissible candidate
    assert outcome.best.candidate.text == "please answer."


async def test_constraints_added_later_change_the_best(context):
    optimizer = Scripted(context, [["please please answer in many many words."]])
    runner = Runner(optimizer, context, DEV, Budget(max_queries=10))
    outcome = await runner.run()
    assert outcome.best.candidate.text.startswith("please please")
    outcome.constraints = outcome.constraints.with_directive("at most 3 words")
    assert outcome.best.candidate.text == "Answer."


async def test_search_switches_optimizers_and_tells_them_everything(context):
    first = Scripted(context, [["please answer."]])
    first.name = "first"
    second = Scripted(context, [["please please answer."]])
    second.name = "second"
    search = Search(context, DEV, Budget(max_queries=10))
    await search.step(first)
    await search.step(second)
    # The second optimizer was told the seed and what the first one found, before asking.
    assert [t for t, _, _ in second.told[0]] == ["Answer.", "please answer."]
    assert search.outcome.best.candidate.text == "please please answer."


async def test_snapshot_restore_rebuilds_without_paid_calls(context, tmp_path):
    from memory.response_cache import ResponseCache

    context.evaluator.caller.cache = ResponseCache(tmp_path / "cache.sqlite")
    search = Search(context, DEV, Budget(max_queries=10))
    await search.step(Scripted(context, [["please answer.", "Answer."]]))
    snapshot = search.snapshot()
    paid = context.evaluator.caller.usage.calls

    restored = Search(context, DEV, Budget(max_queries=10))
    await restored.restore(snapshot)
    assert context.evaluator.caller.usage.calls == paid  # all from the cache
    assert [s.candidate.text for s in restored.outcome.history] == [
        "Answer.",
        "please answer.",
        "Answer.",
    ]
    assert restored.outcome.history[2].reused
    assert restored.outcome.queries == search.outcome.queries == 2
    assert restored.calls == search.calls
    assert restored.outcome.best.score == search.outcome.best.score


async def scored_search(context, batches):
    """A search over ``batches`` ("please" count = score): #0 seed 0.0, then the batches."""
    search = Search(context, DEV, Budget(max_queries=20))
    optimizer = Scripted(context, batches)
    for _ in batches:
        await search.step(optimizer)
    return search, optimizer


async def test_numbers_are_history_indices_and_events_carry_them(context):
    events = []
    search = Search(context, DEV, Budget(max_queries=20), on_event=events.append)
    await search.step(Scripted(context, [["please a.", "Answer.", "please please b."]]))
    outcome = search.outcome
    assert [n for n, _ in outcome.numbered()] == [0, 1, 2, 3]
    assert outcome.candidate(2).reused  # a prompt scored again gets its own number
    numbered = [(e.number, e.entry.prompt) for e in events if isinstance(e, CandidateScored)]
    assert numbered == [(n, s.candidate.text) for n, s in outcome.numbered()]
    assert outcome.number_of("  please   please b. ") == 3
    assert outcome.number_of("never scored") is None
    with pytest.raises(
        LookupError, match=r"no candidate #4: numbers go from #0 \(the seed\) to #3"
    ):
        outcome.candidate(4)


async def test_roll_back_changes_only_which_candidate_counts_as_best(context):
    search, optimizer = await scored_search(
        context, [["please a."], ["please please please c."], ["please please b."]]
    )
    outcome = search.outcome
    assert outcome.best_number == 2
    assert outcome.roll_back(1).candidate.text == "please a."
    assert outcome.rolled_back == {2, 3}
    assert len(outcome.history) == 4  # nothing is forgotten
    # A later candidate counts again and can beat the rolled-back-to one.
    await search.step(Scripted(context, [["please please d."]]))
    assert outcome.best_number == 4
    # The optimizer was told every real score, rolled back or not.
    assert [t for batch in optimizer.told for t, _, _ in batch][-2:] == [
        "please please please c.",
        "please please b.",
    ]
    # Rolling back to a rolled-back candidate makes it count again.
    outcome.roll_back(2)
    assert outcome.rolled_back == {3, 4}
    assert outcome.best_number == 2
    with pytest.raises(LookupError, match="no candidate #9"):
        outcome.roll_back(9)


async def test_roll_back_to_a_candidate_that_breaks_a_rule_keeps_an_admissible_best(context):
    search, _ = await scored_search(
        context, [["please a."], ["please please b c d e."], ["please please please f g h i."]]
    )
    outcome = search.outcome
    outcome.constraints = outcome.constraints.with_directive("at most 3 words")
    outcome.roll_back(2)
    assert outcome.best_number == 1  # #2 breaks the rule, #1 is the best that still counts


async def test_accept_overrides_the_scores_but_not_the_rules(context):
    search, _ = await scored_search(context, [["please a."], ["please please please c d e."]])
    outcome = search.outcome
    assert outcome.accept(1).candidate.text == "please a."
    assert outcome.best.candidate.text == "please a."
    assert outcome.best_number == 1
    outcome.accepted = None
    outcome.constraints = outcome.constraints.with_directive("at most 3 words")
    with pytest.raises(ValueError, match=r"#2 breaks a rule: 6 words, the limit is 3"):
        outcome.accept(2)
    assert outcome.accepted is None


async def test_snapshot_keeps_rollback_and_acceptance(context, tmp_path):
    from memory.response_cache import ResponseCache

    context.evaluator.caller.cache = ResponseCache(tmp_path / "cache.sqlite")
    search, _ = await scored_search(context, [["please a."], ["please please b."]])
    search.outcome.roll_back(1)
    search.outcome.accept(2)
    restored = Search(context, DEV, Budget(max_queries=20))
    await restored.restore(search.snapshot())
    assert restored.outcome.rolled_back == {2}
    assert restored.outcome.accepted == 2
    # Checkpoints written before rollbacks existed restore with nothing rolled back.
    old = {k: v for k, v in search.snapshot().items() if k not in ("rolled_back", "accepted")}
    await restored.restore(old)
    assert (restored.outcome.rolled_back, restored.outcome.accepted) == (set(), None)
