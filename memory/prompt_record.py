"""One prompt as the prompt store keeps it, and how it maps to Chroma's columns.

One record per ``(run, text)``: its text, task, run, step, source, parents, scores
and, for structured prompts, its parts with where each came from.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


def prompt_id(run: str, text: str) -> str:
    """Return the stable id of ``text`` in ``run``: one record per prompt and run."""
    digest = hashlib.sha256(f"{run}\x00{text}".encode()).hexdigest()
    return f"p-{digest[:32]}"


def check_name(owner: str, value: object) -> str:
    """``value`` if it is a non-blank string, else a ``ValueError`` naming ``owner``."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"PromptRecord.{owner} must be a non-empty string, found {value!r}")
    return value


def check_score(owner: str, value: object) -> float | None:
    """``value`` as a finite float (or None), else a ``ValueError`` naming ``owner``."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
        raise ValueError(f"{owner} must be a number or None, found {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{owner} must be a finite number, found {number}")
    return number


@dataclass(frozen=True, kw_only=True)
class PromptRecord:
    """One prompt, where it came from, and how well it did.

    ``id`` defaults to :func:`prompt_id` of ``(run, text)``. ``embedding`` is
    filled when a record is read back from (or written to) a store; it does not
    take part in equality.
    """

    id: str = ""
    text: str
    task: str
    run: str
    step: int
    source: str
    parents: tuple[str, ...] = ()
    dev_score: float | None = None
    test_score: float | None = None
    parts: dict[str, Any] | None = field(default=None, compare=False)
    """The prompt's parts (instruction, output spec, demonstrations, layout, origin) as JSON,
    when it has more than an instruction."""
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.text, str):
            raise ValueError(f"PromptRecord.text must be a string, found {self.text!r}")
        for name in ("task", "run", "source"):
            check_name(name, getattr(self, name))
        if isinstance(self.step, bool) or not isinstance(self.step, int | np.integer):
            raise ValueError(f"PromptRecord.step must be an integer, found {self.step!r}")
        if self.step < 0:
            raise ValueError(f"PromptRecord.step must be >= 0, found {self.step}")
        object.__setattr__(self, "step", int(self.step))
        if isinstance(self.parents, str):
            raise ValueError(
                f"PromptRecord.parents must be a sequence of ids, found the string {self.parents!r}"
            )
        parents = tuple(self.parents)
        for parent in parents:
            check_name("parents[...]", parent)
        object.__setattr__(self, "parents", parents)
        object.__setattr__(self, "dev_score", check_score("dev_score", self.dev_score))
        object.__setattr__(self, "test_score", check_score("test_score", self.test_score))
        if not self.id:
            object.__setattr__(self, "id", prompt_id(self.run, self.text))
        else:
            check_name("id", self.id)


def metadata_of(record: PromptRecord, seq: int) -> dict[str, str | int | float]:
    """Chroma metadata for ``record``: no None values, parents as a JSON string."""
    meta: dict[str, str | int | float] = {
        "task": record.task,
        "run": record.run,
        "step": record.step,
        "source": record.source,
        "parents": json.dumps(list(record.parents)),
        "seq": seq,
    }
    if record.dev_score is not None:
        meta["dev_score"] = record.dev_score
    if record.test_score is not None:
        meta["test_score"] = record.test_score
    if record.parts is not None:
        meta["parts"] = json.dumps(record.parts)
    return meta


def record_of(record_id: str, text: str, meta: Mapping[str, Any], embedding: Any) -> PromptRecord:
    """A record from Chroma's columns (the inverse of :func:`metadata_of`)."""
    vector = None
    if embedding is not None:
        vector = np.asarray(embedding, dtype=np.float32)
    return PromptRecord(
        id=record_id,
        text=text,
        task=str(meta["task"]),
        run=str(meta["run"]),
        step=int(meta["step"]),
        source=str(meta["source"]),
        parents=tuple(json.loads(str(meta.get("parents", "[]")))),
        dev_score=meta.get("dev_score"),
        test_score=meta.get("test_score"),
        parts=json.loads(str(meta["parts"])) if meta.get("parts") else None,
        embedding=vector,
    )


def column(result: Mapping[str, Any], key: str, n: int) -> list[Any]:
    """One column of a Chroma result; Chroma gives None (or an array) for some."""
    values = result.get(key)
    if values is None:
        return [None] * n
    return list(values)


def where_clause(task: str | None, run: str | None) -> dict[str, Any] | None:
    """Chroma's ``where`` filter for a task and/or a run (None: everything)."""
    clauses: list[dict[str, Any]] = []
    if task is not None:
        clauses.append({"task": task})
    if run is not None:
        clauses.append({"run": run})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}
