"""A run's view as JSON: what the app shows about it, saved beside its record.

The app's panels read one dict per run (the *view*): status, chat messages, the
report-shaped trajectory, rejected candidates, per-example results of the best
prompt, the embedding map, budget used and limits, and the report. A live run
builds it as it goes (:mod:`ui.live_runs`) and saves it to
``<home>/runs/<id>/view.json`` after each step, so a run reopened after the app
restarted looks as it did. Runs the app never saw (started from the command line)
get a view made from their record and report.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agent.run.records import list_runs, load_run, runs_dir
from ui.chat.text import message, result_text

VIEW_FILE = "view.json"


def new_view(run: str, request: dict[str, Any], messages: list[dict[str, Any]]) -> dict[str, Any]:
    """The view of a run that has not scored anything yet."""
    return {
        "run": run,
        "status": "starting",
        "detail": "",
        "question": None,
        "version": 0,
        "request": request,
        "seed_prompt": request.get("prompt", ""),
        "messages": list(messages),
        "trajectory": [],
        "rejected": [],
        "steps": 0,
        "best_prompt": request.get("prompt", ""),
        "best_dev": None,
        "examples": [],
        "map": None,
        "used": {"queries": 0, "calls": 0, "seconds": 0.0},
        "usage": {},
        "limits": dict(request.get("budget") or {}),
        "report": None,
    }


def view_path(home: Path, run: str) -> Path:
    """Where a run's view is saved."""
    return runs_dir(home) / run / VIEW_FILE


def save_view(home: Path, view: dict[str, Any]) -> None:
    """Write a run's view atomically (a crash never leaves half a file)."""
    path = view_path(home, view["run"])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(view, ensure_ascii=False), encoding="utf-8")
    tmp.replace(path)


def load_view(home: Path, run: str) -> dict[str, Any] | None:
    """The saved view of ``run``, or None (never saved, or unreadable)."""
    try:
        return json.loads(view_path(home, run).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def view_from_record(record: dict[str, Any]) -> dict[str, Any]:
    """A view made from a run's record (``agent.run.records.load_run``), for a run never seen."""
    request = record.get("request") or {}
    view = new_view(record["run"], request, [])
    view["status"] = record.get("status", "stopped")
    report = record.get("report")
    if report is None:
        view["messages"] = [
            message(
                "This run has no report yet (it stopped or is waiting). Say *resume* to continue "
                "it from its last checkpoint."
            )
        ]
        return view
    usage = report.get("usage") or {}
    view.update(
        trajectory=report.get("trajectory", []),
        rejected=report.get("rejected", []),
        steps=report.get("steps", 0),
        best_prompt=report.get("best_prompt", ""),
        best_dev=((report.get("scores") or {}).get("best") or {}).get("dev", {}).get("mean"),
        used={
            "queries": report.get("dev_queries", 0),
            "calls": sum(role.get("calls", 0) for role in usage.values()),
            "seconds": report.get("wall_time_s", 0.0),
        },
        usage=usage,
        report=report,
        messages=[message(result_text(report))],
    )
    return view


RUN_TABLE_HEADERS = ["run", "status", "created", "data", "best dev", "best test"]


def run_table(home: Path, limit: int = 50) -> list[list[Any]]:
    """The newest ``limit`` runs of the registry as rows for the Runs panel."""
    rows = []
    for record in list_runs(home)[:limit]:
        try:
            report = load_run(home, record["run"]).get("report") or {}
        except (OSError, ValueError):
            report = {}
        best = (report.get("scores") or {}).get("best") or {}
        dev, test = best.get("dev") or {}, best.get("test") or {}
        data = str((record.get("request") or {}).get("data", ""))
        rows.append(
            [
                record["run"],
                record.get("status", "?"),
                record.get("created", ""),
                Path(data.removeprefix("builtin:")).name,
                round(dev["mean"], 3) if dev else None,
                round(test["mean"], 3) if test else None,
            ]
        )
    return rows
