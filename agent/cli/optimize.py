"""``promptpilot optimize``, and the run loop it shares with ``runs resume``.

Ctrl-C once stops after the current evaluation and still reports; twice aborts.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from langchain_core.messages import AIMessage

from agent.cli import options as opt
from agent.cli.console import literal
from agent.cli.display import optimize_progress
from agent.cli.output import friendly_errors, show_report, stderr
from agent.graph.node_updates import NAMED
from agent.graph.pilot import run_pilot
from agent.llm.runtime import ModelRuntime
from agent.run.evaluate import EvalRequest, select_examples
from agent.run.records import save_finished
from agent.run.report import OptimizeReport
from agent.run.request import OptimizeRequest
from agent.run.single import run_optimize
from agent.run.workspace import Workspace
from optimizers.budget import Budget
from optimizers.registry import AUTO, NAMES

_Optimizer = Annotated[
    str,
    typer.Option(
        help="auto (the agent plans and switches methods) or one method alone: "
        + ", ".join(NAMES)
        + "."
    ),
]
_Budget = Annotated[
    int | None,
    typer.Option(
        help="Dev queries: evaluations of new prompts on the dev split, the seed included. "
        "With no limit given, a run stops after 250 paid calls or 210 s of search."
    ),
]
_MaxCalls = Annotated[
    int | None,
    typer.Option(help="Stop after this many paid LLM calls of the search (both models)."),
]
_Constraint = Annotated[
    list[str] | None,
    typer.Option(
        help="A standing constraint for new prompts, e.g. 'at most 30 words'; repeatable."
    ),
]


@opt.with_flag_groups
def optimize_command(
    data: Annotated[str, typer.Argument(help="Eval set file or built-in task name.")],
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="The prompt to start from.")],
    optimizer: _Optimizer = AUTO,
    run_id: Annotated[str | None, typer.Option(help="Name the run (default: generated).")] = None,
    budget: _Budget = None,
    max_calls: _MaxCalls = None,
    max_seconds: Annotated[float | None, typer.Option(help="Also stop after this long.")] = None,
    constraint: _Constraint = None,
    scoring: opt.ScoringFlags = opt.DEFAULT_SCORING,
    output: opt.OutputFlags = opt.DEFAULT_OUTPUT,
    data_flags: opt.DataFlags = opt.DEFAULT_DATA,
    models: opt.ModelFlags = opt.DEFAULT_MODELS,
) -> None:
    """Optimize a prompt on train/dev, then report initial vs best on the held-out test split.

    Ctrl-C once stops after the current evaluation and still reports; twice aborts the
    search and writes the best prompt found so far.
    """
    with friendly_errors():
        request = OptimizeRequest(
            data=data,
            prompt=prompt,
            optimizer=optimizer,
            budget=Budget.given(budget, max_calls, max_seconds),
            **opt.request_fields(data_flags, scoring),
            directives=tuple(constraint or ()),
        )
        select_examples(EvalRequest(data=data, prompts=(prompt,), columns=request.columns))
        settings = models.settings()
        with (
            Workspace(models.stores()) as workspace,
            ModelRuntime(settings, database=workspace.database) as runtime,
        ):
            if request.optimizer == AUTO:
                payload = asyncio.run(run_piloted(request, runtime, workspace, run_id))
            else:
                payload = run_single(request, runtime, workspace, run_id)
        show_report(payload, as_json=output.as_json, out=output.out)


def message_line(message: AIMessage) -> str:
    """A graph message for the terminal: ``node: text``, unless the text names itself."""
    named = message.additional_kwargs.get("kind") == NAMED
    return (
        literal(message.content) if named else f"[dim]{message.name}:[/] {literal(message.content)}"
    )


def run_single(
    request: OptimizeRequest, runtime: ModelRuntime, workspace: Workspace, run: str | None
) -> dict:
    """Run (or with the id of a checkpointed run, continue) one optimizer; record the report."""
    payload = asyncio.run(_optimize(request, runtime, workspace, run)).to_dict()
    save_finished(workspace.runs, request.optimizer, request.config(), payload)
    return payload


@contextmanager
def _two_stage_ctrl_c(on_first: Callable[[], None]) -> Iterator[None]:
    """First Ctrl-C: ``on_first`` (stop soon, still report); second: cancel (stop now)."""
    loop = asyncio.get_running_loop()
    main = asyncio.current_task()
    pressed = 0

    def on_sigint() -> None:
        nonlocal pressed
        pressed += 1
        if pressed > 1 and main is not None:
            main.cancel()
            return
        on_first()
        stderr.print("[yellow]stopping after the current evaluation (Ctrl-C again to abort)[/]")

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)


async def _optimize(
    request: OptimizeRequest, runtime: ModelRuntime, home: Workspace, run: str | None = None
) -> OptimizeReport:
    stop = asyncio.Event()
    with (
        _two_stage_ctrl_c(stop.set),
        optimize_progress(stderr, request.budget) as on_event,
    ):
        return await run_optimize(
            request, runtime, home=home, run=run, on_event=on_event, should_stop=stop.is_set
        )


async def ask_on_terminal(question: str) -> str:
    """The person's answer to the run's question, or "" (carry on) without a terminal."""
    if not sys.stdin.isatty():
        return ""  # headless: no answer means "carry on"
    stderr.print(f"[bold cyan]PromptPilot asks:[/] {literal(question)}")
    return await asyncio.to_thread(input, "> ")


async def run_piloted(
    request: OptimizeRequest | None,
    runtime: ModelRuntime,
    home: Workspace,
    run_id: str | None,
    answer: Callable[[str], Awaitable[str]] = ask_on_terminal,
) -> dict | None:
    """The automatic run (or, with no request, its resumption), with progress and Ctrl-C."""
    sessions = []
    with (
        _two_stage_ctrl_c(lambda: [s.send("stop") for s in sessions]),
        optimize_progress(stderr, request.budget if request else None) as on_event,
    ):
        return await run_pilot(
            request, runtime, home=home, run=run_id, on_event=on_event,
            on_message=lambda m: stderr.print(message_line(m), highlight=False),
            answer=answer, on_session=sessions.append,
        )  # fmt: skip
