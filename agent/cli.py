"""The ``promptpilot`` command line."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from agent import cli_options as opt
from agent.cli_diagnose import diagnose_command
from agent.console import eval_progress, eval_table, literal, stdout_console
from agent.evaluation import EvalRequest, run_eval, select_examples
from agent.local_server import LocalLLMServer, LocalServerError, ServerSettings
from agent.optimization import OptimizeReport, OptimizeRequest, run_optimize
from agent.optimize_display import (
    optimize_progress,
    prompt_to_use,
    report_table,
    summary_lines,
)
from agent.pilot import run_pilot
from agent.runs import list_runs, load_run, save_finished
from agent.runtime import ModelRuntime
from optimizers.evaluation.chat_calls import EndpointError
from optimizers.evaluation.metrics import BUILTIN_METRICS, MetricError
from optimizers.runner import Budget
from optimizers.tasks import DataError

app = typer.Typer(
    help="PromptPilot: measurably better prompts against any OpenAI-compatible endpoint.\n\n"
    "With no endpoint configured, a local llama.cpp server with SmolLM2-135M starts "
    "on 127.0.0.1 for the run.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
stderr = Console(stderr=True)

EXIT_BAD_INPUT = 2
EXIT_ENDPOINT = 3
EXIT_INTERRUPTED = 130


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn expected failures into one clear line and an exit code, never a traceback."""
    try:
        yield
    except (DataError, MetricError, ValueError) as exc:
        _print_error(exc)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except (EndpointError, LocalServerError) as exc:
        _print_error(exc)  # a stopped run's notes say how to resume it
        raise typer.Exit(EXIT_ENDPOINT) from None
    except KeyboardInterrupt:
        stderr.print("[yellow]interrupted[/]")
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _print_error(exc: Exception) -> None:
    """The message and its notes, as text: a server's error page may hold ``[/x]``."""
    stderr.print(f"[red]error:[/] {literal(exc)}", highlight=False)
    for note in getattr(exc, "__notes__", ()):
        stderr.print(note, markup=False, highlight=False)


def _write_json(payload: dict, *, to_stdout: bool, out: Path | None) -> None:
    text = json.dumps(payload, indent=2, ensure_ascii=False)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
        stderr.print(f"wrote {out}")
    if to_stdout:
        sys.stdout.write(text + "\n")


@app.command("eval")
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
    metric: Annotated[
        str,
        typer.Option(
            help="exact, contains, f1, choice, regex, numeric, set, judge, or module:function."
        ),
    ] = "exact",
    rubric: Annotated[str | None, typer.Option(help="Rubric for --metric judge.")] = None,
    template: Annotated[
        str, typer.Option(help="inline, system, or a custom text with {prompt} and {input}.")
    ] = "inline",
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    out: Annotated[Path | None, typer.Option(help="Write the JSON result to this file.")] = None,
    input_col: opt.InputCol = None,
    target_col: opt.TargetCol = None,
    target_sep: opt.TargetSep = None,
    test_data: opt.TestData = None,
    train: opt.SplitSize = None,
    dev: opt.SplitSize = None,
    test: opt.SplitSize = None,
    seed: opt.Seed = 0,
    task_base_url: opt.TaskBaseUrl = None,
    task_model: opt.TaskModel = None,
    task_max_tokens: opt.TaskMaxTokens = None,
    task_api_key: opt.TaskApiKey = None,
    optimizer_base_url: opt.OptimizerBaseUrl = None,
    optimizer_model: opt.OptimizerModel = None,
    optimizer_api_key: opt.OptimizerApiKey = None,
    concurrency: opt.Concurrency = None,
    home: opt.Home = None,
    no_cache: opt.NoCache = False,
) -> None:
    """Score prompts on an eval set, with 95% intervals and paired differences."""
    with friendly_errors():
        request = EvalRequest(
            data=data,
            prompts=tuple(prompt),
            split=split,
            limit=limit,
            metric=metric,
            rubric=rubric,
            template=template,
            columns=opt.columns(input_col, target_col, target_sep),
            split_spec=opt.split_spec(train, dev, test, seed),
            test_data=test_data,
        )
        settings = opt.runtime_settings_from(locals())
        selected = select_examples(request)
        roles = ("task", "optimizer") if request.needs_optimizer_model else ("task",)
        with (
            ModelRuntime(settings, roles=roles) as runtime,
            eval_progress(stderr, len(request.prompts)) as progress,
        ):
            report = asyncio.run(run_eval(request, runtime, selected=selected, progress=progress))
        if as_json or out is not None:
            _write_json(report.to_dict(), to_stdout=as_json, out=out)
        if not as_json:
            stdout_console().print(eval_table(report))


