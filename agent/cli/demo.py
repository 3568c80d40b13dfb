"""The main job until the UI lands: a small, honest selection run on a built-in task.

Candidate prompts are scored on the dev split, the best is chosen on dev
alone, and only then are the chosen prompt and the starting prompt scored on
the held-out test split and compared, paired by example.
"""

from __future__ import annotations

from rich.console import Console

from agent.cli.console import eval_progress, eval_results
from agent.llm.runtime import ModelRuntime
from agent.run.evaluate import EvalRequest, run_eval

DEMO_TASK = "review_sentiment"
DEMO_PROMPTS = (
    "Is this review positive or negative?",
    "Classify the sentiment of the review. Answer with one word: positive or negative.",
    "Read the review. Reply with exactly one word, positive or negative.",
    "Sentiment (positive or negative):",
)


async def run_demo(runtime: ModelRuntime, out: Console, progress_console: Console) -> None:
    """Score the demo prompts on dev, pick the best, report start vs best on test."""
    assert runtime.task is not None
    endpoint = runtime.task.backend.endpoint
    out.print(f"[bold]PromptPilot demo[/] · task [cyan]{DEMO_TASK}[/] · "
              f"model {runtime.settings.task.model} at {endpoint}")  # fmt: skip
    dev_request = EvalRequest(data=DEMO_TASK, prompts=DEMO_PROMPTS, split="dev")
    with eval_progress(progress_console, len(DEMO_PROMPTS)) as progress:
        dev = await run_eval(dev_request, runtime, progress=progress)
    out.print(eval_results(dev, out.width))

    best = max(dev.results, key=lambda result: result.mean)
    out.print(f"\nBest on dev: [green]{best.prompt!r}[/] ({best.mean:.3f}). "
              "Now the held-out test split, start vs best:")  # fmt: skip
    test_request = EvalRequest(data=DEMO_TASK, prompts=(DEMO_PROMPTS[0], best.prompt), split="test")
    with eval_progress(progress_console, 2) as progress:
        test = await run_eval(test_request, runtime, progress=progress)
    out.print(eval_results(test, out.width))
    usage = runtime.task.usage  # both evaluations, dev and test
    out.print(f"\nLLM calls paid: {usage.calls}, answered from cache: {usage.cache_hits}, "
              f"tokens: {usage.prompt_tokens} in / {usage.completion_tokens} out.")  # fmt: skip
