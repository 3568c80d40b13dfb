"""Fake models and data for driving the agent graph in unit tests.

Tests under tests/unit/graph get the ``data_file`` (:func:`write_items`) and ``runtime``
(:func:`fake_runtime`) fixtures from that folder's conftest.py; elsewhere, make them in
the test module (importing a fixture trips ruff's F811).

The task model is :func:`~tests.unit.optimizer_fixtures.sentiment_task_model` and the
optimizer model :func:`~tests.unit.optimizer_fixtures.proposer_model`; the planner is
scripted with :class:`ScriptedPlanner`.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from pathlib import Path

from agent.graph.model_reading import MessageKind
from agent.graph.planner import PlannerDecision
from agent.llm.runtime import ModelRuntime, RuntimeSettings
from agent.llm.settings import ModelSettings
from agent.run.request import OptimizeRequest
from memory.embeddings import Embedder
from optimizers.budget import Budget
from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.tasks import SplitSpec
from tests.fakes import fake_backend
from tests.unit.optimizer_fixtures import proposer_model, sentiment_task_model
from ui.live_runs import LiveRuns

WORDS = ("great", "awful", "lovely", "dull", "superb", "bad")


class ScriptedPlanner:
    """A planner model whose decisions the test scripts (``None`` = an unusable answer).

    ``readings`` script its answers when it is asked to read a chat message.
    """

    def __init__(self, decisions, readings=()):
        self.decisions = list(decisions)
        self.readings = list(readings)
        self.calls = 0

    async def structured(self, messages, schema, *, sample=0):
        self.calls += 1
        if schema is MessageKind:
            return (self.readings.pop(0), "") if self.readings else (None, "no reading")
        if not self.decisions:
            return None, "no more script"
        action = self.decisions.pop(0)
        if action is None:
            return None, "I think we should maybe try something"
        return PlannerDecision(action=action, reason="scripted", message=f"doing {action}"), ""


def write_items(path: Path) -> Path:
    """30 short reviews as JSONL, labelled positive/negative alternately."""
    rows = [
        {
            "input": f"item {i}: it was {WORDS[i % len(WORDS)]}",
            "output": ("positive", "negative")[i % 2],
        }
        for i in range(30)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def fake_runtime(task_model=sentiment_task_model) -> ModelRuntime:
    """A runtime whose task and optimizer models are the rule-based fakes."""
    fake = ModelSettings(base_url="fake://", model="rule")
    runtime = ModelRuntime(RuntimeSettings(task=fake, optimizer=fake))
    runtime.task = ChatCaller(fake_backend(task_model))
    runtime.optimizer = ChatCaller(fake_backend(proposer_model, role="proposer"))
    return runtime


def fake_live_runs(home: Path, embedder: Embedder, task_model=sentiment_task_model) -> LiveRuns:
    """The app's run registry with every run on :func:`fake_runtime` and the policy planner."""
    return LiveRuns(
        home,
        RuntimeSettings(),
        embedder=embedder,
        use_planner_model=False,
        runtime_factory=lambda settings: nullcontext(fake_runtime(task_model)),
    )


def request_for(data_file, budget=20, directives=()):
    """An ``auto`` request on ``data_file``: 10 train, 8 dev, 12 test examples."""
    return OptimizeRequest(
        data=str(data_file),
        prompt="Answer the question.",
        optimizer="auto",
        budget=Budget(max_queries=budget),
        split_spec=SplitSpec(train=10, dev=8, test=12, seed=0),
        directives=tuple(directives),
    )
