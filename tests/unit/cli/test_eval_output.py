"""`promptpilot eval`'s results stay readable in a narrow terminal and when piped."""

from __future__ import annotations

from types import SimpleNamespace

from rich.console import Console

from agent.cli.console import eval_results
from agent.llm.runtime import RuntimeSettings
from agent.run.evaluate import EvalRequest, run_eval
from optimizers.evaluation.chat_calls import ChatCaller
from tests.fakes import fake_backend

PROMPTS = (
    "Is it positive?",
    "Read the review carefully and answer in one word: positive or negative, nothing else.",
)


async def report():
    def rule(text: str) -> str:
        return "positive" if "one word" in text else "I am not sure."

    runtime = SimpleNamespace(
        task=ChatCaller(fake_backend(rule), None), optimizer=None, settings=RuntimeSettings()
    )
    return await run_eval(EvalRequest(data="review_sentiment", prompts=PROMPTS, limit=6), runtime)


def shown(renderable, width: int) -> str:
    console = Console(width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


async def test_a_piped_table_keeps_every_number_and_header_whole():
    result = await report()
    text = shown(eval_results(result, 120), 120)
    for header in ("score", "95% CI", "calls", "cached", "time"):
        assert header in text
    assert "…" not in text  # no header, number or prompt is cut
    assert f"{result.results[1].mean:.3f}" in text
    assert "nothing else." in text  # the long prompt wraps instead of being cut


async def test_a_narrow_terminal_gets_one_block_per_prompt():
    result = await report()
    text = shown(eval_results(result, 60), 60)
    assert "#1 Is it positive?" in text
    assert "#2 Read the review" in text
    assert f"score {result.results[1].mean:.3f}" in text
    assert "vs #1 +" in text  # the paired difference, in words
    assert "…" not in text