@app.command("optimize")
def optimize_command(
    data: Annotated[str, typer.Argument(help="Eval set file or built-in task name.")],
    prompt: Annotated[str, typer.Option("--prompt", "-p", help="The prompt to start from.")],
    optimizer: Annotated[
        str,
        typer.Option(
            help="auto (the agent plans and switches methods), structure, zopo, gpo, textgrad, ape "
            "or random."
        ),
    ] = "auto",
    run_id: Annotated[str | None, typer.Option(help="Name the run (default: generated).")] = None,
    budget: Annotated[
        int | None,
        typer.Option(
            help="Dev queries: evaluations of new prompts on the dev split, the seed included. "
            "With no limit given, a run stops after 250 paid calls or 210 s of search."
        ),
    ] = None,
    max_calls: Annotated[
        int | None,
        typer.Option(help="Stop after this many paid LLM calls of the search (both models)."),
    ] = None,
    max_seconds: Annotated[float | None, typer.Option(help="Also stop after this long.")] = None,
    constraint: Annotated[
        list[str] | None,
        typer.Option(
            help="A standing constraint for new prompts, e.g. 'at most 30 words'; repeatable."
        ),
    ] = None,
    metric: Annotated[str, typer.Option(help="See `promptpilot metrics`.")] = "exact",
    template: Annotated[
        str, typer.Option(help="inline, system, or custom with {prompt} and {input}.")
    ] = "inline",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    out: Annotated[Path | None, typer.Option(help="Also write the JSON report here.")] = None,
    input_col: opt.InputCol = None,
    target_col: opt.TargetCol = None,
    target_sep: opt.TargetSep = None,
    test_data: opt.TestData = None,
    train: opt.SplitSize = None,
    dev: opt.SplitSize = None,
    test: opt.SplitSize = None,
    seed: opt.Seed = 0,
    task_base_url: opt.TaskBaseUrl = None,
    task_model: opt.TaskModel = None,
    task_max_tokens: opt.TaskMaxTokens = None,
    task_api_key: opt.TaskApiKey = None,
    optimizer_base_url: opt.OptimizerBaseUrl = None,
    optimizer_model: opt.OptimizerModel = None,
    optimizer_api_key: opt.OptimizerApiKey = None,
    concurrency: opt.Concurrency = None,
    home: opt.Home = None,
    no_cache: opt.NoCache = False,
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
            metric=metric,
            template=template,
            columns=opt.columns(input_col, target_col, target_sep),
            split_spec=opt.split_spec(train, dev, test, seed),
            test_data=test_data,
            seed=seed,
            directives=tuple(constraint or ()),
        )
        select_examples(EvalRequest(data=data, prompts=(prompt,), columns=request.columns))
        settings = opt.runtime_settings_from(locals())
        root = opt.home_dir(home)
        with ModelRuntime(settings) as runtime:
            if request.optimizer == "auto":
                payload = asyncio.run(_pilot(request, runtime, root, run_id))
            else:
                payload = _single(request, runtime, root, run_id)
        _show_report(payload, as_json=as_json, out=out)


def _single(request: OptimizeRequest, runtime: ModelRuntime, root: Path, run: str | None) -> dict:
    """Run (or with the id of a checkpointed run, continue) one optimizer; record the report."""
    payload = asyncio.run(_optimize(request, runtime, root, run)).to_dict()
    save_finished(root, request.optimizer, request.config(), payload)
    return payload


