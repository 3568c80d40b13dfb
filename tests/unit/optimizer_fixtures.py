"""An :class:`OptimizerContext` around fake models, for optimizer tests.

Tests under tests/unit/optimizers get the ``optimizer_context`` fixture from that
folder's conftest.py (a factory of contexts on one prompt store, see
:func:`context_factory`); elsewhere, make the fixture in the test module (importing a
fixture trips ruff's F811)::

    from tests.unit.optimizer_fixtures import DEV, context_factory, run_optimizer

    @pytest.fixture
    def optimizer_context(tmp_path, bundled_embedder):
        with context_factory(tmp_path, bundled_embedder) as factory:
            yield factory

    async def test_something(optimizer_context):
        context = optimizer_context(total_steps=10)
        outcome = await run_optimizer(MyOptimizer(context), context, queries=10)

The fake task model (:func:`sentiment_task_model`) is right more often when the prompt
holds certain words, so prompts have a real, deterministic score on :data:`DEV`:
"sentiment" → always right (1.0); "review" → right on half the items, "positive" on the
rest (0.75); anything else → "positive" always (0.5). The fake proposer
(:func:`proposer_model`) answers APE requests with an instruction from
:data:`INSTRUCTION_POOL` chosen by a stable hash of the request (so different demos
give different answers, and the same request the same answer), and paraphrase requests
with ``<START>{prompt} {a style word}<END>``. Both are pure functions of the request:
replies do not depend on call order.
"""

from __future__ import annotations

import dataclasses
import json
import random
import re
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from memory.embeddings import Embedder
from memory.prompt_store import PromptStore
from memory.response_cache import ResponseCache
from optimizers.base import Candidate, Optimizer, OptimizerContext, Scored
from optimizers.baselines.ape import APE, APEConfig
from optimizers.budget import Budget
from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.evaluation.evaluator import Evaluator
from optimizers.evaluation.metrics import get_metric
from optimizers.outcome import RunOutcome
from optimizers.propose.domain_config import DomainConfig
from optimizers.runner import Runner
from optimizers.tasks.example import Example
from tests.fakes import fake_backend

WORDS = {"positive": ["great", "lovely", "superb", "fine"], "negative": ["awful", "bad", "dull"]}


def _examples(prefix: str, n: int, start: int = 0) -> tuple[Example, ...]:
    out = []
    for i in range(start, start + n):
        label = "positive" if i % 2 == 0 else "negative"
        word = WORDS[label][i % len(WORDS[label])]
        out.append(Example(id=f"{prefix}{i}", input=f"item {i}: it was {word}", targets=(label,)))
    return tuple(out)


DEV = _examples("d", 8)
TRAIN = _examples("t", 12)
TEST = _examples("x", 16, start=40)  # held-out items for the diagnostics' test scores
SEED_PROMPT = "Answer the question."

INSTRUCTION_POOL = (
    "Classify the sentiment of the review as positive or negative.",
    "Decide whether the sentiment of the text is positive or negative.",
    "Read the review and say if it is positive or negative.",
    "Label each review with its overall feeling.",
    "Tell me what the sentiment of each sentence is.",
    "Say whether the review is good or bad.",
    "Judge the review.",
    "Write the output for the input.",
    "Use a coffee machine.",
    "Translate the sentence into French.",
    "Count the words in the sentence.",
    "Give the opposite of the word.",
    "Write a poem about the input.",
    "Summarise the input in one word.",
    "Answer with one word.",
    "Describe the item.",
    "Name the product in the input.",
    "Correct the grammar of the sentence.",
    "Make the sentence sound more polite.",
    "Find the verb in the sentence.",
    "Repeat the input back.",
    "Identify the language of the text.",
    "Explain the review to a child.",
    "Rate the review from one to five.",
    "Guess who wrote the review.",
    "List the nouns of the input.",
    "Rewrite the review as a question.",
    "Decide if the item is expensive.",
    "Spot the sarcasm in the review.",
    "Complete the sentence.",
    "Predict the next word of the input.",
    "Check whether the input is a complete sentence.",
)
"""Seven mention 'sentiment' or 'review' (they score above the seed); the rest do not."""

STYLE_WORDS = {"semantic meaning": "Be exact.", "different words": "Answer briefly.",
               "clearer": "Be precise.", "simply": "Keep it short."}  # fmt: skip


def prompt_of(message: str) -> str:
    """The prompt part of an inline-template message ("{prompt}\\n\\nInput: ...")."""
    return message.split("\n\nInput:")[0]


def sentiment_task_model(message: str) -> str:
    """Right on every item if the prompt says 'sentiment', on half if 'review'; else 'positive'."""
    prompt = prompt_of(message).lower()
    item = int(re.findall(r"item (\d+)", message)[-1])  # the input comes after any demos
    truth = "positive" if item % 2 == 0 else "negative"
    if "sentiment" in prompt or ("review" in prompt and item % 4 < 2):
        return truth
    return "positive"


def _stable_pick(text: str, options: tuple[str, ...]) -> str:
    return options[zlib.crc32(text.encode()) % len(options)]


def proposer_model(message: str) -> str:
    """APE requests: a pool instruction; paraphrase requests: the prompt plus a style word."""
    if "<START>" in message:
        prompt = message.split("\nInput: ", 1)[1].split("\n\nOutput:", 1)[0]
        word = next((w for key, w in STYLE_WORDS.items() if key in message), "Be careful.")
        return f"<START>{prompt} {word}<END>"
    return "The instruction was to " + _stable_pick(message, INSTRUCTION_POOL).lower()


