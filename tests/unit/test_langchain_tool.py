"""The LangChain tools without any LLM: schemas, descriptions, argument checks, summaries.

Real calls through the same code are covered by tests/integration/test_mcp_server.py.
"""

from __future__ import annotations

import asyncio
import json
import typing
from types import SimpleNamespace

import pytest
from langchain_core.tools import ToolException
from pydantic import ValidationError

from agent.api import OptimizationResult
from agent.langchain_tool import evaluate_prompts_tool, optimize_prompt_tool
from agent.llm.runtime import RuntimeSettings
from agent.llm.settings import ModelSettings
from agent.mcp_server import build_server
from agent.run.evaluate import EvalRequest, run_eval
from agent.tool_contract import (
    EvaluatePromptsArgs,
    MetricName,
    OptimizePromptArgs,
    evaluation_summary,
    optimization_summary,
    optimize_options,
)
from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.evaluation.metrics import BUILTIN_METRICS
from optimizers.registry import CHOICES, NAMES
from optimizers.tasks import BUILTIN_TASKS
from tests.fakes import fake_backend

# An endpoint nothing listens on (the discard port): a test that reached a model would fail.
_NOWHERE = ModelSettings(base_url="http://127.0.0.1:9/v1", max_retries=0, timeout_s=2)
UNREACHABLE = RuntimeSettings(task=_NOWHERE, optimizer=_NOWHERE, cache_path=None)


def test_tools_are_named_described_and_typed():
    optimize, evaluate = optimize_prompt_tool(), evaluate_prompts_tool()
    assert optimize.name == "optimize_prompt"
    assert evaluate.name == "evaluate_prompts"
    assert optimize.args_schema is OptimizePromptArgs
    assert evaluate.args_schema is EvaluatePromptsArgs
    assert "held-out test" in optimize.description
    assert "95%" in optimize.description
    assert "95%" in evaluate.description
    for tool in (optimize, evaluate):
        schema = tool.tool_call_schema.model_json_schema()
        assert schema["properties"], tool.name
        for name, field in schema["properties"].items():
            assert len(field.get("description", "")) > 20, f"{tool.name}.{name} is undocumented"


def test_optimize_schema_defaults_and_choices():
    schema = OptimizePromptArgs.model_json_schema()
    props = schema["properties"]
    assert schema["required"] == ["data", "prompt"]
    assert props["optimizer"]["default"] == "auto"
    assert props["budget"]["default"] == 20
    assert props["constraints"]["default"] == []
    assert props["metric"]["default"] == "exact"
    for task in BUILTIN_TASKS:
        assert task in props["data"]["description"]
    assert schema["additionalProperties"] is False


def test_choices_follow_the_registries():
    props = OptimizePromptArgs.model_json_schema()["properties"]
    assert props["optimizer"]["enum"] == list(CHOICES)  # what the calling LLM sees
    for name in NAMES:
        assert f"'{name}'" in props["optimizer"]["description"]
    assert set(typing.get_args(MetricName)) == set(BUILTIN_METRICS)


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"prompt": "p"}, "data"),
        ({"data": "review_sentiment", "prompt": ""}, "prompt"),
        ({"data": "review_sentiment", "prompt": "p", "budget": 0}, "budget"),
        ({"data": "review_sentiment", "prompt": "p", "optimizer": "magic"}, "optimizer"),
        # a user metric names code to import: never from a tool argument
        ({"data": "review_sentiment", "prompt": "p", "metric": "os:system"}, "metric"),
        ({"data": "review_sentiment", "prompt": "p", "train": 0}, "train"),
        ({"data": "review_sentiment", "prompt": "p", "dev": 1.5}, "dev"),
        ({"data": "review_sentiment", "prompt": "p", "constraints": [""]}, "constraints"),
        ({"data": "review_sentiment", "prompt": "p", "optimiser": "gpo"}, "optimiser"),
    ],
)
def test_bad_optimize_arguments_are_refused_before_any_call(arguments, field):
    with pytest.raises(ValidationError) as error:
        optimize_prompt_tool(settings=UNREACHABLE, handle_errors=False).invoke(arguments)
    assert field in str(error.value)

    handled = optimize_prompt_tool(settings=UNREACHABLE).invoke(arguments)
    assert handled.startswith("invalid arguments:")
    assert field in handled


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"data": "review_sentiment", "prompts": []}, "prompts"),
        ({"data": "review_sentiment", "prompts": ["a"] * 21}, "prompts"),
        ({"data": "review_sentiment", "prompts": ["a"], "split": "validation"}, "split"),
        ({"data": "review_sentiment", "prompts": ["a"], "limit": 0}, "limit"),
    ],
)
def test_bad_evaluate_arguments_are_refused(arguments, field):
    handled = evaluate_prompts_tool(settings=UNREACHABLE).invoke(arguments)
    assert handled.startswith("invalid arguments:")
    assert field in handled


@pytest.mark.parametrize("make", [optimize_prompt_tool, evaluate_prompts_tool])
def test_missing_data_file_is_reported_by_name_before_any_model_starts(make, tmp_path):
    missing = str(tmp_path / "nope.csv")
    arguments = {"data": missing, "prompt": "p", "prompts": ["p"]}
    tool = make(settings=UNREACHABLE, home=tmp_path)
    arguments = {k: v for k, v in arguments.items() if k in tool.args_schema.model_fields}

    text = tool.invoke(arguments)
    assert missing in text
    assert "no such file" in text

    with pytest.raises(ToolException, match="no such file"):
        asyncio.run(make(settings=UNREACHABLE, handle_errors=False).ainvoke(arguments))


