"""``promptpilot eval``: score prompts on an eval set, with intervals and paired differences."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from agent.cli import options as opt
from agent.cli.console import eval_progress, eval_results, stdout_console
from agent.cli.output import friendly_errors, stderr
from agent.llm.runtime import ModelRuntime
from agent.run.evaluate import EvalRequest, run_eval, select_examples


@opt.with_flag_groups
def eval_command(
    data: Annotated[
        str,
        typer.Argument(
            help="Eval set: CSV, JSONL, JSON, instruction-induction "
            "or BBH JSON file, or a built-in task name."
        ),
    ],
    prompt: Annotated[
        list[str],
        typer.Option(
            "--prompt",
            "-p",
            help="A prompt to score; repeat to compare several (paired, against the first).",
        ),
    ],
    split: Annotated[str, typer.Option(help="train, dev, test or all.")] = "all",
    limit: Annotated[int | None, typer.Option(help="Use only the first N examples.")] = None,
    scoring: opt.ScoringFlags = opt.DEFAULT_SCORING,
    rubric: Annotated[str | None, typer.Option(help="Rubric for --metric judge.")] = None,
    output: opt.OutputFlags = opt.DEFAULT_OUTPUT,
    data_flags: opt.DataFlags = opt.DEFAULT_DATA,
    models: opt.ModelFlags = opt.DEFAULT_MODELS,
) -> None:
    """Score prompts on an eval set, with 95% intervals and paired differences."""
    with friendly_errors():
        request = EvalRequest(
            data=data,
            prompts=tuple(prompt),
            split=split,
            limit=limit,
            metric=scoring.metric,
            rubric=rubric,
            template=scoring.template,
            columns=data_flags.columns(),
            split_spec=data_flags.split_spec(),
            test_data=data_flags.test_data,
        )
        settings = models.settings()
        selected = select_examples(request)
        roles = ("task", "optimizer") if request.needs_optimizer_model else ("task",)
        with (
            ModelRuntime(settings, roles=roles) as runtime,
            eval_progress(stderr, len(request.prompts)) as progress,
        ):
            report = asyncio.run(run_eval(request, runtime, selected=selected, progress=progress))
        console = stdout_console()
        output.emit(report.to_dict(), lambda: console.print(eval_results(report, console.width)))
