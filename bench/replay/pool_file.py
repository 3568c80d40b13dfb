"""The pool file: candidates, their per-example dev and test scores, and how they were made.

One JSON document (gzip-compressed when the name ends in ``.gz``) written once by the
pool builder and read by every replay. Embeddings are not stored: they are recomputed
from the embedder the file names, which is deterministic and keeps the file small.
Means are stored for people reading the file and checked against the per-example
scores on load.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from optimizers.base import prompt_key
from replay.pool import ScoredPool

FORMAT = "promptpilot-pool/1"


@dataclass(frozen=True, kw_only=True)
class PoolCandidate:
    """One prompt of the pool with its per-example scores (in the file's example order)."""

    text: str
    source: str
    dev_scores: tuple[float, ...]
    test_scores: tuple[float, ...]

    @property
    def dev(self) -> float:
        """Mean dev score."""
        return math.fsum(self.dev_scores) / len(self.dev_scores)

    @property
    def test(self) -> float:
        """Mean test score."""
        return math.fsum(self.test_scores) / len(self.test_scores)


@dataclass(frozen=True, kw_only=True)
class PoolFile:
    """What a pool file holds. ``meta`` says how it was made (model, splits, machine...)."""

    task: str
    dev_ids: tuple[str, ...]
    test_ids: tuple[str, ...]
    candidates: tuple[PoolCandidate, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.candidates:
            raise ValueError(f"pool {self.task!r} has no candidates")
        for i, candidate in enumerate(self.candidates):
            if len(candidate.dev_scores) != len(self.dev_ids):
                raise ValueError(
                    f"candidate {i} has {len(candidate.dev_scores)} dev scores, "
                    f"expected {len(self.dev_ids)} (one per dev example)"
                )
            if len(candidate.test_scores) != len(self.test_ids):
                raise ValueError(
                    f"candidate {i} has {len(candidate.test_scores)} test scores, "
                    f"expected {len(self.test_ids)} (one per test example)"
                )
        keys = [prompt_key(c.text) for c in self.candidates]
        if len(set(keys)) != len(keys):
            raise ValueError(f"pool {self.task!r} holds duplicate prompt texts")

    @property
    def texts(self) -> list[str]:
        """Candidate texts, in file order."""
        return [c.text for c in self.candidates]

    def scored_pool(self, embeddings: np.ndarray) -> ScoredPool:
        """The pool for replay, with ``embeddings`` (``n x d``, in file order)."""
        dev_examples = np.array([c.dev_scores for c in self.candidates], dtype=np.float64)
        return ScoredPool(
            texts=tuple(self.texts),
            embeddings=embeddings,
            dev=dev_examples.mean(axis=1),
            test=np.array([c.test for c in self.candidates]),
            dev_examples=dev_examples,
        )

    # ----------------------------------------------------------------------------- I/O

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, means included for readers."""
        return {
            "format": FORMAT,
            "task": self.task,
            "meta": self.meta,
            "dev_ids": list(self.dev_ids),
            "test_ids": list(self.test_ids),
            "candidates": [
                {
                    "text": c.text,
                    "source": c.source,
                    "dev": round(c.dev, 6),
                    "test": round(c.test, 6),
                    "dev_scores": list(c.dev_scores),
                    "test_scores": list(c.test_scores),
                }
                for c in self.candidates
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, where: str = "pool") -> PoolFile:
        """Inverse of :meth:`to_dict`; a wrong format or inconsistent means is an error."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"{where}: expected a {FORMAT!r} document, found {found!r}")
        candidates = []
        for i, raw in enumerate(data["candidates"]):
            candidate = PoolCandidate(
                text=str(raw["text"]),
                source=str(raw["source"]),
                dev_scores=tuple(float(s) for s in raw["dev_scores"]),
                test_scores=tuple(float(s) for s in raw["test_scores"]),
            )
            for split in ("dev", "test"):
                stored, actual = float(raw[split]), getattr(candidate, split)
                if abs(stored - actual) > 1e-5:
                    raise ValueError(
                        f"{where}: candidate {i} says {split} = {stored}, but its "
                        f"per-example scores average {actual:.6f}"
                    )
            candidates.append(candidate)
        return cls(
            task=str(data["task"]),
            dev_ids=tuple(str(x) for x in data["dev_ids"]),
            test_ids=tuple(str(x) for x in data["test_ids"]),
            candidates=tuple(candidates),
            meta=dict(data.get("meta") or {}),
        )

    def save(self, path: str | Path) -> Path:
        """Write the file (gzip when ``path`` ends in ``.gz``); returns the path."""
        path = Path(path)
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=1) + "\n"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".gz":
            path.write_bytes(gzip.compress(text.encode("utf-8"), mtime=0))
        else:
            path.write_text(text, encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> PoolFile:
        """Read a file written by :meth:`save`."""
        path = Path(path)
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
        try:
            data = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{path}: not a JSON pool file ({exc})") from exc
        return cls.from_dict(data, where=str(path))
