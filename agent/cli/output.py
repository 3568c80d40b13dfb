"""Where a command's results and errors go: exit codes, one-line errors, JSON, reports."""

from __future__ import annotations

import json
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer
from rich.console import Console

from agent.cli.console import literal, stdout_console
from agent.cli.display import prompt_to_use, report_table, summary_lines
from agent.llm.local_server import LocalServerError
from memory.postgres.connection import StoreError
from memory.run_registry import RunBusy
from optimizers.evaluation.chat_calls import EndpointError
from optimizers.evaluation.metrics import MetricError
from optimizers.tasks import DataError

stderr = Console(stderr=True)

EXIT_BAD_INPUT = 2
EXIT_ENDPOINT = 3
EXIT_STORE = 4
EXIT_INTERRUPTED = 130


@contextmanager
def friendly_errors() -> Iterator[None]:
    """Turn expected failures into one clear line and an exit code, never a traceback."""
    try:
        yield
    except (DataError, MetricError, ValueError) as exc:
        print_error(exc)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except (EndpointError, LocalServerError) as exc:
        print_error(exc)  # a stopped run's notes say how to resume it
        raise typer.Exit(EXIT_ENDPOINT) from None
    except (StoreError, RunBusy) as exc:
        print_error(exc)  # which store (no password) and what to do
        raise typer.Exit(EXIT_STORE) from None
    except KeyboardInterrupt:
        stderr.print("[yellow]interrupted[/]")
        _ignore_further_interrupts()
        raise typer.Exit(EXIT_INTERRUPTED) from None


def _ignore_further_interrupts() -> None:
    """The command exits with 130: no second Ctrl-C or ``kill`` may cut its clean-up short.

    One arriving while the embedded server stops or threads join would otherwise end
    the process with a traceback, or as killed by a signal.
    """
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


def print_error(exc: Exception) -> None:
    """The message and its notes, as text: a server's error page may hold ``[/x]``."""
    stderr.print(f"[red]error:[/] {literal(exc)}", highlight=False)
    for note in getattr(exc, "__notes__", ()):
        stderr.print(note, markup=False, highlight=False)


def write_json(payload: dict, *, to_stdout: bool, out: Path | None) -> None:
    """``payload`` as JSON on stdout, in ``out``, or both."""
    text = json.dumps(payload, indent=2, ensure_ascii=False)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n", encoding="utf-8")
        stderr.print(f"wrote {out}")
    if to_stdout:
        sys.stdout.write(text + "\n")


def show_report(payload: dict | None, *, as_json: bool, out: Path | None) -> None:
    """A run's report: JSON when asked, else the table, the prompt to use and a summary."""
    if payload is None:
        stderr.print("[yellow]the run is waiting for an answer; resume it with "
                     "`promptpilot runs resume ID --answer TEXT`[/]")  # fmt: skip
        return
    if as_json or out is not None:
        write_json(payload, to_stdout=as_json, out=out)
    if not as_json:
        console = stdout_console()
        console.print(report_table(payload))
        if (text := prompt_to_use(payload)) is not None:
            console.print(literal(text), highlight=False)
        for line in summary_lines(payload):
            console.print(line, highlight=False)
