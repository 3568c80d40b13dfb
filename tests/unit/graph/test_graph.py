"""The agent graph with fake models: node order, budget, fallback, steering, questions."""

from __future__ import annotations

import dataclasses

from agent.graph.model_reading import MessageKind
from agent.graph.pilot import run_pilot
from memory.run_registry import FolderRegistry
from optimizers.tasks.splits import SplitSpec
from tests.unit.graph_fixtures import ScriptedPlanner, request_for


async def pilot(data_file, runtime, tmp_path, embedder, planner, **kwargs):
    """Runs the graph; returns the report and every message said, as (node, content)."""
    messages = []
    report = await run_pilot(
        kwargs.pop("request", None) or request_for(data_file),
        runtime,
        home=tmp_path / "home",
        embedder=embedder,
        planner=planner,
        on_message=lambda m: messages.append((m.name, m.content)),
        **kwargs,
    )
    return report, messages


def nodes(messages):
    return [name for name, _ in messages]


async def test_scripted_planner_drives_the_nodes_in_order(
    data_file, runtime, tmp_path, bundled_embedder
):
    planner = ScriptedPlanner(["evaluate", "gpo", "textgrad", "report", "finish"])
    report, messages = await pilot(data_file, runtime, tmp_path, bundled_embedder, planner)
    assert nodes(messages) == [
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
    report, said = await pilot(
        data_file, runtime, tmp_path, bundled_embedder, planner, request=request_for(data_file, 10)
    )
    messages = [str(content) for _, content in said]
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
    report, messages = await pilot(
        data_file, runtime, tmp_path, bundled_embedder, planner, request=request_for(data_file, 6)
    )
    assert report["dev_queries"] <= 6
    assert nodes(messages)[-3:] == ["planner", "report", "planner"]


async def test_a_directive_sent_mid_run_filters_candidates(
    data_file, runtime, tmp_path, bundled_embedder
):
    planner = ScriptedPlanner(["evaluate"] + ["random"] * 12 + ["report", "finish"])
    lines = ["keep it under 6 words", "always be polite", "remove the banana rule", "budget 25"]
    report, messages = await pilot(
        data_file, runtime, tmp_path, bundled_embedder, planner,
        request=request_for(data_file, budget=30),
        on_session=lambda session: [session.send(line) for line in lines],
    )  # fmt: skip
    replies = [content for node, content in messages if node == "steering"]
    assert replies == [
        "New rule 'keep it under 6 words': candidates that break it are never scored nor chosen.",
        "Noted 'always be polite' for the prompts I write.",
        "No standing rule matches 'banana rule' (rules: 'keep it under 6 words'; "
        "'always be polite'); nothing changed.",
        "Budget set to 25 dev queries (0 used).",
    ]
    assert report is not None
    assert report["dev_queries"] <= 25
    scored = [e["prompt"] for e in report["trajectory"] if e["source"] != "seed"]
    assert scored, "something admissible was scored"
    assert all(len(p.split()) <= 5 for p in scored)
    assert report["rejected"], "long candidates were proposed and rejected"
    assert all(len(r["text"].split()) > 5 for r in report["rejected"])
    assert len(report["best_prompt"].split()) <= 5
    assert report["directives"] == ["keep it under 6 words", "always be polite"]


async def test_the_planner_model_reads_free_words_into_a_rule(
    data_file, runtime, tmp_path, bundled_embedder
):
    reading = MessageKind(kind="steer", rule="keep it under 6 words", meaning="shorter prompts")
    planner = ScriptedPlanner(["evaluate"] + ["random"] * 6 + ["report", "finish"], [reading])
    report, messages = await pilot(
        data_file, runtime, tmp_path, bundled_embedder, planner,
        request=request_for(data_file, budget=20),
        on_session=lambda session: session.send("the prompts look too long to me"),
    )  # fmt: skip
    replies = [content for node, content in messages if node == "steering"]
    assert replies == [
        "New rule 'keep it under 6 words': candidates that break it are never scored nor chosen."
    ]
    assert report["directives"] == ["keep it under 6 words"]
    assert all(len(e["prompt"].split()) <= 5 for e in report["trajectory"][1:])


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

    (record,) = FolderRegistry(home).list()
    assert record["status"] == "waiting"
    report = await run_pilot(
        None, runtime, home=home, run=record["run"], embedder=bundled_embedder,
        planner=planner, answer=answer,
    )  # fmt: skip
    assert report is not None
    assert report["stopped"] == "stop requested"
    assert FolderRegistry(home).list()[0]["status"] == "finished"


async def test_a_dev_split_too_small_for_the_guard_is_said_as_soon_as_the_seed_is_scored(
    data_file, runtime, tmp_path, bundled_embedder
):
    request = dataclasses.replace(
        request_for(data_file), split_spec=SplitSpec(train=10, dev=4, test=12, seed=0)
    )
    planner = ScriptedPlanner(["evaluate", "gpo", "report", "finish"])
    report, messages = await pilot(
        data_file, runtime, tmp_path, bundled_embedder, planner, request=request
    )
    (said,) = [text for name, text in messages if name == "evaluate"]
    assert "with 4 dev examples no new prompt can be shown to beat the starting prompt" in said
    assert "at least 6" in said
    assert not report["guard"]["passed"]  # its reason at the end: tests/unit/optimizers/test_guard


async def test_a_large_enough_dev_split_says_nothing_about_its_size(
    data_file, runtime, tmp_path, bundled_embedder
):
    planner = ScriptedPlanner(["evaluate", "report", "finish"])
    _, messages = await pilot(data_file, runtime, tmp_path, bundled_embedder, planner)
    (said,) = [text for name, text in messages if name == "evaluate"]
    assert "dev examples no new prompt" not in said