def _show_report(payload: dict | None, *, as_json: bool, out: Path | None) -> None:
    if payload is None:
        stderr.print("[yellow]the run is waiting for an answer; resume it with "
                     "`promptpilot runs resume ID --answer TEXT`[/]")  # fmt: skip
        return
    if as_json or out is not None:
        _write_json(payload, to_stdout=as_json, out=out)
    if not as_json:
        console = stdout_console()
        console.print(report_table(payload))
        if (text := prompt_to_use(payload)) is not None:
            console.print(literal(text), highlight=False)
        for line in summary_lines(payload):
            console.print(line, highlight=False)


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
    request: OptimizeRequest, runtime: ModelRuntime, home: Path, run: str | None = None
) -> OptimizeReport:
    stop = asyncio.Event()
    with (
        _two_stage_ctrl_c(stop.set),
        optimize_progress(stderr, request.budget) as on_event,
    ):
        return await run_optimize(
            request, runtime, home=home, run=run, on_event=on_event, should_stop=stop.is_set
        )


async def _ask_on_terminal(question: str) -> str:
    if not sys.stdin.isatty():
        return ""  # headless: no answer means "carry on"
    stderr.print(f"[bold cyan]PromptPilot asks:[/] {literal(question)}")
    return await asyncio.to_thread(input, "> ")


async def _pilot(
    request: OptimizeRequest | None,
    runtime: ModelRuntime,
    home: Path,
    run_id: str | None,
    answer: Callable[[str], Awaitable[str]] = _ask_on_terminal,
) -> dict | None:
    sessions = []
    with (
        _two_stage_ctrl_c(lambda: [s.send("stop") for s in sessions]),
        optimize_progress(stderr, request.budget if request else None) as on_event,
    ):
        return await run_pilot(
            request, runtime, home=home, run=run_id, on_event=on_event,
            on_message=lambda m: stderr.print(
                f"[dim]{m.name}:[/] {literal(m.content)}", highlight=False
            ),
            answer=answer, on_session=sessions.append,
        )  # fmt: skip


runs_app = typer.Typer(help="List, show and resume runs (checkpointed after every step).")
app.add_typer(runs_app, name="runs")


