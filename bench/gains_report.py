"""The gains benchmark's report: ``bench/results/gains.md`` from the records ``gains.py`` wrote.

Needs no model: ``.venv/bin/python bench/gains_report.py`` reads
``bench/results/gains/runs_*.json``, ``hand_written.json`` and, if present,
``bench/results/peers.json`` (DSPy optimizers on the same tasks and splits), and
writes the Markdown. :func:`render` is a pure function of the loaded records, so
the targets it checks are unit-tested (``tests/unit/bench/test_gains_report.py``).

Statistics. Per run, the scores and the paired test difference are the run's
own (95% bootstrap intervals, sign-flip p-value). Per task, means are over seeds;
their intervals pool the per-example scores of every seed (examples x seeds),
when the records carry them, and measure test-sampling noise, not the spread
between seeds' searches (that is in the per-run table).
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import statistics
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench_common import ROOT, table_head  # bench/ (scripts run as bench/NAME.py)

from optimizers.evaluation.stats import mean_with_ci, paired_comparison
from optimizers.registry import GPO, TEXTGRAD, ZOPO

RESULTS = ROOT / "bench" / "results"
DEFAULT = "auto"
EXPECTED_SEEDS = (0, 1, 2)

# The issue's targets.
TASK_SHARE = 0.8  # (a), (e): on at least 8 of 10 tasks
MIN_GAIN = 0.25  # (b): mean paired gain over the weak seed
MAX_CALLS = 250  # (d): median run, search calls
ALONE = (ZOPO, GPO, TEXTGRAD)  # the issue asks for their tables too
MAX_SECONDS = 300.0  # (d): median run, wall time
EPS = 1e-9  # "matches": equal up to float noise

MET, MISSED, UNDECIDED = "met", "missed", "not decided"


def _task_names() -> tuple[str, ...]:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from gains_tasks import TASKS  # bench/ beside this file

    return tuple(task.name for task in TASKS)


# ------------------------------------------------------------------------------ loading


@dataclass
class Records:
    """Everything the report reads: runs per optimizer, hand-written scores, DSPy peers."""

    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    hand_written: list[dict[str, Any]] = field(default_factory=list)
    peers: list[dict[str, Any]] = field(default_factory=list)


def _records(path: Path) -> list[dict[str, Any]]:
    payload = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(payload, list):
        return payload
    for key in ("records", "runs", "results"):
        if key in payload:
            return list(payload[key])
    raise SystemExit(f"{path}: expected a list of records or {{'records': [...]}}")


def load(results_dir: Path, peers: Path | None) -> Records:
    """Read every record file that exists."""
    records = Records()
    for path in sorted(results_dir.glob("runs_*.json")):
        records.runs[path.stem.removeprefix("runs_")] = _records(path)
    hand = results_dir / "hand_written.json"
    if hand.exists():
        records.hand_written = _records(hand)
    if peers is not None and peers.exists():
        records.peers = _records(peers)
    return records


# ------------------------------------------------------------------------------ numbers


@dataclass(frozen=True)
class Score:
    """A mean with its 95% interval (None when the records cannot give one)."""

    mean: float
    low: float | None = None
    high: float | None = None

    def cell(self, signed: bool = False) -> str:
        fmt = "{:+.3f}" if signed else "{:.3f}"
        text = fmt.format(self.mean)
        if self.low is not None and self.high is not None:
            text += f" [{fmt.format(self.low)}, {fmt.format(self.high)}]"
        return text


def _score(entry: dict[str, Any] | None) -> Score | None:
    if not entry:
        return None
    low, high = entry.get("ci95") or (None, None)
    return Score(entry["mean"], low, high)


def _cell(entry: dict[str, Any] | None, signed: bool = False) -> str:
    score = _score(entry)
    return "—" if score is None else score.cell(signed=signed)


def _pooled(means: list[float], scores: list[list[float]] | None) -> Score:
    """Mean over seeds; its interval from the pooled per-example scores, when known."""
    if len(means) == 1 or scores is None:
        return Score(statistics.mean(means))
    _, interval = mean_with_ci([s for run in scores for s in run])
    return Score(statistics.mean(means), interval.low, interval.high)


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


@dataclass(frozen=True)
class HandWritten:
    """The better of a task's two hand-written instructions (by its mean over seeds)."""

    index: int
    prompt: str
    score: Score
    by_seed: dict[int, Score]


