"""Terminal output for the headless commands: progress bars and result tables.

Prompts, model replies, file and column names are data, not markup: rich would read
``[bold]`` or ``[/]`` in them as styles (or fail on a stray closing tag) and a terminal
would obey an ``ESC`` sequence. They are shown through :func:`literal`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent.run.evaluate import EvalReport
from optimizers.propose.safe_text import strip_control


def stdout_console() -> Console:
    """The console for results: 120 columns when piped, so tables stay readable in logs."""
    console = Console()
    return console if console.is_terminal else Console(width=120)


def literal(text: object) -> str:
    """``text`` as rich markup that shows it as written, without control characters."""
    return escape(strip_control(str(text)))


def _truncate(text: str, width: int = 48) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


@contextmanager
def eval_progress(console: Console, prompts: int) -> Iterator[callable]:
    """A progress bar per prompt; yields the ``progress(i, done, total)`` callback."""
    with Progress(
        TextColumn("[bold]prompt {task.fields[index]}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        tasks = [bar.add_task("eval", total=None, index=i + 1) for i in range(prompts)]

        def update(index: int, done: int, total: int) -> None:
            bar.update(tasks[index], completed=done, total=total)

        yield update


def eval_table(report: EvalReport) -> Table:
    """One row per prompt: score with interval, paired difference to prompt 1, cost."""
    first = report.results[0]
    table = Table(
        title=literal(
            f"{report.task} · split {report.split} · n={first.n} · "
            f"metric {first.metric} · template {first.template}"
        )
    )
    table.add_column("#", justify="right")
    table.add_column("prompt", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("95% CI", justify="right", no_wrap=True)
    table.add_column("Δ vs #1 [95% CI]", justify="right", no_wrap=True)
    table.add_column("p", justify="right", no_wrap=True)
    table.add_column("calls", justify="right", no_wrap=True)
    table.add_column("cached", justify="right", no_wrap=True)
    table.add_column("time", justify="right", no_wrap=True)
    comparisons = (None, *report.comparisons)
    for index, (result, comparison) in enumerate(zip(report.results, comparisons, strict=True)):
        if comparison is None:
            delta, p_value = "—", "—"
        else:
            low, high = comparison.interval.low, comparison.interval.high
            delta = f"{comparison.diff:+.3f} [{low:+.3f}, {high:+.3f}]"
            p_value = f"{comparison.p_value:.3g}"
        table.add_row(
            str(index + 1),
            literal(_truncate(result.prompt)),
            f"{result.mean:.3f}",
            f"[{result.interval.low:.3f}, {result.interval.high:.3f}]",
            delta,
            p_value,
            str(result.usage.calls),
            str(result.usage.cache_hits),
            f"{result.wall_time_s:.1f}s",
        )
    return table