@runs_app.command("list")
def runs_list_command(home: opt.Home = None) -> None:
    """Every run, newest first: id, status, task, best dev and test scores."""
    table = Table(title=f"runs in {opt.home_dir(home)}")
    for column in ("run", "status", "optimizer", "created", "best test"):
        table.add_column(column, no_wrap=column != "run")
    for record in list_runs(opt.home_dir(home)):
        report = load_run(opt.home_dir(home), record["run"]).get("report") or {}
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
) -> None:
    """A run's request, status and report."""
    with friendly_errors():
        record = load_run(opt.home_dir(home), run)
        if as_json:
            sys.stdout.write(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
            return
        typer.echo(f"{record['run']}: {record.get('status')} (updated {record.get('updated')})")
        if record.get("question"):
            typer.echo(f"waiting for an answer to: {record['question']}")
        if record.get("report"):
            _show_report(record["report"], as_json=False, out=None)


@runs_app.command("resume")
def runs_resume_command(
    run: Annotated[str, typer.Argument(help="The run id to continue.")],
    answer: Annotated[
        str | None,
        typer.Option(
            help="Answer to the question the run is waiting on "
            "(e.g. 'resume', 'stop', 'try zopo', 'accept 3')."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    out: Annotated[Path | None, typer.Option(help="Also write the JSON report here.")] = None,
    task_base_url: opt.TaskBaseUrl = None,
    task_model: opt.TaskModel = None,
    task_api_key: opt.TaskApiKey = None,
    optimizer_base_url: opt.OptimizerBaseUrl = None,
    optimizer_model: opt.OptimizerModel = None,
    optimizer_api_key: opt.OptimizerApiKey = None,
    home: opt.Home = None,
) -> None:
    """Continue a stopped, killed or waiting run from its last checkpoint.

    Calls that were paid before it stopped are answered from the cache; nothing is paid twice.
    """
    with friendly_errors():
        settings = opt.runtime_settings_from(locals())
        root = opt.home_dir(home)
        record = load_run(root, run)  # a clear error for an unknown id

        given = [answer] if answer is not None else []

        async def reply(question: str) -> str:
            # --answer answers the question the run waits on; later ones go to the terminal
            # (a repeated "pause" or unclear answer would otherwise hold the run forever).
            return given.pop() if given else await _ask_on_terminal(question)

        with ModelRuntime(settings) as runtime:
            if record.get("optimizer", "auto") == "auto":
                payload = asyncio.run(_pilot(None, runtime, root, run, answer=reply))
            else:  # one optimizer: checkpointed after every step (agent.step_checkpoint)
                request = OptimizeRequest.from_config(record["request"])
                payload = _single(request, runtime, root, run)
        _show_report(payload, as_json=as_json, out=out)


@app.command("metrics")
def metrics_command() -> None:
    """List the built-in metrics."""
    for name, description in BUILTIN_METRICS.items():
        typer.echo(f"{name:10} {description}")
    typer.echo(f"{'judge':10} LLM-as-judge with --rubric, graded by the optimizer model")
    typer.echo(f"{'mod:fn':10} your own Python function fn(prediction, targets) -> float")


@app.command("serve-llm")
def serve_llm_command(
    port: Annotated[int | None, typer.Option(help="Port [default: a free one].")] = None,
    host: opt.ServeHost = "127.0.0.1",
    n_ctx: Annotated[int, typer.Option(help="Context window in tokens.")] = 2048,
    api_key: opt.ServeApiKey = None,
) -> None:
    """Run the embedded llama.cpp server (SmolLM2-135M) for other tools, until Ctrl-C.

    It listens on 127.0.0.1 only, unless --host says otherwise (then --api-key is required).
    """
    with friendly_errors():
        settings = ServerSettings(host=host, port=port, n_ctx=n_ctx, api_key=api_key)
        server = LocalLLMServer(settings)
        with server:
            typer.echo(f"OpenAI-compatible endpoint: {server.base_url}  (model: smollm2)")
            if api_key is not None:
                typer.echo("Requests must carry the API key (Authorization: Bearer <key>).")
            typer.echo("Ctrl-C to stop.")
            signal.sigwait({signal.SIGINT, signal.SIGTERM})


@app.command("mcp")
def mcp_command(
    home: opt.Home = None,
    no_cache: opt.NoCache = False,
    task_base_url: opt.TaskBaseUrl = None,
    task_model: opt.TaskModel = None,
    task_max_tokens: opt.TaskMaxTokens = None,
    task_api_key: opt.TaskApiKey = None,
    optimizer_base_url: opt.OptimizerBaseUrl = None,
    optimizer_model: opt.OptimizerModel = None,
    optimizer_api_key: opt.OptimizerApiKey = None,
    concurrency: opt.Concurrency = None,
) -> None:
    """Serve optimize, evaluate, get_run and list_runs to other agents over MCP (stdio).

    Client config: command `promptpilot`, args `["mcp", "--home", DIR]`.
    Models come from the environment (PROMPTPILOT_TASK_BASE_URL …) or the flags.
    stdout carries only the protocol; logs go to stderr.
    """
    from agent.mcp_server import serve_stdio

    with friendly_errors():
        settings = opt.runtime_settings_from(locals())
        serve_stdio(home=opt.home_dir(home), settings=settings)


@app.command("demo")
def demo_command(
    home: opt.Home = None,
    no_cache: opt.NoCache = False,
    task_base_url: opt.TaskBaseUrl = None,
    task_model: opt.TaskModel = None,
) -> None:
    """Score a few prompts on the built-in review task, pick the best on dev, report test."""
    from agent.demo import run_demo

    with friendly_errors():
        settings = opt.runtime_settings_from(locals())
        with ModelRuntime(settings, roles=("task",)) as runtime:
            asyncio.run(run_demo(runtime, stdout_console(), stderr))


app.command("diagnose")(diagnose_command)


def main() -> None:
    """The headless command line (``python -m agent``); ``promptpilot`` adds ``ui``."""
    # `kill` stops a run as Ctrl-C does: the run is recorded as interrupted and the
    # embedded server is stopped with it, not left running without its parent.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    app()
