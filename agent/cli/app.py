"""The ``promptpilot`` command line: the typer app, one module per command group."""

from __future__ import annotations

import signal
import sys

import typer

from agent.cli.diagnose import diagnose_command
from agent.cli.evaluate import eval_command
from agent.cli.optimize import optimize_command
from agent.cli.output import EXIT_INTERRUPTED
from agent.cli.runs import runs_app
from agent.cli.services import demo_command, mcp_command, metrics_command, serve_llm_command

app = typer.Typer(
    help="PromptPilot: measurably better prompts against any OpenAI-compatible endpoint.\n\n"
    "With no endpoint configured, a local llama.cpp server with SmolLM2-135M starts "
    "on 127.0.0.1 for the run.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("eval")(eval_command)
app.command("optimize")(optimize_command)
app.add_typer(runs_app, name="runs")
app.command("metrics")(metrics_command)
app.command("serve-llm")(serve_llm_command)
app.command("mcp")(mcp_command)
app.command("demo")(demo_command)
app.command("diagnose")(diagnose_command)


def main() -> None:
    """The headless command line (``python -m agent``); ``promptpilot`` adds ``ui``."""
    # `kill` stops a run as Ctrl-C does: the run is recorded as interrupted and the
    # embedded server is stopped with it, not left running without its parent.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        app()
    except KeyboardInterrupt:  # one that slipped past the commands' own handling
        sys.exit(EXIT_INTERRUPTED)
    finally:
        forget_handled_interrupt()


def forget_handled_interrupt() -> None:
    """Let the exit code we chose stand after a Ctrl-C or ``kill`` that was handled.

    CPython marks a KeyboardInterrupt that leaves code run from a *string* (as
    ``dataclasses`` and ``namedtuple`` do while a module is imported) as unhandled, and
    nothing clears the mark when a caller handles it: the interpreter then ends by
    killing itself with SIGINT (exit -2) instead of exiting 130. Seen in CI when the
    signal landed during a lazy import. Running any string clears the mark.
    """
    exec("None")  # a constant string: clears the mark
