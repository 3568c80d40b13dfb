"""Eval files uploaded in the app: kept under the home, previewed, their columns guessed.

An upload is copied to ``<home>/uploads/<digest>/<name>`` so a run's ``data`` path
outlives the web server's temporary files (a run reopened tomorrow still finds it),
and the same file uploaded twice is stored once. Loading goes through
:mod:`optimizers.tasks` like every other command: a bad file is a ``DataError``
naming the file, the line and the problem.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.run.evaluate import resolve_task
from optimizers.tasks import (
    BUILTIN_TASKS,
    ColumnMapping,
    DataError,
    LoadLimits,
    SplitSpec,
    builtin_task_path,
    split_task,
)
from optimizers.tasks.limits import RawRow, read_text
from optimizers.tasks.loaders import read_rows
from ui.chat.text import escape_markdown

ALLOWED_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
PREVIEW_ROWS = 8
_CELL_CHARS = 200


def store_upload(source: Path, home: Path, *, name: str | None = None) -> Path:
    """Check an uploaded file's type and size, and keep a copy under ``home``; returns it."""
    name = Path(name or source.name).name
    suffix = Path(name).suffix.lower()
    if suffix not in ALLOWED_SUFFIXES:
        found = f"a {suffix} file" if suffix else "a file without an extension"
        raise DataError(name, f"unsupported file type: expected {', '.join(ALLOWED_SUFFIXES)}, "
                        f"found {found}")  # fmt: skip
    size = source.stat().st_size
    if size > MAX_UPLOAD_BYTES:
        raise DataError(
            name,
            f"the file is too large: {size:,} bytes, over the app's limit of "
            f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB",
        )
    digest = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    target = home / "uploads" / digest / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    return target


@dataclass(frozen=True)
class DataPreview:
    """What the Data panel shows about a loaded eval set."""

    data: str  # what a request's ``data`` gets: a stored path or ``builtin:NAME``
    label: str  # the file name, or "the built-in NAME task"
    columns: list[str]  # every field name, in file order
    rows: list[list[str]]  # the first rows, cells as (shortened) text
    input_column: str | None  # the field used as input (None: set by the file's format)
    target_column: str | None
    examples: int
    sizes: dict[str, int]  # train/dev/test counts for the split spec

    @property
    def status(self) -> str:
        """``Loaded N examples from FILE`` and which columns are used, in Markdown."""
        used = ", ".join(
            f"{role} column “{escape_markdown(name)}”"
            for role, name in (("input", self.input_column), ("target", self.target_column))
            if name
        )
        splits = " · ".join(f"{self.sizes[k]} {k}" for k in ("train", "dev", "test"))
        return (
            f"Loaded {self.examples} examples from {escape_markdown(self.label)}"
            + (f" ({used})" if used else "")
            + f". Splits: {splits}."
        )


def data_error_text(error: DataError | ValueError, label: str) -> str:
    """A load error in one line that names the file as the person knows it.

    The loader's advice names the Python API (``ColumnMapping(target="...")``); in the
    app the same choice is a menu, so the advice names the menu instead.
    """
    if isinstance(error, DataError):
        where = f"{label}, line {error.line}" if error.line is not None else label
        return f"{where}: {_app_advice(error.problem)}"
    return f"{label}: {error}"


def _app_advice(problem: str) -> str:
    def menu(match: re.Match[str]) -> str:
        return f"the {match.group(1).capitalize()} column menu"

    problem = _MAPPING_ADVICE.sub(lambda m: f"pick it in {menu(m)}", problem)
    return _MAPPING_FIELD.sub(lambda m: f"({menu(m)})", problem)


_MAPPING_ADVICE = re.compile(
    r'(?:name it with |choose one with )?ColumnMapping\((input|target)="\.\.\."\)'
)
_MAPPING_FIELD = re.compile(r"\(ColumnMapping\.(input|target)\)")


def builtin_name(data: str) -> str | None:
    """The built-in task ``data`` names (``builtin:NAME`` or ``NAME``), else None."""
    name = data.removeprefix("builtin:")
    return name if name in BUILTIN_TASKS and not Path(data).exists() else None


def preview_data(
    data: str,
    *,
    columns: ColumnMapping = ColumnMapping(),
    split: SplitSpec = SplitSpec(),
    label: str | None = None,
) -> DataPreview:
    """Load ``data`` as a run would, and describe it; raises ``DataError`` / ``ValueError``."""
    builtin = builtin_name(data)
    path = builtin_task_path(builtin) if builtin else Path(data)
    label = label or (f"the built-in {builtin} task" if builtin else path.name)
    task = resolve_task(data, columns=columns)
    splits = split_task(task, split)
    sizes = {name: len(splits.get(name)) for name in ("train", "dev", "test")}
    where = str(path)
    limits = LoadLimits(max_bytes=MAX_UPLOAD_BYTES)
    _, raw = read_rows(path, read_text(path, limits), where, limits)
    keys = list(dict.fromkeys(key for row in raw for key in row.fields))
    by_id = {example.id: example for example in task.examples}
    sample = [row for row in raw if row.id in by_id][:PREVIEW_ROWS]
    input_column = columns.input or _field_holding(
        sample, keys, [by_id[r.id].input for r in sample], None
    )
    target_column = columns.target or _field_holding(
        sample, keys, [by_id[r.id].targets for r in sample], input_column
    )
    return DataPreview(
        data=f"builtin:{builtin}" if builtin else data,
        label=label,
        columns=keys,
        rows=[[_cell(row.fields.get(key)) for key in keys] for row in raw[:PREVIEW_ROWS]],
        input_column=input_column,
        target_column=target_column,
        examples=len(task),
        sizes=sizes,
    )


def request_preview(request: Mapping[str, Any]) -> tuple[DataPreview, SplitSpec]:
    """A run's data with the columns and split sizes its request recorded, and those sizes.

    ``request`` is ``OptimizeRequest.config()``; raises as :func:`preview_data` does.
    """
    columns = ColumnMapping(**(request.get("columns") or {}))
    split = SplitSpec(**(request.get("split_spec") or {}))
    return preview_data(request["data"], columns=columns, split=split), split


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return text if len(text) <= _CELL_CHARS else text[: _CELL_CHARS - 1] + "…"


def _field_holding(
    rows: list[RawRow], keys: list[str], values: list[object], exclude: str | None
) -> str | None:
    """The field whose raw values are the loaded ones (how the loader's guess is named)."""

    def same(raw: object, loaded: object) -> bool:
        if isinstance(loaded, tuple):
            items = raw if isinstance(raw, list) else [raw]
            return tuple(str(item) for item in items) == loaded
        return str(raw) == loaded

    for key in keys:
        if (
            key != exclude
            and rows
            and all(
                key in row.fields and same(row.fields[key], value)
                for row, value in zip(rows, values, strict=True)
            )
        ):
            return key
    return None
