"""The agent graph with fake models: node order, budget, fallback, steering, questions."""

from __future__ import annotations

import json

import pytest

from agent.optimization import OptimizeRequest
from agent.pilot import run_pilot
from agent.planner import PlannerDecision
from agent.runtime import ModelRuntime, RuntimeSettings
from agent.settings import ModelSettings
from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.runner import Budget
from optimizers.tasks import SplitSpec
from tests.fakes import fake_backend
from tests.unit.optimizer_fixtures import proposer_model, sentiment_task_model

WORDS = ("great", "awful", "lovely", "dull", "superb", "bad")


class ScriptedPlanner:
    """A planner model whose decisions the test scripts (``None`` = an unusable answer)."""

    def __init__(self, decisions):
        self.decisions = list(decisions)
        self.calls = 0

    async def structured(self, messages, schema, *, sample=0):
        self.calls += 1
        if not self.decisions:
            return None, "no more script"
        action = self.decisions.pop(0)
        if action is None:
            return None, "I think we should maybe try something"
        return PlannerDecision(action=action, reason="scripted", message=f"doing {action}"), ""


@pytest.fixture
def data_file(tmp_path):
    path = tmp_path / "items.jsonl"
    rows = [
        {
            "input": f"item {i}: it was {WORDS[i % len(WORDS)]}",
            "output": ("positive", "negative")[i % 2],
        }
        for i in range(30)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def runtime():
    fake = ModelSettings(base_url="fake://", model="rule")
    runtime = ModelRuntime(RuntimeSettings(task=fake, optimizer=fake))
    runtime.task = ChatCaller(fake_backend(sentiment_task_model))
    runtime.optimizer = ChatCaller(fake_backend(proposer_model, role="proposer"))
    return runtime


def request_for(data_file, budget=20, directives=()):
    return OptimizeRequest(
        data=str(data_file),
        prompt="Answer the question.",
        optimizer="auto",
        budget=Budget(max_queries=budget),
        split_spec=SplitSpec(train=10, dev=8, test=12, seed=0),
        directives=tuple(directives),
    )


async def pilot(data_file, runtime, tmp_path, embedder, planner, **kwargs):
    nodes = []
    report = await run_pilot(
        kwargs.pop("request", None) or request_for(data_file),
        runtime,
        home=tmp_path / "home",
        embedder=embedder,
        planner=planner,
        on_message=lambda m: nodes.append(m.name),
        **kwargs,
    )
    return report, nodes


async def test_scripted_planner_drives_the_nodes_in_order(
    data_file, runtime, tmp_path, bundled_embedder
):
    planner = ScriptedPlanner(["evaluate", "gpo", "textgrad", "report", "finish"])
    report, nodes = await pilot(data_file, runtime, tmp_path, bundled_embedder, planner)
    assert nodes == [
        "planner", "evaluate", "planner", "gpo", "planner", "textgrad",
        "planner", "report", "planner",
    ]  # fmt: skip
    assert report["scores"]["best"]["test"]["split"] == "test"
    assert report["dev_queries"] <= 20
    assert report["scores"]["best"]["dev"]["mean"] >= report["scores"]["initial"]["dev"]["mean"]
    assert {e["source"] for e in report["trajectory"]} >= {"seed", "gpo"}


async def test_unusable_or_invalid_answers_fall_back_to_the_policy(
    data_file, runtime, tmp_path, bundled_embedder
):
    # None: unparseable; "finish" before "report" and "evaluate" twice are invalid.
    planner = ScriptedPlanner([None, "finish", "evaluate"])
    messages = []
    report = await run_pilot(
        request_for(data_file, budget=10),
        runtime,
        home=tmp_path / "home",
        embedder=bundled_embedder,
        planner=planner,
        on_message=lambda m: messages.append(str(m.content)),
    )
    assert "policy (the planner's answer did not fit the schema" in messages[0]
    assert "Next: evaluate" in messages[0]
    assert "policy (finish comes after report)" in messages[2]
    assert "policy (the seed prompt is already evaluated)" in messages[4]
    assert report is not None
    assert report["dev_queries"] <= 10


async def test_the_budget_holds_whatever_the_planner_says(
    data_file, runtime, tmp_path, bundled_embedder
):
    planner = ScriptedPlanner(["evaluate"] + ["gpo"] * 30)
    report, nodes = await pilot(
        data_file, runtime, tmp_path, bundled_embedder, planner, request=request_for(data_file, 6)
    )
    assert report["dev_queries"] <= 6
    assert nodes[-3:] == ["planner", "report", "planner"]


async def test_a_directive_sent_mid_run_filters_candidates(
    data_file, runtime, tmp_path, bundled_embedder
):
    planner = ScriptedPlanner(["evaluate"] + ["random"] * 12 + ["report", "finish"])
    report = await run_pilot(
        request_for(data_file, budget=30),
        runtime,
        home=tmp_path / "home",
        embedder=bundled_embedder,
        planner=planner,
        on_session=lambda session: session.send("keep it under 6 words"),
    )
    assert report is not None
    scored = [e["prompt"] for e in report["trajectory"] if e["source"] != "seed"]
    assert scored, "something admissible was scored"
    assert all(len(p.split()) <= 5 for p in scored)
    assert report["rejected"], "long candidates were proposed and rejected"
    assert all(len(r["text"].split()) > 5 for r in report["rejected"])
    assert len(report["best_prompt"].split()) <= 5
    assert report["directives"] == ["keep it under 6 words"]


async def test_a_question_waits_for_the_person_and_the_answer_steers(
    data_file, runtime, tmp_path, bundled_embedder
):
    planner = ScriptedPlanner(["evaluate", "ask_user"] + [None] * 10)
    home = tmp_path / "home"
    report, _ = await pilot(data_file, runtime, tmp_path, bundled_embedder, planner)
    # With no answer callback the run waits; resuming with an answer carries on.
    assert report is None

    async def answer(question: str) -> str:
        assert "How should I proceed" in question or "best prompt" in question
        return "stop"

    from agent.runs import list_runs

    (record,) = list_runs(home)
    assert record["status"] == "waiting"
    report = await run_pilot(
        None, runtime, home=home, run=record["run"], embedder=bundled_embedder,
        planner=planner, answer=answer,
    )  # fmt: skip
    assert report is not None
    assert report["stopped"] == "stop requested"
    assert list_runs(home)[0]["status"] == "finished"