def best_hand_written(
    hand: list[dict[str, Any]], task: str, seeds: Sequence[int]
) -> HandWritten | None:
    """The hand-written instruction with the higher mean test score over ``seeds``."""
    mine = [r for r in hand if r["task"] == task and r["seed"] in seeds]
    if not mine:
        return None
    candidates = []
    for index in sorted({r["prompt_index"] for r in mine}):
        records = sorted((r for r in mine if r["prompt_index"] == index), key=lambda r: r["seed"])
        scores = [r.get("test_scores", {}).get("scores") for r in records]
        pooled_scores = None if any(s is None for s in scores) else scores
        if len(records) == 1:
            score = _score(records[0]["test"])
        else:
            score = _pooled([r["test"]["mean"] for r in records], pooled_scores)
        by_seed = {r["seed"]: _score(r["test"]) for r in records}
        complete = {r["seed"] for r in records} == {r["seed"] for r in mine}
        candidates.append((complete, score.mean, index, records[0]["prompt"], score, by_seed))
    _, _, index, prompt, score, by_seed = max(candidates, key=lambda c: (c[0], c[1]))
    return HandWritten(index, prompt, score, by_seed)


@dataclass(frozen=True)
class TaskRow:
    """One optimizer on one task, over its seeds."""

    task: str
    runs: list[dict[str, Any]]  # sorted by seed, test scored
    initial: Score
    final: Score
    diff: Score
    p: float | None
    hand: HandWritten | None
    search_calls: float
    calls: float
    wall: float
    parts: str

    @property
    def seeds(self) -> list[int]:
        return [run["seed"] for run in self.runs]


def _scored(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in runs if r.get("final_test") and r.get("initial_test")]


def task_row(runs: list[dict[str, Any]], hand: list[dict[str, Any]], task: str) -> TaskRow | None:
    """The summary of ``runs`` on ``task`` (None when none of them was scored on test)."""
    mine = sorted(_scored([r for r in runs if r["task"] == task]), key=lambda r: r["seed"])
    if not mine:
        return None
    scores = [r.get("test_scores") for r in mine]
    pooled = None if any(s is None for s in scores) else scores
    diffs = [r["test_difference"]["diff"] for r in mine if r.get("test_difference")]
    if len(mine) == 1 and mine[0].get("test_difference"):
        diff = _score({"mean": diffs[0], "ci95": mine[0]["test_difference"]["ci95"]})
        p = mine[0]["test_difference"]["p"]
    elif pooled is not None:
        comparison = paired_comparison(
            [s for run in pooled for s in run["initial"]],
            [s for run in pooled for s in run["final"]],
        )
        diff = Score(comparison.diff, comparison.interval.low, comparison.interval.high)
        p = comparison.p_value
    else:
        mean_diff = statistics.mean(diffs) if diffs else float("nan")
        diff, p = Score(mean_diff), None
    if len(mine) == 1:
        initial, final = _score(mine[0]["initial_test"]), _score(mine[0]["final_test"])
    else:
        initial = _pooled(
            [r["initial_test"]["mean"] for r in mine],
            None if pooled is None else [s["initial"] for s in pooled],
        )
        final = _pooled(
            [r["final_test"]["mean"] for r in mine],
            None if pooled is None else [s["final"] for s in pooled],
        )
    assert initial is not None
    assert final is not None
    changed = Counter(part for r in mine for part in r.get("changed_parts", []))
    unchanged = sum(not r.get("changed_parts") for r in mine)
    parts = [f"{part} {count}/{len(mine)}" for part, count in changed.most_common()]
    if unchanged:
        parts.append(f"none {unchanged}/{len(mine)}")
    return TaskRow(
        task=task,
        runs=mine,
        initial=initial,
        final=final,
        diff=diff,
        p=p,
        hand=best_hand_written(hand, task, [r["seed"] for r in mine]),
        search_calls=statistics.median(r["search_calls"] for r in mine),
        calls=statistics.median(r["calls"] for r in mine),
        wall=statistics.median(r["wall_time_s"] for r in mine),
        parts=", ".join(parts),
    )


