"""What the app's Inspect panel shows, computed from a run's view (no Gradio here).

Everything reads the report-shaped trajectory (:class:`~ui.panels.run_view.ViewEntry`, a
:class:`optimizers.events.TrajectoryEntry`, seed first), so a live run, a resumed one and
a finished one from the registry look the same. Index ``i`` of the trajectory is the
``#`` people use to accept or roll back ("accept 3"). The embedding map is computed in
:mod:`ui.panels.embedding_map`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.run.report_fields import Spend
from optimizers.base import prompt_key
from optimizers.events import TrajectoryEntry
from optimizers.gpo.edit_distance import word_edit_distance
from ui.panels.run_view import ExampleRow, RunView, ViewEntry


def queries_spent(trajectory: Sequence[TrajectoryEntry]) -> list[int]:
    """Dev queries spent when each entry was scored (a reused score costs none; seed = 1)."""
    spent, out = 0, []
    for entry in trajectory:
        spent += 0 if entry.reused else 1
        out.append(spent)
    return out


def best_index(trajectory: Sequence[TrajectoryEntry], best_prompt: str | None = None) -> int | None:
    """The ``#`` of the best prompt: the search's choice when given, else the top dev score."""
    if not trajectory:
        return None
    if best_prompt:
        key = prompt_key(best_prompt)
        for i, entry in enumerate(trajectory):
            if prompt_key(entry.prompt) == key:
                return i
    return max(range(len(trajectory)), key=lambda i: (trajectory[i].dev, -i))


@dataclass(frozen=True)
class ScoreSeries:
    """Dev score against dev queries: one line per source, the best so far, the best point."""

    lines: dict[str, tuple[list[int], list[float]]]
    best_so_far: tuple[list[int], list[float]]
    best: tuple[int, float] | None


def score_series(
    trajectory: Sequence[TrajectoryEntry], best_prompt: str | None = None
) -> ScoreSeries:
    """Plot data for the score panel; reused scores are left out (they cost no query)."""
    queries = queries_spent(trajectory)
    lines: dict[str, tuple[list[int], list[float]]] = {}
    top_x: list[int] = []
    top_y: list[float] = []
    for entry, x in zip(trajectory, queries, strict=True):
        if entry.reused:
            continue
        xs, ys = lines.setdefault(entry.source, ([], []))
        xs.append(x)
        ys.append(float(entry.dev))
        top_x.append(x)
        top_y.append(max(float(entry.dev), top_y[-1]) if top_y else float(entry.dev))
    index = best_index(trajectory, best_prompt)
    best = None if index is None else (queries[index], float(trajectory[index].dev))
    return ScoreSeries(lines=lines, best_so_far=(top_x, top_y), best=best)


CANDIDATE_HEADERS = ["#", "prompt", "dev score", "source", "step", "edit distance"]


def run_steps(trajectory: Sequence[TrajectoryEntry]) -> list[int]:
    """The run's step each entry was scored in, numbered as the chat numbers them.

    An entry's own ``step`` is its method's count (textgrad's step 1 can come after gpo's
    step 2), so the run's steps are read from the order: the seed's scoring is step 1, and
    a new step starts where the entry's ``(source, step)`` changes.
    """
    numbers: list[int] = []
    step, last = 0, None
    for entry in trajectory:
        key = (entry.source, entry.step)
        if key != last:
            step, last = step + 1, key
        numbers.append(step)
    return numbers


def candidate_rows(trajectory: Sequence[ViewEntry]) -> list[list[Any]]:
    """One row per trajectory entry: ``#``, prompt, dev score, source, run step, words changed.

    The edit distance is word-level, to the seed (``#0``); the source says when a score was
    reused and when a later "roll back" took the candidate out of the running for best.
    """
    if not trajectory:
        return []
    seed = trajectory[0].prompt
    return [
        [
            i,
            entry.prompt,
            round(float(entry.dev), 4),
            entry.source
            + (" (seen before)" if entry.reused else "")
            + (" (rolled back)" if entry.rolled_back else ""),
            step,
            word_edit_distance(entry.prompt, seed),
        ]
        for i, (entry, step) in enumerate(zip(trajectory, run_steps(trajectory), strict=True))
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


def example_rows(examples: Sequence[ExampleRow]) -> list[list[Any]]:
    """Per-example results (already failures first), as table rows."""
    return [
        [round(float(e.score), 3), e.input, " | ".join(e.targets), e.output, e.error or ""]
        for e in examples
    ]


def examples_view(examples: Sequence[Any]) -> list[ExampleRow]:
    """:class:`~optimizers.evaluation.evaluator.ExampleResult` s as rows, worst first."""
    return [ExampleRow.of(r) for r in sorted(examples, key=lambda r: r.score)]


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


def budget_markdown(view: RunView) -> str:
    """The budget meter: dev queries, paid calls, tokens and time against the limits."""
    used, limits, spend = view.used, view.limits, Spend.of(view.usage)
    return "\n".join(
        [
            f"- **Dev queries** {used.queries} — {_meter(used.queries, limits.max_queries)}",
            f"- **Paid LLM calls** {used.calls} — {_meter(used.calls, limits.max_calls)} "
            f"({spend.cache_hits} answered from the cache, free)",
            f"- **Tokens** {spend.tokens:,} (paid calls, both models)",
            f"- **Time** {_clock(used.seconds)} — {_meter(used.seconds, limits.max_seconds)}",
        ]
    )


def status_line(view: RunView | None) -> str:
    """``running · step N · best dev X``, ``paused``, ``waiting: …``, ``finished``, ``error: …``."""
    if view is None:
        return "no run yet"
    status = view.status
    if status in ("starting", "running"):
        best = view.best_dev
        best_text = "—" if best is None else f"{best:.3f}"
        if status == "starting":
            return "running · starting: loading the data and the models"
        return f"running · step {view.steps} · best dev {best_text}"
    if status == "waiting":
        question = view.question or ""
        return "paused" if "paus" in question.lower() else f"waiting: {question}"
    if status == "error":
        return f"error: {view.detail}"
    return status or "unknown"
