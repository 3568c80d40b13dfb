"""The CLI's summary under the report table: plain words, the cost, and why a seed scored 0."""

from __future__ import annotations

import io

from rich.console import Console

from agent.cli.display import optimize_progress, summary_lines
from agent.cli.optimize import message_line
from agent.graph.node_updates import NAMED, say
from optimizers.events import Scoring

USAGE = {"calls": 12, "cache_hits": 3, "failures": 0, "prompt_tokens": 900, "completion_tokens": 90}
LOCAL = {"base_url": None, "model": "smollm2"}
DEV = {"split": "dev", "mean": 0.0, "ci95": [0.0, 0.0], "n": 20}
DIAGNOSIS = {
    "cause": "sentences",
    "sentence": 'The model answers in sentences ("This review is positive.") while the exact '
    'metric wants only the answer ("positive").',
    "fixes": [
        {
            "kind": "output_spec",
            "label": 'Add "Answer with exactly one of: negative, positive." to the prompt',
            "value": "Answer with exactly one of: negative, positive.",
        },
        {"kind": "metric", "label": "Score with 'contains'", "value": "contains"},
    ],
    "mean": 0.0,
    "n": 20,
}


def report(**changes):
    base = {
        "seed_prompt": "Answer the question.",
        "best_prompt": "Answer the question.",
        "scores": {row: {"dev": DEV, "test": None} for row in ("initial", "best")},
        "stopped": "budget: calls",
        "steps": 3,
        "dev_queries": 14,
        "search_calls": 250,
        "wall_time_s": 171.4,
        "usage": {"task": USAGE, "optimizer": USAGE},
        "config": {
            "budget": {"max_queries": None, "max_calls": 250, "max_seconds": 210.0},
            "task_model": LOCAL,
            "optimizer_model": LOCAL,
        },
        "diagnosis": None,
    }
    return {**base, **changes}


def test_the_summary_says_why_it_stopped_in_plain_words_and_that_a_local_model_is_free():
    text = "\n".join(summary_lines(report()))
    assert "used its 250 LLM calls" in text
    assert "budget: calls" not in text
    assert "14 prompts evaluated on the dev examples" in text
    assert "cost: free, local model" in text
    assert "why the starting prompt" not in text


def test_the_summary_says_how_many_requests_each_endpoint_ended_with_in_flight():
    text = "\n".join(summary_lines(report(in_flight={"task": 2, "optimizer": 3})))
    assert "requests in flight at the end" in text
    assert "task model 2, optimizer model 3" in text
    assert "in flight" not in "\n".join(summary_lines(report()))  # older reports: no line


def test_a_remote_endpoint_is_not_called_free():
    remote = {"base_url": "https://api.example.com/v1", "model": "gpt"}
    config = {**report()["config"], "task_model": remote}
    assert "free" not in "\n".join(summary_lines(report(config=config)))


def test_a_zero_seed_is_explained_with_the_flags_that_fix_it():
    lines = summary_lines(report(diagnosis=DIAGNOSIS))
    text = "\n".join(lines)
    assert "why the starting prompt scored 0.00 on dev" in text
    assert "answers in sentences" in text
    assert '-p "Answer the question. Answer with exactly one of: negative, positive."' in text
    assert "--metric contains" in text


def test_a_step_line_that_names_its_method_is_not_prefixed_again():
    named = say("Structured search: 8 new prompts scored.", "structure", kind=NAMED)
    assert message_line(named) == "Structured search: 8 new prompts scored."
    plain = say("Your prompt scores 0.000 on the dev examples.", "evaluate")
    assert message_line(plain).startswith("[dim]evaluate:[/] Your prompt scores")


def test_the_progress_bar_says_which_candidate_is_being_scored():
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=200)
    event = Scoring(step=1, candidate=2, candidates=5, examples=4, of=12, prompt="Label it.")
    with optimize_progress(console, None) as on_event:
        on_event(event)
    assert "scoring candidate 2 of 5, 4 of 12 dev examples" in out.getvalue()