def task_rows(
    runs: list[dict[str, Any]], hand: list[dict[str, Any]], tasks: Sequence[str]
) -> list[TaskRow]:
    rows = [task_row(runs, hand, task) for task in tasks]
    return [row for row in rows if row is not None]


# ------------------------------------------------------------------------------ peers


def peer_test(record: dict[str, Any]) -> float | None:
    """A peer record's test mean (``test`` as a number or ``{"mean": ...}``, or ``test_mean``)."""
    test = record.get("test")
    if isinstance(test, dict):
        test = test.get("mean")
    if test is None:
        test = record.get("test_mean", record.get("mean"))
    return None if test is None else float(test)


def peer_ok(record: dict[str, Any]) -> bool:
    return not record.get("error") and peer_test(record) is not None


@dataclass(frozen=True)
class PeerRow:
    """One DSPy optimizer on one task, over the seeds it shares with PromptPilot."""

    optimizer: str
    test: float | None  # None: every seed failed
    calls: float | None  # median compile calls
    seeds: int
    errors: int


def peer_rows(peers: list[dict[str, Any]], task: str, seeds: Sequence[int]) -> list[PeerRow]:
    """Each peer optimizer on ``task``: mean test and median compile calls on ``seeds``.

    With no seed in common, every seed the peer ran counts.
    """
    mine = [r for r in peers if r["task"] == task]
    rows = []
    for name in dict.fromkeys(r["optimizer"] for r in mine):
        records = [r for r in mine if r["optimizer"] == name]
        common = [r for r in records if r.get("seed") in seeds]
        records = common or records
        ok = [r for r in records if peer_ok(r)]
        calls = [float(r["compile_calls"]) for r in ok if r.get("compile_calls") is not None]
        rows.append(
            PeerRow(
                optimizer=name,
                test=statistics.mean(float(peer_test(r) or 0.0) for r in ok) if ok else None,
                calls=_median(calls),
                seeds=len(ok),
                errors=len(records) - len(ok),
            )
        )
    return rows


def row_beside_peers(
    runs: list[dict[str, Any]], hand: list[dict[str, Any]], peers: list[dict[str, Any]], task: str
) -> TaskRow | None:
    """PromptPilot's row on ``task`` over the seeds the peers ran too (all when none shared)."""
    theirs = {r.get("seed") for r in peers if r["task"] == task}
    shared = [r for r in runs if r["task"] == task and r["seed"] in theirs]
    return task_row(shared or runs, hand, task)


def best_peer(rows: list[PeerRow]) -> PeerRow | None:
    """The highest test score; on a tie, the cheaper one (the stricter yardstick)."""
    scored = [r for r in rows if r.test is not None]
    if not scored:
        return None
    return max(scored, key=lambda r: (r.test, -(r.calls if r.calls is not None else math.inf)))


def matches_peer(row: TaskRow, peer: PeerRow) -> bool:
    """PromptPilot's test score >= the peer's, paying no more search calls than it compiled."""
    assert peer.test is not None
    cheaper = peer.calls is not None and row.search_calls <= peer.calls
    return row.final.mean >= peer.test - EPS and cheaper


