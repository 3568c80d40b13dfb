"""The run registry: what each run is (request, status, timestamps) and its final report.

Two implementations of one :class:`RunRegistry`: :class:`FolderRegistry`, one
folder per run under ``<home>/runs`` (the default), and
:class:`~memory.postgres.runs.PostgresRegistry`, shared by every process that
names the same database. Each also leases a run to one process at a time, so
two processes never drive the same run at once.
"""

from __future__ import annotations

import errno
import fcntl
import json
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from memory.file_lock import locked_beside


class RunBusy(RuntimeError):
    """The run is being driven by another process (or another session of this one)."""


class RunRegistry(Protocol):
    """Run records and reports, wherever they are kept."""

    @property
    def where(self) -> str:
        """Where the records are, for messages (a folder, or a URL without its password)."""
        ...

    def record(self, run: str, **fields: Any) -> dict[str, Any]:
        """Create or update ``run``'s record with ``fields``; returns the record."""
        ...

    def write_report(self, run: str, report: dict[str, Any]) -> None:
        """Store ``run``'s final report."""
        ...

    def list(self) -> list[dict[str, Any]]:
        """Every run's record, newest first."""
        ...

    def has(self, run: str) -> bool:
        """Whether ``run`` has a record."""
        ...

    def load(self, run: str) -> dict[str, Any]:
        """``run``'s record and, when present, its ``report``; a ValueError for an unknown run."""
        ...

    def lease(self, run: str) -> AbstractContextManager[None]:
        """Hold ``run`` for this process while the block runs; RunBusy if another has it."""
        ...


def now() -> str:
    """A record's timestamp."""
    return time.strftime("%Y-%m-%d %H:%M:%S")


def updated_record(
    known: dict[str, Any] | None, run: str, fields: dict[str, Any], where: str
) -> dict[str, Any]:
    """``known`` (or a new record of ``run``) with ``fields`` applied and stamped.

    A new record names the store it lives in (``where``, never with a password).
    """
    record = dict(known) if known is not None else {"run": run}
    record.setdefault("created", now())
    record.setdefault("store", where)
    record.update(fields, updated=now())
    return record


def unknown_run(run: str, where: str, recent: list[dict[str, Any]]) -> ValueError:
    """The error for a run id that has no record."""
    known = ", ".join(r["run"] for r in recent[:5]) or "none"
    return ValueError(f"no run {run!r} in {where} (recent: {known})")


def busy(run: str, where: str) -> RunBusy:
    """The error for a run another process holds."""
    return RunBusy(
        f"run {run} is already running in another process (runs in {where}); wait for it "
        "to finish or stop it there, then `promptpilot runs resume` it"
    )


def _write(path: Path, payload: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)  # atomic: a crash never leaves half a file


@dataclass(frozen=True)
class FolderRegistry:
    """One folder per run under ``<home>/runs``: ``run.json`` and ``report.json``."""

    home: Path

    @property
    def folder(self) -> Path:
        """Where run folders live."""
        return self.home / "runs"

    @property
    def where(self) -> str:
        """Where the records are, for messages."""
        return str(self.folder)

    def record(self, run: str, **fields: Any) -> dict[str, Any]:
        """Create or update ``run``'s record with ``fields``; returns the record."""
        path = self.folder / run / "run.json"
        with locked_beside(path):  # two processes updating one run never lose a field
            known = json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
            record = updated_record(known, run, fields, self.where)
            _write(path, record)
        return record

    def write_report(self, run: str, report: dict[str, Any]) -> None:
        """Store ``run``'s final report."""
        _write(self.folder / run / "report.json", report)

    def list(self) -> list[dict[str, Any]]:
        """Every run's record, newest first."""
        records = []
        for path in self.folder.glob("*/run.json"):
            try:
                records.append(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, ValueError):
                continue  # a damaged record must not hide the others
        return sorted(records, key=lambda r: r.get("created", ""), reverse=True)

    def has(self, run: str) -> bool:
        """Whether ``run`` has a record."""
        return (self.folder / run / "run.json").exists()

    def load(self, run: str) -> dict[str, Any]:
        """``run``'s record and, when present, its report; a ValueError for an unknown run."""
        folder = self.folder / run
        if not (folder / "run.json").exists():
            raise unknown_run(run, self.where, self.list())
        record = json.loads((folder / "run.json").read_text(encoding="utf-8"))
        report = folder / "report.json"
        if report.exists():
            record["report"] = json.loads(report.read_text(encoding="utf-8"))
        return record

    @contextmanager
    def lease(self, run: str) -> Iterator[None]:
        """Hold ``run`` for this process while the block runs; RunBusy if another has it."""
        path = self.folder / run / "lease"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a") as handle:  # a new open file: a second lease in this process fails too
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES):
                    raise busy(run, self.where) from None
                raise
            yield  # released when the file closes, or when the process dies
