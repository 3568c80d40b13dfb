"""What the app's Inspect panel shows, computed from a run's JSON view (no Gradio here).

Everything reads the report-shaped trajectory (:class:`optimizers.events.TrajectoryEntry`:
``prompt, source, step, dev, ci95, reused, meta``, seed first), so a live run, a resumed
one and a finished one from the registry look the same. Index ``i`` of the trajectory is
the ``#`` people use to accept or roll back ("accept 3").
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from optimizers.base import prompt_key
from optimizers.gpo.edit_distance import word_edit_distance
from optimizers.registry import ZOPO

Entry = dict[str, Any]


def queries_spent(trajectory: Sequence[Entry]) -> list[int]:
    """Dev queries spent when each entry was scored (a reused score costs none; seed = 1)."""
    spent, out = 0, []
    for entry in trajectory:
        spent += 0 if entry.get("reused") else 1
        out.append(spent)
    return out


def best_index(trajectory: Sequence[Entry], best_prompt: str | None = None) -> int | None:
    """The ``#`` of the best prompt: the search's choice when given, else the top dev score."""
    if not trajectory:
        return None
    if best_prompt:
        key = prompt_key(best_prompt)
        for i, entry in enumerate(trajectory):
            if prompt_key(entry["prompt"]) == key:
                return i
    return max(range(len(trajectory)), key=lambda i: (trajectory[i]["dev"], -i))


@dataclass(frozen=True)
class ScoreSeries:
    """Dev score against dev queries: one line per source, the best so far, the best point."""

    lines: dict[str, tuple[list[int], list[float]]]
    best_so_far: tuple[list[int], list[float]]
    best: tuple[int, float] | None


def score_series(trajectory: Sequence[Entry], best_prompt: str | None = None) -> ScoreSeries:
    """Plot data for the score panel; reused scores are left out (they cost no query)."""
    queries = queries_spent(trajectory)
    lines: dict[str, tuple[list[int], list[float]]] = {}
    top_x: list[int] = []
    top_y: list[float] = []
    for entry, x in zip(trajectory, queries, strict=True):
        if entry.get("reused"):
            continue
        xs, ys = lines.setdefault(entry["source"], ([], []))
        xs.append(x)
        ys.append(float(entry["dev"]))
        top_x.append(x)
        top_y.append(max(float(entry["dev"]), top_y[-1]) if top_y else float(entry["dev"]))
    index = best_index(trajectory, best_prompt)
    best = None if index is None else (queries[index], float(trajectory[index]["dev"]))
    return ScoreSeries(lines=lines, best_so_far=(top_x, top_y), best=best)


CANDIDATE_HEADERS = ["#", "prompt", "dev score", "source", "step", "edit distance"]


def candidate_rows(trajectory: Sequence[Entry]) -> list[list[Any]]:
    """One row per trajectory entry: ``#``, prompt, dev score, source, step, words changed.

    The edit distance is word-level, to the seed (``#0``); the source says when a score was
    reused and when a later "roll back" took the candidate out of the running for best.
    """
    if not trajectory:
        return []
    seed = trajectory[0]["prompt"]
    return [
        [
            i,
            entry["prompt"],
            round(float(entry["dev"]), 4),
            entry["source"]
            + (" (seen before)" if entry.get("reused") else "")
            + (" (rolled back)" if entry.get("rolled_back") else ""),
            entry["step"],
            word_edit_distance(entry["prompt"], seed),
        ]
        for i, entry in enumerate(trajectory)
    ]


def word_diff(before: str, after: str) -> list[tuple[str, str | None]]:
    """Word-level diff as ``(text, label)`` pieces: ``"removed"``, ``"added"``, None (kept)."""
    old, new = re.findall(r"\S+\s*", before), re.findall(r"\S+\s*", after)
    pieces: list[tuple[str, str | None]] = []
    matcher = difflib.SequenceMatcher(a=[w.strip() for w in old], b=[w.strip() for w in new])
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            pieces.append(("".join(new[j1:j2]), None))
            continue
        if i2 > i1:
            pieces.append(("".join(old[i1:i2]), "removed"))
        if j2 > j1:
            pieces.append(("".join(new[j1:j2]), "added"))
    return pieces


