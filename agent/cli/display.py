"""What ``promptpilot optimize`` shows while it runs and when it is done.

Everything here reads the JSON report (``OptimizeReport.to_dict()`` or the
graph's report) through :class:`~agent.run.report_fields.ReportFields`, so a finished,
resumed or shown run looks the same. Prompts and
names are shown through :func:`agent.cli.console.literal`: as written, never as markup.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent.cli.console import literal
from agent.run.report_fields import ReportFields, Score
from optimizers.budget import Budget, plain_stop
from optimizers.diagnostics.low_score import Fix
from optimizers.events import (
    CandidateRejected,
    CandidateScored,
    EventFn,
    Raced,
    RunEvent,
    Scoring,
)


@contextmanager
def optimize_progress(console: Console, budget: Budget | None) -> Iterator[EventFn]:
    """A live bar with the best score so far; yields the event callback.

    It counts paid calls when the budget limits calls (the default), else dev
    queries, and moves with every block of dev examples a candidate is scored on;
    within a step it says which candidate is being scored ("candidate 3 of 8").
    """
    by_calls = budget is None or budget.max_calls is not None
    unit, total = (
        ("calls", budget.max_calls if budget else None)
        if by_calls
        else ("dev queries", budget.max_queries)
    )
    with Progress(
        TextColumn(f"[bold]{unit}[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("best dev [green]{task.fields[best]:.3f}[/] · step {task.fields[step]} · "
                   "{task.fields[queries]} prompts tried · last: {task.fields[last]}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:  # fmt: skip
        task = bar.add_task("run", total=total, best=0.0, step=0, queries=0, last="")

        def on_event(event: RunEvent) -> None:
            if isinstance(event, Scoring):
                bar.update(task, last=f"scoring {event.where}")
            elif isinstance(event, Raced) and by_calls:
                bar.update(task, completed=event.calls)
            elif isinstance(event, CandidateScored):
                entry = event.entry
                last = (
                    literal(f"{entry.source} {entry.dev:.2f}")
                    + (" (seen)" if entry.reused else "")
                    + ("" if entry.complete else f" (dropped after {entry.examples})")
                )
                bar.update(
                    task, completed=event.calls if by_calls else event.queries,
                    best=event.best, step=event.step, queries=event.queries, last=last,
                )  # fmt: skip
            elif isinstance(event, CandidateRejected):
                bar.update(task, last=literal(f"{event.source} rejected (constraint)"))

        yield on_event


def score_cell(score: dict[str, Any] | None) -> str:
    """``0.625 [0.400, 0.800]``: a mean and its 95% interval, or a dash (diagnosis JSON)."""
    if score is None:
        return "—"
    low, high = score["ci95"]
    return _interval(score["mean"], low, high)


def _cell(score: Score | None) -> str:
    """:func:`score_cell` for a report's typed score."""
    return "—" if score is None else _interval(score.mean, score.low, score.high)


def _interval(mean: float, low: float, high: float) -> str:
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def report_table(report: dict[str, Any]) -> Table:
    """Initial vs best, on dev (what guided the search) and test (held out)."""
    read = ReportFields.of(report)
    table = Table(title=literal(f"{read.task} · {read.optimizer} · run {read.run}"))
    table.add_column("")
    table.add_column("prompt", no_wrap=True, max_width=60)
    table.add_column("dev [95% CI]", justify="right", no_wrap=True)
    table.add_column("test [95% CI]", justify="right", no_wrap=True)
    rows = (
        ("initial", read.seed_prompt, read.seed_dev, read.seed_test),
        ("best", read.best_prompt, read.best_dev, read.best_test),
    )
    for row, prompt, dev, test in rows:
        table.add_row(row, literal(prompt), _cell(dev), _cell(test))
    return table


def summary_lines(report: dict[str, Any]) -> list[str]:
    """The paired test difference and the costs, in plain words (rich markup)."""
    read = ReportFields.of(report)
    lines = []
    if (d := read.difference) is not None:
        lines.append(
            f"test: best − initial = {d.diff:+.3f} [95% CI {d.low:+.3f}, "
            f"{d.high:+.3f}], p = {d.p_value:.3g}, n = {d.n} (paired)"
        )
    else:
        lines.append("test: not scored (the run was interrupted)")
    if read.guard_reason is not None:
        lines.append(f"choice: {literal(read.guard_reason)}")
    if (optimism := read.optimism) is not None:
        lines.append(
            f"selection optimism: dev {optimism.dev:.3f} vs test {optimism.test:.3f} "
            f"({optimism.dev_minus_test:+.3f}) for the chosen prompt"
        )
    task, opt = read.usage["task"], read.usage["optimizer"]
    lines.append(
        f"stopped: {literal(plain_stop(read.stopped, read.budget))} after {read.steps} "
        f"steps, {read.dev_queries} prompts evaluated on the dev examples, "
        f"{read.wall_time_s:.0f} s"
    )
    if read.search_calls is not None:
        lines.append(f"LLM calls of the search: {read.search_calls} (test scoring apart)")
    lines.append(
        f"LLM calls: task model {task.calls} ({task.prompt_tokens}+"
        f"{task.completion_tokens} tokens), optimizer model {opt.calls} "
        f"({opt.prompt_tokens}+{opt.completion_tokens} tokens); answered from the cache: "
        f"{task.cache_hits + opt.cache_hits}"
        f"{' (cost: free, local model)' if read.models_local else ''}"
    )
    if read.in_flight:
        lines.append(
            "requests in flight at the end (follows what each endpoint sustains): "
            + ", ".join(f"{role} model {n}" for role, n in read.in_flight.items())
        )
    lines += diagnosis_lines(read)
    return lines


def diagnosis_lines(report: ReportFields) -> list[str]:
    """Why the starting prompt scored (near) zero, and what to try (rich markup)."""
    diagnosis = report.diagnosis
    if diagnosis is None:
        return []
    lines = [
        f"[yellow]why the starting prompt scored {diagnosis.mean:.2f} on dev:[/] "
        f"{literal(diagnosis.sentence)}"
    ]
    for fix in diagnosis.fixes:
        lines.append(f"  to try: {literal(fix.label)} ({literal(_fix_flag(fix, report))})")
    return lines


def _fix_flag(fix: Fix, report: ReportFields) -> str:
    if fix.kind == "metric":
        return f"--metric {fix.value}"
    if fix.kind == "max_tokens":
        return f"--task-max-tokens {fix.value}"
    return f'-p "{report.seed_prompt} {fix.value}"'


def prompt_to_use(report: dict[str, Any]) -> str | None:
    """The chosen prompt as a person copies it (every message), when it has more than text."""
    read = ReportFields.of(report)
    rendered = read.best_rendered
    if not read.best_parts or not rendered or not read.changed_parts:
        return None
    changed = ", ".join(name.replace("_", " ") for name in read.changed_parts)
    head = f"The prompt to use (changed: {changed}; {{input}} marks where each input goes):"
    return f"{head}\n\n{rendered}"
