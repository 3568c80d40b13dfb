"""Recording a finished run in the run registry (a folder or PostgreSQL).

See :mod:`memory.run_registry`.
"""

from __future__ import annotations

from typing import Any

from memory.run_registry import RunRegistry


def save_finished(
    runs: RunRegistry, optimizer: str, request: dict[str, Any], report: dict[str, Any]
) -> None:
    """Record a finished run and its report."""
    runs.record(report["run"], status="finished", optimizer=optimizer, request=request)
    runs.write_report(report["run"], report)