ContextFactory = Callable[..., OptimizerContext]


def make_context(
    store: PromptStore,
    embedder: Embedder,
    *,
    task_rule: Callable[[str], str] = sentiment_task_model,
    proposer_rule: Callable[[str], str] = proposer_model,
    seed_prompt: str = SEED_PROMPT,
    train: tuple[Example, ...] = TRAIN,
    total_steps: int = 10,
    seed: int = 0,
    run: str = "r1",
    directives: tuple[str, ...] = (),
    dev_size: int = len(DEV),
    cache: ResponseCache | None = None,
) -> OptimizerContext:
    """A context with fresh fake models (no response cache unless given: every call counts)."""
    return OptimizerContext(
        task="sentiment",
        run=run,
        seed_prompt=seed_prompt,
        train=train,
        evaluator=Evaluator(ChatCaller(fake_backend(task_rule), cache), metric=get_metric("exact")),
        proposer=ChatCaller(fake_backend(proposer_rule, role="proposer"), cache),
        embedder=embedder,
        store=store,
        rng=random.Random(seed),
        dev_size=dev_size,
        total_steps=total_steps,
        directives=directives,
    )


@contextmanager
def context_factory(tmp_path: Path, embedder: Embedder) -> Iterator[ContextFactory]:
    """``factory(**overrides)`` making contexts (see :func:`make_context`) on one prompt store."""
    store = PromptStore.embedded(tmp_path / "prompts", embedder)

    def factory(**overrides: object) -> OptimizerContext:
        return make_context(store, embedder, **overrides)  # type: ignore[arg-type]

    try:
        yield factory
    finally:
        store.close()


async def run_optimizer(
    optimizer: Optimizer, context: OptimizerContext, queries: int
) -> RunOutcome:
    """A whole run on :data:`DEV` with a budget of ``queries`` dev queries."""
    return await Runner(optimizer, context, DEV, Budget(max_queries=queries)).run()


async def run_and_restore(
    make: Callable[[OptimizerContext], Optimizer],
    optimizer_context: ContextFactory,
    queries: int,
    *,
    total_steps: int,
    seed: int,
) -> tuple[OptimizerContext, Optimizer, Optimizer]:
    """Runs ``make(context)`` for ``queries`` queries, then loads its state (through JSON)
    into a twin made on a context with another rng ``seed``; the twin's state must read
    back unchanged. Returns the first context, the optimizer and its restored twin.
    """
    context = optimizer_context(total_steps=total_steps)
    original = make(context)
    await run_optimizer(original, context, queries)
    state = json.loads(json.dumps(original.state_dict()))
    restored = make(optimizer_context(total_steps=total_steps, seed=seed))
    restored.load_state_dict(state)
    assert json.dumps(restored.state_dict()) == json.dumps(state)
    return context, original, restored


def small_ape(context: OptimizerContext) -> APE:
    """APE over a 4-prompt domain in 3 steps: the optimizer the diagnostics re-run."""
    return APE(dataclasses.replace(context, total_steps=3), APEConfig(domain=DomainConfig(size=4)))


class ScriptedOptimizer(Optimizer):
    """Proposes the given batches of texts, one batch an ask, then nothing.

    ``told`` keeps every :class:`Scored` it is told, in order (a subclass may keep other
    records by overriding :meth:`tell`).
    """

    name = "scripted"

    def __init__(self, context: OptimizerContext, batches: Iterable[Sequence[str]]) -> None:
        super().__init__(context)
        self.batches = list(batches)
        self.told: list = []

    async def ask(self) -> list[Candidate]:
        self.step += 1
        if not self.batches:
            return []
        return [Candidate(text=t, source="scripted", step=self.step) for t in self.batches.pop(0)]

    def tell(self, scored: Sequence[Scored]) -> None:
        self.told += scored


def assert_honest_run(outcome: RunOutcome, max_queries: int) -> None:
    """Within budget, and no prompt proposed twice (every score is a fresh query)."""
    assert outcome.queries <= max_queries
    keys = [scored.candidate.key for scored in outcome.history]
    assert len(keys) == len(set(keys)), "a scored prompt was proposed again"
    assert not any(scored.reused for scored in outcome.history)
    assert outcome.queries == len(outcome.history)


def assert_beats_the_seed_within_budget(
    outcome: RunOutcome, max_queries: int, source: str
) -> list[Scored]:
    """The whole budget spent honestly, a prompt better than the seed found, and every
    prompt after the seed proposed as ``source``; returns those prompts' scores."""
    assert outcome.stopped == "budget: queries"
    assert_honest_run(outcome, max_queries)
    assert outcome.best.score > outcome.seed.score
    picked = outcome.history[1:]
    assert all(s.candidate.source == source for s in picked)
    return picked


# The parts each structure operator changes (a demo drop that leaves none changes the layout)
OPERATOR_CHANGES = {
    "spec": [["output_spec"]],
    "demo_add": [["demos"]],
    "demo_drop": [["demos"], ["demos", "template"]],
    "demo_swap": [["demos"]],
    "layout": [["template"]],
    "phrase_delete": [["instruction"]],
    "phrase_swap": [["instruction"]],
    "phrase_add": [["instruction"]],
    "phrase_lead_in": [["instruction"]],
}
