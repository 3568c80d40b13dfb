"""Terminal output for the headless commands: progress bars and result tables.

Prompts, model replies, file and column names are data, not markup: rich would read
``[bold]`` or ``[/]`` in them as styles (or fail on a stray closing tag) and a terminal
would obey an ``ESC`` sequence. They are shown through :func:`literal`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console, Group
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

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


TABLE_MIN_WIDTH = 110
"""Below this many columns the eval results are lines, not a table (columns would be cut)."""


def eval_results(report: EvalReport, width: int) -> Table | Group:
    """The eval results for a console ``width`` columns wide: a table, or lines when narrow."""
    return eval_table(report) if width >= TABLE_MIN_WIDTH else eval_lines(report)


def _title(report: EvalReport) -> str:
    first = report.results[0]
    return literal(
        f"{report.task} · split {report.split} · n={first.n} · "
        f"metric {first.metric} · template {first.template}"
    )


def _cells(report: EvalReport) -> list[tuple[str, ...]]:
    """Per prompt: #, prompt, score, interval, difference to #1, p, calls, cached, time."""
    rows = []
    comparisons = (None, *report.comparisons)
    for index, (result, comparison) in enumerate(zip(report.results, comparisons, strict=True)):
        if comparison is None:
            delta, p_value = "—", "—"
        else:
            low, high = comparison.interval.low, comparison.interval.high
            delta = f"{comparison.diff:+.3f} [{low:+.3f}, {high:+.3f}]"
            p_value = f"{comparison.p_value:.3g}"
        rows.append((
            str(index + 1),
            literal(_truncate(result.prompt, 120)),
            f"{result.mean:.3f}",
            f"[{result.interval.low:.3f}, {result.interval.high:.3f}]",
            delta,
            p_value,
            str(result.usage.calls),
            str(result.usage.cache_hits),
            f"{result.wall_time_s:.1f}s",
        ))  # fmt: skip
    return rows


def eval_table(report: EvalReport) -> Table:
    """One row per prompt: score with interval, paired difference to prompt 1, cost.

    Only the prompt column wraps, so the numbers are never cut.
    """
    table = Table(title=_title(report))
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("prompt", min_width=16, ratio=1)
    for header in ("score", "95% CI", "Δ vs #1 [95% CI]", "p", "calls", "cached", "time"):
        table.add_column(header, justify="right", no_wrap=True)
    for row in _cells(report):
        table.add_row(*row)
    return table


def eval_lines(report: EvalReport) -> Group:
    """The same results as lines, one block per prompt, for narrow terminals."""
    lines = [Text.from_markup(f"[bold]{_title(report)}[/]")]
    for number, prompt, score, interval, delta, p_value, calls, cached, time in _cells(report):
        lines.append(Text.from_markup(f"#{number} {prompt}"))
        versus = "" if delta == "—" else f"; vs #1 {delta}, p = {p_value}"
        lines.append(Text.from_markup(
            f"   score {score} {literal(interval)}{versus}; {calls} calls, {cached} cached, {time}"
        ))  # fmt: skip
    return Group(*lines)
