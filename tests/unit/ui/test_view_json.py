"""A run's view as JSON: ``view.json`` files in the format the app has always written load."""

from __future__ import annotations

import copy
import json

from agent.llm.runtime import RuntimeSettings
from agent.run.report_fields import ReportFields, Spend
from memory.run_registry import FolderRegistry
from tests.unit.ui.test_ui_report import REPORT
from ui.live_runs import LiveRuns
from ui.panels.run_view import GpField, RunView
from ui.panels.stored_view import load_view, run_table, save_view, view_from_record, view_path

RUN = "reviews-auto-20260101-000000-abcd"
USAGE = {"calls": 12, "cache_hits": 3, "failures": 0, "prompt_tokens": 900, "completion_tokens": 90}


def entry(number, prompt, dev, source, **extra):
    """A trajectory entry as a live run saved it (``TrajectoryEntry.as_dict`` + rolled_back)."""
    return {
        "step": number, "source": source, "prompt": prompt, "dev": dev,
        "ci95": [dev - 0.1, dev + 0.1], "reused": False, "complete": True, "examples": 8,
        "parts": {"instruction": prompt}, "meta": {"uncertainty": 0.4} if source == "zopo" else {},
        "rolled_back": False,
    } | extra  # fmt: skip


# fmt: off
SAVED = {  # what ui/live_run.py wrote to view.json mid-run, before the view had types
    "run": RUN,
    "status": "waiting",
    "detail": "",
    "question": "Paused after 3 dev queries. Resume?",
    "version": 42,
    "request": {
        "data": "builtin:review_sentiment", "prompt": "Is it positive?", "optimizer": "auto",
        "budget": {"max_queries": 10, "max_calls": None, "max_seconds": None},
        "directives": ["keep it under 30 words"],
    },
    "seed_prompt": "Is it positive?",
    "messages": [
        {"role": "user", "content": "Is it positive\\?"},
        {"role": "assistant", "content": "step", "metadata": {"title": "gpo", "status": "done"}},
    ],
    "trajectory": [
        entry(0, "Is it positive?", 0.5, "seed"),
        entry(1, "Classify the review.", 0.75, "zopo", rolled_back=True),
        entry(2, "Is it positive?", 0.5, "gpo", reused=True),
    ],
    "rejected": [{"text": "A very long prompt", "source": "gpo", "violations": ["over 30 words"]}],
    "steps": 2,
    "best_prompt": "Classify the review.",
    "best_dev": 0.75,
    "examples": [
        {"input": "meh", "targets": ["negative", "neg"], "output": "positive", "score": 0.0,
         "error": None},
        {"input": "great", "targets": ["positive"], "output": "positive", "score": 1.0,
         "error": None},
    ],
    "map": {
        "xy": [[0.0, 0.1], [0.2, -0.3]], "scores": [0.5, 0.75], "numbers": [0, 1],
        "sources": ["seed", "zopo"], "uncertainty": [None, 0.4], "seed": 0, "best": 1,
        "path": [1], "explained": [0.7, 0.3],
        "field": {"xy": [[0.1, 0.1]], "std": [0.5], "mean": [0.6]},
    },
    "used": {"queries": 3, "calls": 15, "seconds": 12.5},
    "usage": {"task": USAGE, "optimizer": USAGE | {"calls": 3, "prompt_tokens": 100}},
    "limits": {"max_queries": 10, "max_calls": None, "max_seconds": None},
    "report": None,
}
# fmt: on


def test_a_saved_view_loads_typed_and_saves_back_the_same(tmp_path):
    path = view_path(tmp_path, RUN)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(SAVED), encoding="utf-8")
    view = load_view(tmp_path, RUN)
    assert (view.status, view.version, view.data) == ("waiting", 42, "builtin:review_sentiment")
    assert [e.prompt for e in view.trajectory][:2] == ["Is it positive?", "Classify the review."]
    best = view.trajectory[1]
    assert (best.dev, best.ci95, best.rolled_back, best.meta) == (
        0.75,
        (0.65, 0.85),
        True,
        {"uncertainty": 0.4},
    )
    assert view.trajectory[2].reused
    assert view.rejected[0].violations == ("over 30 words",)
    assert view.examples[0].targets == ("negative", "neg")
    assert view.map.field == GpField(xy=[[0.1, 0.1]], std=[0.5], mean=[0.6])
    assert view.map.explained == (0.7, 0.3)
    assert (view.used.queries, view.used.calls, view.used.seconds) == (3, 15, 12.5)
    assert Spend.of(view.usage) == Spend(calls=15, cache_hits=6, tokens=1180)
    assert (view.limits.max_queries, view.limits.max_calls) == (10, None)

    save_view(tmp_path, view)  # the format is the one read (a zero score's diagnosis added)
    assert json.loads(path.read_text(encoding="utf-8")) == {**SAVED, "diagnosis": None}
    assert RunView.from_json(view.to_json()) == view


