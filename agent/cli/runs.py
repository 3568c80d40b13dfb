"""``promptpilot runs``: list, show and resume runs (checkpointed after every step)."""

from __future__ import annotations

import asyncio
import json
import sys
from contextlib import ExitStack
from typing import Annotated

import typer
from rich.table import Table

from agent.cli import options as opt
from agent.cli.console import literal, stdout_console
from agent.cli.optimize import ask_on_terminal, run_piloted, run_single
from agent.cli.output import friendly_errors, show_report
from agent.llm.runtime import ModelRuntime
from agent.run.request import OptimizeRequest
from agent.run.workspace import Workspace, store_settings
from optimizers.registry import AUTO

runs_app = typer.Typer(help="List, show and resume runs (checkpointed after every step).")


@runs_app.command("list")
def runs_list_command(home: opt.Home = None, store: opt.StoreUrl = None) -> None:
    """Every run, newest first: id, status, task, best dev and test scores."""
    with friendly_errors(), Workspace(store_settings(home, store_url=store)) as workspace:
        _show_runs(workspace)


def _show_runs(workspace: Workspace) -> None:
    table = Table(title=f"runs in {workspace.runs.where}")
    for column in ("run", "status", "optimizer", "created", "best test"):
        table.add_column(column, no_wrap=column != "run")
    for record in workspace.runs.list():
        report = workspace.runs.load(record["run"]).get("report") or {}
        best = ((report.get("scores") or {}).get("best") or {}).get("test") or {}
        score = f"{best['mean']:.3f}" if best else "—"
        table.add_row(literal(record["run"]), record.get("status", "?"),
                      record.get("optimizer", "?"), record.get("created", ""), score)  # fmt: skip
    stdout_console().print(table)


@runs_app.command("show")
def runs_show_command(
    run: Annotated[str, typer.Argument(help="The run id (see `promptpilot runs list`).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the record as JSON.")] = False,
    home: opt.Home = None,
    store: opt.StoreUrl = None,
) -> None:
    """A run's request, status and report."""
    with friendly_errors(), Workspace(store_settings(home, store_url=store)) as workspace:
        record = workspace.runs.load(run)
        if as_json:
            sys.stdout.write(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
            return
        typer.echo(f"{record['run']}: {record.get('status')} (updated {record.get('updated')})")
        if record.get("question"):
            typer.echo(f"waiting for an answer to: {record['question']}")
        if record.get("report"):
            show_report(record["report"], as_json=False, out=None)


@runs_app.command("resume")
@opt.with_flag_groups
def runs_resume_command(
    run: Annotated[str, typer.Argument(help="The run id to continue.")],
    answer: Annotated[
        str | None,
        typer.Option(
            help="Answer to the question the run is waiting on "
            "(e.g. 'resume', 'stop', 'try zopo', 'accept 3')."
        ),
    ] = None,
    as_json: opt.AsJson = False,
    out: opt.JsonOut = None,
    models: opt.ModelFlags = opt.DEFAULT_MODELS,
) -> None:
    """Continue a stopped, killed or waiting run from its last checkpoint.

    Calls that were paid before it stopped are answered from the cache; nothing is paid twice.
    """
    with friendly_errors(), ExitStack() as stack:
        settings = models.settings()
        workspace = stack.enter_context(Workspace(models.stores()))
        record = workspace.runs.load(run)  # a clear error for an unknown id
        with workspace.runs.lease(run):  # a run live elsewhere is refused before any model starts
            pass

        given = [answer] if answer is not None else []

        async def reply(question: str) -> str:
            # --answer answers the question the run waits on; later ones go to the terminal
            # (a repeated "pause" or unclear answer would otherwise hold the run forever).
            return given.pop() if given else await ask_on_terminal(question)

        with ModelRuntime(settings, database=workspace.database) as runtime:
            if record.get("optimizer", AUTO) == AUTO:
                payload = asyncio.run(run_piloted(None, runtime, workspace, run, answer=reply))
            else:  # one optimizer: checkpointed after every step (agent.run.step_checkpoint)
                request = OptimizeRequest.from_config(record["request"])
                payload = run_single(request, runtime, workspace, run)
        show_report(payload, as_json=as_json, out=out)
