"""A run's view saved as JSON beside its record, and views of runs the app never saw.

A live run (:mod:`ui.live_runs`) saves its :class:`~ui.panels.run_view.RunView` to
``<home>/runs/<id>/view.json`` after each step, so a run reopened after the app
restarted looks as it did. Runs the app never saw (started from the command line)
get a view made from their record and report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.run.report_fields import ReportFields
from memory.run_registry import RunRegistry
from ui.chat.text import message, result_text
from ui.panels.run_view import RunView, Used

VIEW_FILE = "view.json"


def view_path(home: Path, run: str) -> Path:
    """Where a run's view is saved."""
    return home / "runs" / run / VIEW_FILE


def save_view(home: Path, view: RunView) -> None:
    """Write a run's view atomically (a crash never leaves half a file)."""
    path = view_path(home, view.run)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(view.to_json(), ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def load_view(home: Path, run: str) -> RunView | None:
    """The saved view of ``run``, or None (never saved, or unreadable)."""
    try:
        data = json.loads(view_path(home, run).read_text(encoding="utf-8"))
        return RunView.from_json(data)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def view_from_record(record: dict[str, Any]) -> RunView:
    """A view made from a run's record (from the run registry), for a run never seen."""
    view = RunView.new(record["run"], record.get("request") or {}, [])
    view.status = record.get("status", "stopped")
    report = record.get("report")
    if report is None:
        view.messages = [
            message(
                "This run has no report yet (it stopped or is waiting). Say *resume* to continue "
                "it from its last checkpoint."
            )
        ]
        return view
    fields = view.take_report(report)
    view.used = Used(
        queries=fields.dev_queries, calls=fields.spend.calls, seconds=fields.wall_time_s
    )
    view.messages = [message(result_text(report))]
    return view


RUN_TABLE_HEADERS = ["run", "status", "created", "data", "best dev", "best test"]


def run_table(runs: RunRegistry, limit: int = 50) -> list[list[Any]]:
    """The newest ``limit`` runs of the registry as rows for the Runs panel."""
    rows = []
    for record in runs.list()[:limit]:
        dev, test = _best_scores(runs, record["run"])
        data = str((record.get("request") or {}).get("data", ""))
        rows.append(
            [
                record["run"],
                record.get("status", "?"),
                record.get("created", ""),
                Path(data.removeprefix("builtin:")).name,
                None if dev is None else round(dev, 3),
                None if test is None else round(test, 3),
            ]
        )
    return rows


def _best_scores(runs: RunRegistry, run: str) -> tuple[float | None, float | None]:
    """The best prompt's dev and test means (None: no report yet, or not scored)."""
    try:
        report = runs.load(run).get("report")
        if report is None:
            return None, None
        fields = ReportFields.of(report)
    except (OSError, ValueError, KeyError, TypeError):  # unreadable: shown as not scored
        return None, None
    return fields.best_dev.mean, None if fields.best_test is None else fields.best_test.mean