def undominated(row: TaskRow, peers: list[PeerRow]) -> bool:
    """The looser reading of (e): at least the best peer's score, and no peer that reaches
    PromptPilot's score paid fewer calls for it.

    The literal reading cannot be met against a peer that pays nothing (LabeledFewShot puts
    the first k train examples in the prompt with 0 calls), however far PromptPilot beats it.
    """
    scored = [p for p in peers if p.test is not None]
    best = best_peer(scored)
    if best is None or row.final.mean < (best.test or 0.0) - EPS:
        return False
    return not any(
        p.test is not None
        and p.test >= row.final.mean - EPS
        and p.calls is not None
        and p.calls < row.search_calls
        for p in scored
    )


# ------------------------------------------------------------------------------ targets


@dataclass(frozen=True)
class Target:
    """One of the issue's targets, checked: ``status`` is met, missed or not decided."""

    key: str
    goal: str
    status: str
    detail: str

    def line(self) -> str:
        return f"- ({self.key}) {self.goal}: **{self.status.upper()}**. {self.detail}"


def _count_status(good: int, unknown: int, needed: int) -> str:
    """Met once ``needed`` are good; missed once even every unknown could not get there."""
    if good >= needed:
        return MET
    if good + unknown < needed:
        return MISSED
    return UNDECIDED


def _complete(row: TaskRow | None, seeds: Sequence[int]) -> bool:
    return row is not None and set(seeds) <= set(row.seeds)


def check_targets(
    records: Records, *, tasks: Sequence[str], seeds: Sequence[int] = EXPECTED_SEEDS
) -> list[Target]:
    """The issue's targets (a)-(e) on the default run's records."""
    runs = records.runs.get(DEFAULT, [])
    rows = {task: task_row(runs, records.hand_written, task) for task in tasks}
    complete = all(_complete(rows[t], seeds) for t in tasks)
    needed = math.ceil(TASK_SHARE * len(tasks))
    measured = [row for row in rows.values() if row is not None]
    coverage = (
        f"{sum(len(r.runs) for r in measured)} of {len(tasks) * len(seeds)} task/seed runs recorded"
    )
    return [
        _target_a(rows, tasks, seeds, needed),
        _target_b(measured, complete, coverage),
        _target_c(runs, tasks, complete, coverage),
        _target_d(measured, complete, coverage),
        _target_e(rows, records.hand_written, records.peers, tasks, seeds, needed),
    ]


def _target_a(
    rows: dict[str, TaskRow | None], tasks: Sequence[str], seeds: Sequence[int], needed: int
) -> Target:
    good, below, unknown = [], [], []
    for task in tasks:
        row = rows[task]
        if row is None or row.hand is None or not _complete(row, seeds):
            unknown.append(task)
        elif row.final.mean >= row.hand.score.mean - EPS:
            good.append(task)
        else:
            below.append(f"{task} {row.final.mean:.3f} < {row.hand.score.mean:.3f}")
    detail = f"{len(good)} of {len(tasks)} tasks reach the better hand-written instruction"
    detail += f" (per-task means over seeds; needed {needed})."
    if below:
        detail += " Below it: " + "; ".join(below) + "."
    if unknown:
        detail += " Not fully measured: " + ", ".join(unknown) + "."
    return Target(
        "a",
        f"final test >= the better hand-written instruction on >= {needed} of {len(tasks)} tasks",
        _count_status(len(good), len(unknown), needed),
        detail,
    )


def _target_b(measured: list[TaskRow], complete: bool, coverage: str) -> Target:
    goal = f"mean paired test gain over the weak seed >= {MIN_GAIN:+.2f}"
    if not measured:
        return Target("b", goal, UNDECIDED, "No run recorded.")
    gain = statistics.mean(row.diff.mean for row in measured)
    ok = gain >= MIN_GAIN - EPS
    detail = f"Mean over {len(measured)} tasks of the per-task mean gain: {gain:+.3f}."
    if not complete:
        so_far = "met" if ok else "missed"
        return Target("b", goal, UNDECIDED, f"{detail} So far {so_far}; {coverage}.")
    return Target("b", goal, MET if ok else MISSED, detail)