def diff_counts(pieces: Sequence[tuple[str, str | None]]) -> tuple[int, int]:
    """Words ``(added, removed)`` in a :func:`word_diff`."""
    added = sum(len(text.split()) for text, label in pieces if label == "added")
    removed = sum(len(text.split()) for text, label in pieces if label == "removed")
    return added, removed


EXAMPLE_HEADERS = ["score", "input", "expected", "output", "error"]


def example_rows(examples: Sequence[dict[str, Any]]) -> list[list[Any]]:
    """Per-example results (already failures first), as table rows."""
    return [
        [
            round(float(e["score"]), 3),
            e["input"],
            " | ".join(e["targets"]),
            e["output"],
            e.get("error") or "",
        ]
        for e in examples
    ]


def examples_view(examples: Sequence[Any]) -> list[dict[str, Any]]:
    """:class:`~optimizers.evaluation.evaluator.ExampleResult` s as JSON, worst first."""
    ordered = sorted(examples, key=lambda r: r.score)
    return [
        {
            "input": r.input,
            "targets": list(r.targets),
            "output": r.output,
            "score": r.score,
            "error": r.error,
        }
        for r in ordered
    ]


# ----------------------------------------------------------------------- embedding map


@dataclass(frozen=True)
class Projection:
    """A 2-D PCA basis: ``coords = (x - mean) @ axes.T``; ``explained`` variance shares."""

    mean: np.ndarray
    axes: np.ndarray  # 2 x d
    explained: tuple[float, float]

    def apply(self, points: np.ndarray) -> np.ndarray:
        """Project ``n x d`` points to ``n x 2``."""
        return (np.asarray(points, dtype=np.float64) - self.mean) @ self.axes.T


def pca_2d(points: np.ndarray) -> Projection:
    """The two principal axes of ``n x d`` points (numpy SVD); fewer points give zero axes."""
    x = np.asarray(points, dtype=np.float64)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"expected points of shape (n, d) with n >= 1, got {x.shape}")
    mean = x.mean(axis=0)
    _, singular, vt = np.linalg.svd(x - mean, full_matrices=False)
    axes = np.zeros((2, x.shape[1]))
    k = min(2, vt.shape[0])
    axes[:k] = vt[:k]
    variance = singular**2
    total = float(variance.sum())
    shares = [
        float(variance[i]) / total if total > 0 and i < len(variance) else 0.0 for i in (0, 1)
    ]
    return Projection(mean=mean, axes=axes, explained=(shares[0], shares[1]))


