"""The run registry: one folder per run under ``<home>/runs``, plus the checkpoints.

``run.json`` says what a run is (request, status, timestamps); ``report.json``
holds its final report. The graph's checkpoints (everything needed to resume)
are in ``<home>/checkpoints.sqlite``, keyed by the run id.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


def runs_dir(home: Path) -> Path:
    """Where run folders live."""
    return home / "runs"


def checkpoint_path(home: Path) -> Path:
    """The SQLite file of the graph checkpointer."""
    return home / "checkpoints.sqlite"


def _write(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)  # atomic: a crash never leaves half a file


def record_run(home: Path, run: str, **fields: Any) -> dict[str, Any]:
    """Create or update ``run.json`` with ``fields``; returns the record."""
    path = runs_dir(home) / run / "run.json"
    record = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"run": run}
    record.setdefault("created", time.strftime("%Y-%m-%d %H:%M:%S"))
    record.update(fields, updated=time.strftime("%Y-%m-%d %H:%M:%S"))
    _write(path, record)
    return record


def write_report(home: Path, run: str, report: dict[str, Any]) -> Path:
    """Store a run's final report; returns its path."""
    path = runs_dir(home) / run / "report.json"
    _write(path, report)
    return path


def save_finished(
    home: Path, optimizer: str, request: dict[str, Any], report: dict[str, Any]
) -> None:
    """Record a finished run and its report."""
    record_run(home, report["run"], status="finished", optimizer=optimizer, request=request)
    write_report(home, report["run"], report)


def list_runs(home: Path) -> list[dict[str, Any]]:
    """Every run's record, newest first."""
    records = []
    for path in runs_dir(home).glob("*/run.json"):
        try:
            records.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError):
            continue  # a damaged record must not hide the others
    return sorted(records, key=lambda r: r.get("created", ""), reverse=True)


def load_run(home: Path, run: str) -> dict[str, Any]:
    """A run's record and, when present, its report."""
    folder = runs_dir(home) / run
    if not (folder / "run.json").exists():
        known = ", ".join(r["run"] for r in list_runs(home)[:5]) or "none"
        raise ValueError(f"no run {run!r} in {runs_dir(home)} (recent: {known})")
    record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
    report = folder / "report.json"
    if report.exists():
        record["report"] = json.loads(report.read_text(encoding="utf-8"))
    return record