def _target_c(
    runs: list[dict[str, Any]], tasks: Sequence[str], complete: bool, coverage: str
) -> Target:
    goal = "no task/seed significantly below its seed (paired 95% CI upper bound < 0)"
    mine = [r for r in runs if r["task"] in tasks and r.get("test_difference")]
    losses = sorted(
        (r for r in mine if r["test_difference"]["ci95"][1] < 0),
        key=lambda r: (r["task"], r["seed"]),
    )
    if losses:
        listed = "; ".join(
            f"{r['task']} seed {r['seed']} {r['test_difference']['diff']:+.3f} "
            f"[{r['test_difference']['ci95'][0]:+.3f}, {r['test_difference']['ci95'][1]:+.3f}]"
            for r in losses
        )
        return Target("c", goal, MISSED, f"{len(losses)} of {len(mine)} runs: {listed}.")
    if not mine:
        return Target("c", goal, UNDECIDED, "No run recorded.")
    detail = f"None of {len(mine)} runs."
    if not complete:
        return Target("c", goal, UNDECIDED, f"{detail} So far met; {coverage}.")
    return Target("c", goal, MET, detail)


def _target_d(measured: list[TaskRow], complete: bool, coverage: str) -> Target:
    goal = f"median run <= {MAX_CALLS} search calls and <= {MAX_SECONDS:.0f} s"
    runs = [run for row in measured for run in row.runs]
    if not runs:
        return Target("d", goal, UNDECIDED, "No run recorded.")
    calls = statistics.median(r["search_calls"] for r in runs)
    seconds = statistics.median(r["wall_time_s"] for r in runs)
    calls_ok, seconds_ok = calls <= MAX_CALLS, seconds <= MAX_SECONDS
    detail = (
        f"Median over {len(runs)} runs: {calls:.0f} search calls "
        f"({'within' if calls_ok else 'over'} {MAX_CALLS}), {seconds:.0f} s "
        f"({'within' if seconds_ok else 'over'} {MAX_SECONDS:.0f}); test scoring not counted "
        "in calls, counted in time."
    )
    ok = calls_ok and seconds_ok
    if not complete:
        return Target("d", goal, UNDECIDED, f"{detail} So far {'met' if ok else 'missed'}; "
                      f"{coverage}.")  # fmt: skip
    return Target("d", goal, MET if ok else MISSED, detail)


def _target_e(
    rows: dict[str, TaskRow | None],
    hand: list[dict[str, Any]],
    peers: list[dict[str, Any]],
    tasks: Sequence[str],
    seeds: Sequence[int],
    needed: int,
) -> Target:
    goal = (
        f"matches or beats the best DSPy optimizer's test score on >= {needed} of {len(tasks)} "
        "tasks while paying no more calls than it"
    )
    if not peers:
        return Target("e", goal, UNDECIDED, "No DSPy results (bench/results/peers.json).")
    good, short, unknown, pareto = [], [], [], 0
    for task in tasks:
        row = rows[task]
        task_peers = peer_rows(peers, task, seeds)
        peer = best_peer(task_peers)
        if row is None or peer is None or not _complete(row, seeds):
            unknown.append(task)
            continue
        row = row_beside_peers(row.runs, hand, peers, task)  # the seeds both sides ran
        assert row is not None  # row.runs are test-scored runs of this task
        pareto += undominated(row, task_peers)
        if matches_peer(row, peer):
            good.append(task)
        else:
            calls = "?" if peer.calls is None else f"{peer.calls:.0f}"
            short.append(
                f"{task} {row.final.mean:.3f} / {row.search_calls:.0f} calls vs {peer.optimizer} "
                f"{peer.test:.3f} / {calls}"
            )
    detail = f"{len(good)} of {len(tasks)} tasks (needed {needed}); calls: PromptPilot's "
    detail += "search calls against the peer's compile calls (medians over seeds)."
    if short:
        detail += " Short: " + "; ".join(short) + "."
    if unknown:
        detail += " Not fully measured: " + ", ".join(unknown) + "."
    detail += (
        f" Read as 'at least the best peer's score, and no peer reaches that score for fewer "
        f"calls': {pareto} of {len(tasks) - len(unknown)} measured tasks."
    )
    return Target("e", goal, _count_status(len(good), len(unknown), needed), detail)