def test_defaults_fill_what_the_llm_left_out():
    args = OptimizePromptArgs(data="d", prompt="p", dev=0.5)
    data, prompt, options = optimize_options(args, {"train": 6, "dev": 4, "template": "system"})
    assert (data, prompt) == ("d", "p")
    assert options["train"] == 6  # filled
    assert options["dev"] == 0.5  # the LLM's value wins
    assert options["template"] == "system"
    assert "test" not in options  # left to the API default
    assert options["budget"] == 20
    assert options["optimizer"] == "auto"


def test_defaults_are_checked_when_the_tool_is_built():
    optimize_prompt_tool(train=6, dev=4, test=6, template="system", seed=3, max_calls=100)
    evaluate_prompts_tool(template="system")
    with pytest.raises(TypeError, match="tempalte"):
        optimize_prompt_tool(tempalte="system")
    with pytest.raises(TypeError, match="budget"):
        optimize_prompt_tool(budget=5)  # the LLM sets it; a hidden override would mislead it
    with pytest.raises(TypeError, match="split"):
        evaluate_prompts_tool(split="test")


def test_mcp_tools_take_the_same_arguments():
    tools = {tool.name: tool for tool in asyncio.run(build_server(home="unused").list_tools())}
    assert set(tools) == {"optimize", "evaluate", "get_run", "list_runs"}
    for name, model in (("optimize", OptimizePromptArgs), ("evaluate", EvaluatePromptsArgs)):
        expected = model.model_json_schema()
        assert tools[name].input_schema["properties"] == expected["properties"]
        assert tools[name].input_schema["required"] == expected["required"]


async def test_evaluation_summary_is_compact_and_paired():
    def rule(text: str) -> str:
        return "positive" if "one word" in text else "I am not sure."

    runtime = SimpleNamespace(
        task=ChatCaller(fake_backend(rule), None), optimizer=None, settings=RuntimeSettings()
    )
    prompts = ("Is it positive?", "Answer in one word: positive or negative.")
    request = EvalRequest(data="review_sentiment", prompts=prompts, limit=6)
    summary = evaluation_summary((await run_eval(request, runtime)).to_dict())

    json.dumps(summary)
    assert summary["n"] == 6
    assert summary["split"] == "all"
    assert summary["metric"] == "exact"
    first, second = summary["results"]
    assert first["mean"] == 0.0
    assert len(first["misses"]) == 3
    assert first["misses"][0]["output"] == "I am not sure."
    assert 0.0 < second["mean"] < 1.0  # "positive" is right only on positive reviews
    assert all(m["expected"] == ["negative"] for m in second["misses"])
    (paired,) = summary["comparisons_to_first"]
    assert paired["diff"] == pytest.approx(second["mean"] - first["mean"])
    assert paired["wins"] + paired["ties"] + paired["losses"] == 6
    assert "examples" not in first


def test_optimization_summary_keeps_the_headline():
    def score(split: str, mean: float, n: int) -> dict:
        return {"split": split, "mean": mean, "ci95": [mean - 0.1, mean + 0.1], "n": n}

    report = {
        "run": "r1",
        "task": "review_sentiment",
        "optimizer": "gpo",
        "seed_prompt": "seed",
        "best_prompt": "best",
        "scores": {
            "initial": {"dev": score("dev", 0.2, 4), "test": score("test", 0.25, 8)},
            "best": {"dev": score("dev", 0.5, 4), "test": score("test", 0.5, 8)},
        },
        "test_difference": {
            "n": 8,
            "mean_a": 0.25,
            "mean_b": 0.5,
            "diff": 0.25,
            "interval": {"low": 0.125, "high": 0.375, "confidence": 0.95},
            "wins": 2,
            "losses": 0,
            "ties": 6,
            "p_value": 0.5,
        },
        "trajectory": [{"prompt": "seed"}, {"prompt": "best"}],
        "dev_queries": 3,
        "stopped": "budget: queries",
        "usage": {"task": {"calls": 30}, "optimizer": {"calls": 4}},
        "wall_time_s": 12.5,
        "config": {"splits": {"train": 6, "dev": 4, "test": 8}},
    }
    summary = optimization_summary(OptimizationResult.from_report(report))
    assert summary["best_prompt"] == "best"
    assert summary["initial_prompt"] == "seed"
    assert summary["initial_test"] == {"mean": 0.25, "ci95": [0.15, 0.35], "n": 8}
    assert summary["test_gain"]["ci95"] == [0.125, 0.375]
    assert summary["gain_is_significant"] is True
    assert summary["splits"] == {"train": 6, "dev": 4, "test": 8}
    assert summary["llm_calls"] == 34
    assert "trajectory" not in summary
    json.dumps(summary)


def test_optimization_summary_without_a_test_report():
    dev = {"split": "dev", "mean": 0.5, "ci95": [0.25, 0.75], "n": 4}
    report = {
        "run": "r2", "seed_prompt": "s", "best_prompt": "b", "test_difference": None,
        "scores": {"initial": {"dev": dev, "test": None}, "best": {"dev": dev, "test": None}},
    }  # fmt: skip
    summary = optimization_summary(OptimizationResult.from_report(report))
    assert summary["test_gain"] is None
    assert summary["gain_is_significant"] is False


def test_the_cli_has_the_mcp_command():
    from agent.cli.app import app

    assert "mcp" in {command.name for command in app.registered_commands}