@dataclass(frozen=True)
class EmbeddingMap:
    """The scored prompts on a 2-D plane, coloured by dev score, with ZOPO's path and GP.

    ``points`` are unique prompts (first occurrence in the trajectory); ``path`` lists
    their rows in the order ZOPO chose them; ``field`` is the GP's relative posterior
    std at nearby unscored candidates projected on the same plane (live runs only).
    """

    xy: list[list[float]]
    scores: list[float]
    numbers: list[int]  # trajectory "#" of each point
    sources: list[str]
    uncertainty: list[float | None]  # ZOPO's relative variance when it chose the point
    seed: int
    best: int | None
    path: list[int]
    explained: tuple[float, float]
    field: dict[str, list[Any]] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """JSON form (for the run view)."""
        return {
            "xy": self.xy,
            "scores": self.scores,
            "numbers": self.numbers,
            "sources": self.sources,
            "uncertainty": self.uncertainty,
            "seed": self.seed,
            "best": self.best,
            "path": self.path,
            "explained": list(self.explained),
            "field": self.field,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EmbeddingMap:
        """Inverse of :meth:`to_dict`."""
        return cls(**{**data, "explained": tuple(data["explained"])})


def unique_prompts(trajectory: Sequence[Entry]) -> list[int]:
    """Trajectory indices of each distinct prompt's first occurrence."""
    seen: set[str] = set()
    keep = []
    for i, entry in enumerate(trajectory):
        key = prompt_key(entry["prompt"])
        if key not in seen:
            seen.add(key)
            keep.append(i)
    return keep


def embedding_map(
    trajectory: Sequence[Entry],
    vectors: np.ndarray,
    *,
    best_prompt: str | None = None,
    surrogate: Any = None,
) -> EmbeddingMap:
    """Project the prompts of :func:`unique_prompts` (``vectors``, one row each) with PCA.

    ``surrogate`` is a :class:`~optimizers.zopo.optimizer.SurrogateView` (or None): its
    candidates, with their GP std, are shown on the same plane, which is then the PCA
    plane of the scored prompts and those candidates together.
    """
    rows = unique_prompts(trajectory)
    if len(rows) != len(vectors):
        raise ValueError(
            f"expected {len(rows)} vectors (one per distinct prompt), got {len(vectors)}"
        )
    has_field = surrogate is not None and len(surrogate.texts) > 0
    # The plane of everything shown: with few scored prompts their own second axis is arbitrary.
    projection = pca_2d(np.vstack([vectors, surrogate.embeddings]) if has_field else vectors)
    xy = projection.apply(vectors)
    best = best_index(trajectory, best_prompt)
    best_key = None if best is None else prompt_key(trajectory[best]["prompt"])
    position = {prompt_key(trajectory[i]["prompt"]): n for n, i in enumerate(rows)}
    path = [
        position[prompt_key(entry["prompt"])]
        for entry in trajectory
        if entry["source"] == ZOPO and not entry.get("reused")
    ]
    field_data = None
    if has_field:
        plane = projection.apply(surrogate.embeddings)
        field_data = {
            "xy": plane.round(5).tolist(),
            "std": [round(float(v), 5) for v in surrogate.std],
            "mean": [round(float(v), 5) for v in surrogate.mean],
        }
    return EmbeddingMap(
        xy=xy.round(5).tolist(),
        scores=[float(trajectory[i]["dev"]) for i in rows],
        numbers=rows,
        sources=[trajectory[i]["source"] for i in rows],
        uncertainty=[_uncertainty(trajectory[i]) for i in rows],
        seed=0,
        best=None if best_key is None else position[best_key],
        path=path,
        explained=projection.explained,
        field=field_data,
    )


def _uncertainty(entry: Entry) -> float | None:
    value = (entry.get("meta") or {}).get("uncertainty")
    return float(value) if isinstance(value, int | float) else None


# ----------------------------------------------------------------------------- status


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"


def _meter(used: float, limit: float | None, width: int = 20) -> str:
    if not limit:
        return "no limit"
    share = min(1.0, used / limit)
    filled = round(share * width)
    return f"`{'█' * filled}{'░' * (width - filled)}` {share:.0%} of {limit:g}"


def budget_markdown(view: dict[str, Any]) -> str:
    """The budget meter: dev queries, paid calls, tokens and time against the limits."""
    used, limits = view.get("used") or {}, view.get("limits") or {}
    usage = view.get("usage") or {}
    tokens = sum(r.get("prompt_tokens", 0) + r.get("completion_tokens", 0) for r in usage.values())
    hits = sum(r.get("cache_hits", 0) for r in usage.values())
    queries, calls = int(used.get("queries", 0)), int(used.get("calls", 0))
    seconds = float(used.get("seconds", 0.0))
    return "\n".join(
        [
            f"- **Dev queries** {queries} — {_meter(queries, limits.get('max_queries'))}",
            f"- **Paid LLM calls** {calls} — {_meter(calls, limits.get('max_calls'))} "
            f"({hits} answered from the cache, free)",
            f"- **Tokens** {tokens:,} (paid calls, both models)",
            f"- **Time** {_clock(seconds)} — {_meter(seconds, limits.get('max_seconds'))}",
        ]
    )


def status_line(view: dict[str, Any] | None) -> str:
    """``running · step N · best dev X``, ``paused``, ``waiting: …``, ``finished``, ``error: …``."""
    if not view:
        return "no run yet"
    status = view.get("status", "")
    if status in ("starting", "running"):
        best = view.get("best_dev")
        best_text = "—" if best is None else f"{best:.3f}"
        if status == "starting":
            return "running · starting: loading the data and the models"
        return f"running · step {view.get('steps', 0)} · best dev {best_text}"
    if status == "waiting":
        question = view.get("question") or ""
        return "paused" if "paus" in question.lower() else f"waiting: {question}"
    if status == "error":
        return f"error: {view.get('detail', '')}"
    return status or "unknown"