# ------------------------------------------------------------------------------ Markdown


def _fmt(value: float | None, spec: str = ".0f") -> str:
    return "—" if value is None else format(value, spec)


def machine_lines(records: Records) -> list[str]:
    """The machine and the model, as the records name them."""
    runs = [run for group in records.runs.values() for run in group]
    every = runs + records.hand_written
    if not every:
        return ["- **Machine**: no records yet."]
    machine = every[0].get("machine", {})
    loads = [r["load_average_1m"] for r in every if "load_average_1m" in r]
    load = (
        f" The 1-minute load average after each record was {min(loads):.1f}-{max(loads):.1f}: "
        "other jobs shared the cores, so wall times are upper bounds."
        if loads
        else ""
    )
    models = next((r["models"] for r in runs if r.get("models")), {})
    task_model, opt_model = models.get("task", {}), models.get("optimizer", {})
    return [
        f"- **Machine**: {machine.get('cpu', '?')}, {machine.get('cores', '?')} cores, "
        f"{machine.get('arch', '?')}, Python {machine.get('python', '?')}.{load}",
        f"- **Model** (task and optimizer): {every[0].get('model_file', '?')}, served by "
        f"llama-cpp-python {machine.get('llama_cpp_python', '?')} on 127.0.0.1, one server for "
        f"the whole benchmark. Task model temperature {task_model.get('temperature', '?')}, "
        f"max_tokens {task_model.get('max_tokens', '?')}; optimizer model temperature "
        f"{opt_model.get('temperature', '?')}, max_tokens {opt_model.get('max_tokens', '?')}.",
    ]


def per_task_table(rows: list[TaskRow]) -> list[str]:
    """Per task, over seeds: the headline table."""
    lines = table_head(
        "| task | seeds | initial test | final test | best hand-written test | "
        "Δ test (paired) | p | search calls (all) | wall s | changed parts |"
    )
    for row in rows:
        hand = "—" if row.hand is None else f"{row.hand.score.cell()} (#{row.hand.index + 1})"
        lines.append(
            f"| {row.task} | {','.join(map(str, row.seeds))} | {row.initial.cell()} | "
            f"{row.final.cell()} | {hand} | {row.diff.cell(signed=True)} | {_fmt(row.p, '.3f')} | "
            f"{row.search_calls:.0f} ({row.calls:.0f}) | {row.wall:.0f} | {row.parts or '—'} |"
        )
    if rows:
        hands = [row.hand.score.mean for row in rows if row.hand is not None]
        mean_hand = f"{statistics.mean(hands):.3f}" if len(hands) == len(rows) else "—"
        lines.append(
            f"| **mean of tasks** | | {statistics.mean(r.initial.mean for r in rows):.3f} | "
            f"{statistics.mean(r.final.mean for r in rows):.3f} | {mean_hand} | "
            f"{statistics.mean(r.diff.mean for r in rows):+.3f} | | "
            f"{statistics.median(r.search_calls for r in rows):.0f} "
            f"({statistics.median(r.calls for r in rows):.0f}) | "
            f"{statistics.median(r.wall for r in rows):.0f} | |"
        )
    lines += [
        "",
        "Scores are means over seeds, with 95% intervals over the pooled test examples of "
        "every seed (a single seed: that run's own). *best hand-written*: the better of the "
        "task's two instructions by its mean over the same seeds (#1 or #2). *Δ test*: final − "
        "initial, paired by example. *search calls*: paid calls of the search, both models "
        "(in brackets: everything the run paid, test scoring included), median over seeds; "
        "*wall s*: median; *changed parts*: in how many seeds' final prompts each part "
        "differs from the seed (none: the seed prompt was kept).",
    ]
    return lines