def test_older_entries_and_missing_fields_read_with_their_defaults():
    old = copy.deepcopy(SAVED)
    for item in old["trajectory"]:
        for key in ("complete", "examples", "parts", "rolled_back"):
            del item[key]
    for key in ("map", "usage", "limits", "examples"):
        del old[key]
    view = RunView.from_json(old)
    assert [e.complete for e in view.trajectory] == [True, True, True]
    assert not any(e.rolled_back for e in view.trajectory)
    assert (view.map, view.usage, view.examples) == (None, {}, [])
    assert view.limits.max_queries is None


def test_an_unreadable_view_is_none(tmp_path):
    path = view_path(tmp_path, RUN)
    path.parent.mkdir(parents=True)
    broken = ({"status": "running"}, {"run": RUN, "trajectory": [{"prompt": "x"}]})
    for text in ("{not json", *map(json.dumps, broken)):
        path.write_text(text, encoding="utf-8")
        assert load_view(tmp_path, RUN) is None


def test_a_stored_view_of_a_run_that_is_gone_is_stopped_and_mapped(tmp_path, bundled_embedder):
    live = copy.deepcopy(SAVED) | {"status": "running", "map": None}
    path = view_path(tmp_path, RUN)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(live), encoding="utf-8")
    view = LiveRuns(tmp_path, RuntimeSettings(), embedder=bundled_embedder).view(RUN)
    assert (view.status, view.question) == ("stopped", None)
    assert view.map.numbers == [0, 1]  # #2 repeats #0
    assert view.map.best == 1


def test_a_run_never_seen_gets_a_view_from_its_record_and_report(tmp_path):
    report = REPORT | {"trajectory": [entry(0, REPORT["seed_prompt"], 0.1, "seed") | {
        "number": 0, "memory_id": "m0"}]}  # fmt: skip
    FolderRegistry(tmp_path).record(RUN, status="finished", request=SAVED["request"])
    FolderRegistry(tmp_path).write_report(RUN, report)
    view = view_from_record(FolderRegistry(tmp_path).load(RUN))
    assert (view.status, view.best_dev) == ("finished", 0.6)
    assert view.best_prompt == REPORT["best_prompt"]
    assert [e.to_json() for e in view.trajectory] == report["trajectory"]
    assert (view.used.queries, view.used.calls, view.used.seconds) == (8, 320, 95.2)
    assert view.limits.max_queries == 10
    assert "held-out **test** split" in view.messages[0]["content"]
    assert ReportFields.of(view.report).spend == Spend(calls=320, cache_hits=10, tokens=14900)
    assert run_table(FolderRegistry(tmp_path))[0][4:] == [0.6, 0.55]

    unfinished = tmp_path / "other"
    FolderRegistry(unfinished).record(RUN, status="stopped", request=SAVED["request"])
    view = view_from_record(FolderRegistry(unfinished).load(RUN))
    assert (view.status, view.trajectory) == ("stopped", [])
    assert "no report yet" in view.messages[0]["content"]
    assert run_table(FolderRegistry(unfinished))[0][4:] == [None, None]


def test_a_zero_scores_diagnosis_round_trips(tmp_path):
    diagnosis = {
        "cause": "sentences",
        "sentence": "The model answers in sentences.",
        "fixes": [{"kind": "metric", "label": "Score with contains", "value": "contains"}],
        "mean": 0.0,
        "n": 12,
    }
    view = RunView.from_json({**SAVED, "diagnosis": diagnosis})
    assert view.diagnosis.fixes[0].value == "contains"
    assert view.to_json()["diagnosis"] == diagnosis