def per_run_table(rows: list[TaskRow]) -> list[str]:
    """One row per task and seed."""
    lines = table_head(
        "| task | seed | initial test | final test | hand-written test | Δ test [95% CI] | p | "
        "search calls (all) | wall s | stopped | guard | changed parts |"
    )
    for row in rows:
        for run in row.runs:
            difference = run.get("test_difference")
            diff = (
                _cell({"mean": difference["diff"], "ci95": difference["ci95"]}, signed=True)
                if difference
                else "—"
            )
            hand = row.hand.by_seed.get(run["seed"]) if row.hand is not None else None
            guard = run.get("guard")
            passed = "—" if not guard else ("passed" if guard.get("passed") else "kept seed")
            lines.append(
                f"| {row.task} | {run['seed']} | {_cell(run['initial_test'])} | "
                f"{_cell(run['final_test'])} | {hand.cell() if hand else '—'} | {diff} | "
                f"{_fmt(difference and difference['p'], '.3f')} | {run['search_calls']} "
                f"({run['calls']}) | {run['wall_time_s']:.0f} | {run.get('stopped') or '—'} | "
                f"{passed} | {', '.join(run.get('changed_parts', [])) or 'none'} |"
            )
    return lines


def optimizer_section(name: str, records: Records, tasks: Sequence[str]) -> list[str]:
    """The per-task and per-run tables of one optimizer's file."""
    rows = task_rows(records.runs[name], records.hand_written, tasks)
    title = "the default run (`--optimizer auto`)" if name == DEFAULT else f"`{name}` alone"
    lines = [f"## {title}", ""]
    if not rows:
        return [*lines, "No run scored on test yet.", ""]
    lines += [*per_task_table(rows), "", "### Per run", "", *per_run_table(rows), ""]
    budgets = {json.dumps(run.get("budget")) for row in rows for run in row.runs}
    if budgets != {"null"}:
        lines += [
            f"**Not the default budget** ({', '.join(sorted(budgets))}): a smoke test, not a "
            "measurement of the default run.",
            "",
        ]
    return lines


def peers_section(records: Records, tasks: Sequence[str]) -> list[str]:
    """PromptPilot's default run beside each DSPy optimizer: test score and calls per task."""
    names = list(dict.fromkeys(r["optimizer"] for r in records.peers))
    runs = records.runs.get(DEFAULT, [])
    default = {
        task: row
        for task in tasks
        if (row := row_beside_peers(runs, records.hand_written, records.peers, task)) is not None
    }
    header = "| task | PromptPilot default |" + "".join(f" {n} |" for n in names) + " best peer |"
    lines = [
        "## PromptPilot's default run beside DSPy",
        "",
        "Each cell: mean test score over the seeds both ran (PromptPilot's column differs "
        "from the table above when the peers ran fewer seeds) / median calls (PromptPilot: "
        "search calls; DSPy: compile calls; neither counts test scoring). *best peer*: the "
        "DSPy optimizer with the highest test score on the task (the cheaper one on a tie); "
        "✓ when PromptPilot matches or beats its score with no more calls; *higher score, more "
        "calls*: PromptPilot scores higher but the peer paid fewer calls (LabeledFewShot pays "
        "none).",
        "",
        *table_head(header),
    ]
    for task in tasks:
        row = default.get(task)
        seeds = row.seeds if row is not None else list(EXPECTED_SEEDS)
        peers = {p.optimizer: p for p in peer_rows(records.peers, task, seeds)}
        if row is None and not peers:
            continue
        cells = ["—" if row is None else f"{row.final.mean:.3f} / {row.search_calls:.0f}"]
        for name in names:
            peer = peers.get(name)
            if peer is None:
                cells.append("—")
            elif peer.test is None:
                cells.append(f"failed ({peer.errors})")
            else:
                failed = f" ({peer.errors} failed)" if peer.errors else ""
                cells.append(f"{peer.test:.3f} / {_fmt(peer.calls)}{failed}")
        best = best_peer(list(peers.values()))
        verdict = "—"
        if best is not None:
            mark = ""
            if row is not None and matches_peer(row, best):
                mark = " ✓"
            elif row is not None:
                scored = list(peers.values())
                mark = " ✗ (higher score, more calls)" if undominated(row, scored) else " ✗"
            verdict = f"{best.optimizer}{mark}"
        lines.append(f"| {task} | " + " | ".join(cells) + f" | {verdict} |")
    return [*lines, ""]


def _budget_warning(runs: list[dict[str, Any]]) -> list[str]:
    """The targets are about the default budget: say so when the records are smoke runs."""
    explicit = [run for run in runs if run.get("budget") is not None]
    if not explicit:
        return []
    return [
        f"**{len(explicit)} of {len(runs)} default-run records used an explicit budget** (smoke "
        "tests): the checks below do not measure the default run.",
        "",
    ]


def render(
    records: Records,
    *,
    tasks: Sequence[str],
    seeds: Sequence[int] = EXPECTED_SEEDS,
    command: str = "bench/gains_report.py",
    date: str = "",
) -> str:
    """The whole report (a pure function of the records: no clock, no files, no model)."""
    targets = check_targets(records, tasks=tasks, seeds=seeds)
    by_status = {s: [t.key for t in targets if t.status == s] for s in (MET, MISSED, UNDECIDED)}
    lines = [
        "# Gains: does the default run deliver a better prompt?",
        "",
        f"Made{' ' + date if date else ''} with `{command}` from the records of `bench/gains.py`.",
        "",
        *machine_lines(records),
        '- **Protocol**: every run starts from the weak seed prompt "Answer the question." '
        "and runs PromptPilot's default optimization (the Python API's `optimize`: default "
        "budget, template and settings) on the task's seeded train/dev/test split (seeds "
        f"{', '.join(map(str, seeds))}); test is scored once, after the search. Each run has "
        "a fresh home (empty cache and prompt memory). The hand-written instructions are "
        "scored on the same test splits.",
        "",
        "## Summary: the issue's targets",
        "",
        *_budget_warning(records.runs.get(DEFAULT, [])),
        *[target.line() for target in targets],
        "",
        f"Met: {', '.join(by_status[MET]) or 'none'}. "
        f"Missed: {', '.join(by_status[MISSED]) or 'none'}. "
        f"Not decided yet (records missing): {', '.join(by_status[UNDECIDED]) or 'none'}.",
        "",
    ]
    order = [DEFAULT, *sorted(name for name in records.runs if name != DEFAULT)]
    for name in order:
        if name in records.runs:
            lines += optimizer_section(name, records, tasks)
    for name in ALONE:
        if name not in records.runs:
            lines += [
                f"## `{name}` alone",
                "",
                f"Not measured yet: `bench/gains.py --optimizer {name}` records it.",
                "",
            ]
    if records.peers:
        lines += peers_section(records, tasks)
    return "\n".join(lines).rstrip() + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", type=Path, default=RESULTS / "gains")
    parser.add_argument("--peers", type=Path, default=RESULTS / "peers.json")
    parser.add_argument("--out", type=Path, default=None, help="default: RESULTS-DIR/../gains.md")
    parser.add_argument("--tasks", nargs="+", default=None, help="default: every gains task")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(EXPECTED_SEEDS))
    args = parser.parse_args(argv)
    args.tasks = args.tasks or list(_task_names())
    args.out = args.out or args.results_dir.parent / "gains.md"
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    records = load(args.results_dir, args.peers)
    if not records.runs and not records.hand_written:
        raise SystemExit(f"no records in {args.results_dir}: run bench/gains.py first")
    command = " ".join(["bench/gains_report.py", *(sys.argv[1:] if argv is None else argv)])
    text = render(
        records, tasks=args.tasks, seeds=args.seeds, command=command,
        date=datetime.date.today().isoformat(),
    )  # fmt: skip
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
