"""Gains benchmark: does the default run turn a weak prompt into a better one?

For every task of ``bench/gains_tasks.py`` and every seed, PromptPilot's default
optimization (``--optimizer auto``, the default budget, the default template and
settings) starts from the weak seed prompt ``"Answer the question."`` on the task's
seeded train/dev/test split, exactly as ``agent.api.optimize`` runs it: the same
request, and for ``auto`` the agent planned as it plans for the embedded model. The
run's report gives the initial and final test scores (95% intervals), their paired
difference, the calls and time it paid, and which parts of the prompt it changed.
The task's two hand-written instructions are scored once per seed on that seed's
test split (same template, metric and split) as the yardstick.

One embedded llama.cpp server serves the whole benchmark (started once, as
``bench/end_to_end.py`` does); each run gets a fresh PromptPilot home (response
cache and prompt memory) under ``--home``, so its calls and time are what a first
run pays. Records are JSON under ``--out-dir`` (``runs_OPTIMIZER.json``,
``hand_written.json``), written after every run: a task/seed already recorded is
skipped, so the benchmark resumes where it stopped. ``bench/gains_report.py``
turns them into ``bench/results/gains.md``.

    nice -n 10 .venv/bin/python bench/gains.py                        # the benchmark (30 runs)
    nice -n 10 .venv/bin/python bench/gains.py --optimizer zopo       # one optimizer alone
    .venv/bin/python bench/gains.py --tasks sentiment --seeds 0 --optimizer random \
        --budget 3 --out-dir /tmp/gains-smoke                          # smoke test, not a result
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

# bench/ (scripts run as bench/NAME.py): the end-to-end benchmark's runtime helpers
from end_to_end import retried, runtime_settings, task_evaluator, write_atomically
from gains_tasks import TASKS, WEAK_SEED, GainsTask, task_by_name
from machine import cpu_name, version

from agent.api import optimize_request
from agent.graph.pilot import run_pilot
from agent.llm.local_server import ServerSettings, bundled_model_path
from agent.llm.shared_runtime import SharedServer, SharedServerRuntime
from agent.run.evaluate import resolve_task
from agent.run.report import compact_difference, compact_score
from agent.run.request import OptimizeRequest
from agent.run.session import RunSession
from agent.run.single import run_optimize
from memory.embeddings import Embedder, SentenceTransformerEmbedder
from optimizers.evaluation.evaluator import EvalResult
from optimizers.registry import CHOICES
from optimizers.tasks import split_task

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "gains"
DEFAULT_HOME = Path(tempfile.gettempdir()) / "promptpilot-gains-home"
SMOKE_OUT = Path(tempfile.gettempdir()) / "promptpilot-gains-smoke"


# ------------------------------------------------------------------------------ records


def runs_path(out_dir: Path, optimizer: str) -> Path:
    """Where the runs of one optimizer live."""
    return out_dir / f"runs_{optimizer}.json"


def hand_written_path(out_dir: Path) -> Path:
    return out_dir / "hand_written.json"


def load_records(path: Path) -> list[dict[str, Any]]:
    """The records in ``path`` (none when it does not exist yet)."""
    if not path.exists():
        return []
    return list(json.loads(path.read_text(encoding="utf-8"))["records"])


def save_records(path: Path, kind: str, records: list[dict[str, Any]]) -> None:
    """Write every record at once (atomically: a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(records, key=lambda r: (r["task"], r["seed"], r.get("prompt_index", 0)))
    write_atomically(path, {"benchmark": "gains", "kind": kind, "records": ordered})


def budget_label(budget: int | None, max_calls: int | None) -> dict[str, int] | None:
    """None for the default budget (the benchmark), else the explicit limits (smoke tests)."""
    if budget is None and max_calls is None:
        return None
    return {"max_queries": budget, "max_calls": max_calls}


def difference_of(difference: dict[str, Any] | None) -> dict[str, Any] | None:
    """The paired test difference of a report, flattened; ``p`` as the stored records name it."""
    compact = compact_difference(difference)
    if compact is not None:
        compact["p"] = compact.pop("p_value")
    return compact


def usage_calls(report: dict[str, Any]) -> int:
    """Paid calls of both models, test scoring included, as the report counts them."""
    return sum(int(role.get("calls", 0)) for role in report.get("usage", {}).values())


def changed_parts(report: dict[str, Any]) -> tuple[list[str], bool]:
    """The parts the final prompt changed, and whether the report said so itself.

    Reports made before prompts had parts have no ``changed_parts``: then a final
    prompt other than the seed changed the instruction, the only part there was.
    """
    parts = report.get("changed_parts")
    if parts is not None:
        return list(parts), True
    return (["instruction"] if report["best_prompt"] != report["seed_prompt"] else []), False


def search_calls(report: dict[str, Any]) -> tuple[int, bool]:
    """Paid calls of the search (both models, test scoring excluded), and whether reported.

    Without ``search_calls`` in the report, every paid call counts (test scoring too).
    """
    calls = report.get("search_calls")
    if calls is not None:
        return int(calls), True
    return usage_calls(report), False


def run_record(
    task: GainsTask,
    seed: int,
    optimizer: str,
    report: dict[str, Any],
    *,
    test_scores: dict[str, Any] | None,
    outer_seconds: float,
    budget: dict[str, int] | None,
) -> dict[str, Any]:
    """The JSON kept for one run, read from its report dict (new keys read with ``.get``)."""
    scores = report["scores"]
    parts, parts_reported = changed_parts(report)
    search, search_reported = search_calls(report)
    config = report.get("config", {})
    return {
        "task": task.name,
        "seed": seed,
        "optimizer": optimizer,
        "run": report.get("run"),
        "budget": budget,  # None: the default budget
        "data": str(task.path),
        "metric": task.metric,
        "template": config.get("template"),
        "splits": config.get("splits"),
        "seed_prompt": report["seed_prompt"],
        "best_prompt": report["best_prompt"],
        "best_parts": report.get("best_parts"),
        "best_rendered": report.get("best_rendered"),
        "initial_dev": compact_score(scores["initial"].get("dev")),
        "best_dev": compact_score(scores["best"].get("dev")),
        "initial_test": compact_score(scores["initial"]["test"]),
        "final_test": compact_score(scores["best"]["test"]),
        "test_difference": difference_of(report.get("test_difference")),
        "test_scores": test_scores,
        "changed_parts": parts,
        "changed_parts_reported": parts_reported,
        "guard": report.get("guard"),
        "calls": usage_calls(report),
        "search_calls": search,
        "search_calls_reported": search_reported,
        "usage": report.get("usage"),
        "dev_queries": report.get("dev_queries"),
        "steps": report.get("steps"),
        "stopped": report.get("stopped"),
        "wall_time_s": report.get("wall_time_s", outer_seconds),
        "outer_wall_time_s": outer_seconds,  # session set-up and embedder included
        "models": {
            role: {k: v for k, v in config.get(f"{role}_model", {}).items() if k != "base_url"}
            for role in ("task", "optimizer")
        },
        **environment(),
    }


def environment() -> dict[str, Any]:
    """Where a record was made: every figure names its machine and model."""
    return {
        "machine": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "arch": platform.machine(),
            "python": platform.python_version(),
            "llama_cpp_python": version("llama_cpp_python"),
        },
        "model_file": bundled_model_path().name,
        "load_average_1m": os.getloadavg()[0],  # other jobs on the machine slow the wall time
    }


# ------------------------------------------------------------------------------ running


def request_for(
    task: GainsTask, seed: int, optimizer: str, budget: int | None, max_calls: int | None
) -> OptimizeRequest:
    """The request ``agent.api.optimize(path, WEAK_SEED, optimizer=..., seed=..., ...)`` makes."""
    return optimize_request(
        str(task.path), WEAK_SEED, optimizer=optimizer, budget=budget, max_calls=max_calls,
        max_seconds=None, constraints=(), metric=task.metric, template="inline", seed=seed,
        train=task.train, dev=task.dev, test=task.test, test_data=None,
    )  # fmt: skip


async def _carry_on(question: str) -> str:
    """What ``agent.api.optimize`` answers a planner's question: nothing, carry on."""
    return ""


async def one_run(
    shared: SharedServer,
    embedder: Embedder,
    task: GainsTask,
    seed: int,
    optimizer: str,
    args: argparse.Namespace,
) -> dict[str, Any]:
    """One optimization in a fresh home (its own cache and prompt memory): its record."""
    request = request_for(task, seed, optimizer, args.budget, args.max_calls)
    home = args.home / "runs" / optimizer / f"{task.name}-s{seed}"
    shutil.rmtree(home, ignore_errors=True)  # a killed attempt starts again from nothing
    home.mkdir(parents=True)
    settings = runtime_settings(home / "cache.sqlite")
    with SharedServerRuntime(settings, shared) as runtime:
        started = time.monotonic()
        if optimizer == "auto":  # as agent.api.aoptimize runs it
            sessions: list[RunSession] = []
            report = await run_pilot(
                request, runtime, home=home, embedder=embedder, answer=_carry_on,
                on_session=sessions.append,
            )  # fmt: skip
            if report is None:
                raise RuntimeError(f"the auto run on {task.name} stopped to ask a question")
            seconds = time.monotonic() - started
            test_scores = await reread_test(sessions[0])
        else:
            result = await run_optimize(request, runtime, home=home, embedder=embedder)
            seconds = time.monotonic() - started
            report = result.to_dict()
            test_scores = per_example(result.seed_test, result.best_test)
    return run_record(
        task, seed, optimizer, report, test_scores=test_scores, outer_seconds=seconds,
        budget=budget_label(args.budget, args.max_calls),
    )  # fmt: skip


def per_example(initial: EvalResult | None, final: EvalResult | None) -> dict[str, Any] | None:
    """Per-example test scores of both prompts (pooling over seeds needs them)."""
    if initial is None or final is None:
        return None
    ids = [result.example_id for result in initial.examples]
    if ids != [result.example_id for result in final.examples]:
        raise RuntimeError("initial and final prompts were scored on different test examples")
    return {"ids": ids, "initial": initial.scores, "final": final.scores}


async def reread_test(session: RunSession) -> dict[str, Any] | None:
    """An agent run's per-example test scores, re-read from its cache (its report has means).

    The report node scored both prompts on test already, so every answer is a
    cache hit; if one is not, the scores are left out rather than paid for twice.
    """
    outcome = session.search.outcome
    if outcome is None:
        return None
    test = session.splits.test
    initial = await session.evaluator.evaluate(session.request.prompt, test, split="test")
    final = await session.evaluator.evaluate(outcome.answer.candidate.prompt, test, split="test")
    if initial.usage.calls or final.usage.calls:
        print("  warning: the run's test answers were not all cached; per-example scores left out")
        return None
    return per_example(initial, final)


async def score_hand_written(
    shared: SharedServer, task: GainsTask, seed: int, cache: Path
) -> list[dict[str, Any]]:
    """Both hand-written instructions on this seed's test split, as the runs score prompts."""
    request = request_for(task, seed, "auto", None, None)
    splits = split_task(resolve_task(request.data, columns=request.columns), request.split_spec)
    records = []
    with task_evaluator(shared, cache, request) as evaluator:
        for index, prompt in enumerate(task.hand_written):
            result = await evaluator.evaluate(prompt, splits.test, split="test")
            records.append(
                {
                    "task": task.name,
                    "seed": seed,
                    "prompt_index": index,
                    "prompt": prompt,
                    "metric": request.metric,
                    "template": request.template,
                    "test": {
                        "mean": result.mean,
                        "ci95": [result.interval.low, result.interval.high],
                        "n": result.n,
                    },
                    "test_scores": {
                        "ids": [r.example_id for r in result.examples],
                        "scores": result.scores,
                    },
                    "calls": result.usage.calls,
                    "wall_time_s": result.wall_time_s,
                    **environment(),
                }
            )
    return records


def check_budget(records: list[dict[str, Any]], budget: dict[str, int] | None, path: Path) -> None:
    """Refuse to mix runs of another budget into a file (smoke runs are not results)."""
    other = [r for r in records if r.get("budget") != budget]
    if other:
        raise SystemExit(
            f"{path} holds runs made with budget {other[0].get('budget')} (None: the default), "
            f"not {budget}; choose another --out-dir"
        )


async def run_all(args: argparse.Namespace) -> list[str]:
    """Every (seed, task) not recorded yet, seeds outermost; returns the failed ones."""
    tasks = [task_by_name(name) for name in args.tasks]
    path, hand_path = runs_path(args.out_dir, args.optimizer), hand_written_path(args.out_dir)
    budget = budget_label(args.budget, args.max_calls)
    records, hand = load_records(path), load_records(hand_path)
    check_budget(records, budget, path)
    done = {(r["task"], r["seed"]) for r in records}
    scored = {(r["task"], r["seed"]) for r in hand}
    if args.skip_hand_written:
        scored = {(task.name, seed) for task in tasks for seed in args.seeds}
    plan = [(task, seed) for seed in args.seeds for task in tasks]
    todo = [(t, s) for t, s in plan if (t.name, s) not in done or (t.name, s) not in scored]
    print(f"{len(plan)} runs of {args.optimizer}, {len(plan) - len(todo)} already done", flush=True)
    if not todo:
        return []
    shared = SharedServer(ServerSettings(n_threads=args.server_threads))
    embedder: Embedder | None = None
    failed: list[str] = []
    try:
        for number, (task, seed) in enumerate(todo, 1):
            if (task.name, seed) not in scored:
                cache = args.home / "hand_written" / "cache.sqlite"
                cache.parent.mkdir(parents=True, exist_ok=True)
                new = await score_hand_written(shared, task, seed, cache)
                hand = [r for r in hand if (r["task"], r["seed"]) != (task.name, seed)] + new
                save_records(hand_path, "hand_written", hand)
                scores = ", ".join(f"{r['test']['mean']:.3f}" for r in new)
                print(f"  {task.name} seed {seed}: hand-written test {scores}", flush=True)
            if (task.name, seed) in done:
                continue
            embedder = embedder or SentenceTransformerEmbedder.bundled()
            name = f"{task.name} {args.optimizer} seed {seed}"
            record = await retried(
                f"{task.name} seed {seed}",
                partial(one_run, shared, embedder, task, seed, args.optimizer, args),
            )
            if record is None:
                failed.append(name)
                continue
            records.append(record)
            save_records(path, args.optimizer, records)
            print(f"[{number}/{len(todo)}] {name}: {summary_line(record)}", flush=True)
    finally:
        shared.stop()
    return failed


def summary_line(record: dict[str, Any]) -> str:
    """One line about a finished run."""
    initial, final = record["initial_test"], record["final_test"]
    difference = record["test_difference"]
    scores = (
        f"test {initial['mean']:.3f} -> {final['mean']:.3f}"
        if initial and final
        else "test not scored"
    )
    if difference:
        low, high = difference["ci95"]
        scores += f" ({difference['diff']:+.3f} [{low:+.3f}, {high:+.3f}], p {difference['p']:.3f})"
    parts = ", ".join(record["changed_parts"]) or "nothing"
    return (
        f"{scores}; changed {parts}; {record['search_calls']} search calls, "
        f"{record['calls']} in all, {record['wall_time_s']:.0f} s, stopped: {record['stopped']}"
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    names = [task.name for task in TASKS]
    parser.add_argument("--optimizer", choices=CHOICES, default="auto",
                        help="auto (the default run) or one optimizer alone")  # fmt: skip
    parser.add_argument("--tasks", nargs="+", choices=names, default=names)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--home", type=Path, default=DEFAULT_HOME,
                        help="the runs' homes (caches, prompt memory; not results)")  # fmt: skip
    parser.add_argument("--out-dir", type=Path, default=None,
                        help=f"the JSON records (default {RESULTS.relative_to(ROOT)})")  # fmt: skip
    parser.add_argument("--server-threads", type=int, default=None,
                        help="llama.cpp server threads (default: every core)")  # fmt: skip
    parser.add_argument("--skip-hand-written", action="store_true",
                        help="do not score the hand-written instructions")  # fmt: skip
    smoke = parser.add_argument_group("smoke tests only (the benchmark uses the default budget)")
    smoke.add_argument("--budget", type=int, default=None, help="dev queries")
    smoke.add_argument("--max-calls", type=int, default=None, help="paid calls")
    args = parser.parse_args(argv)
    explicit = args.budget is not None or args.max_calls is not None
    if args.out_dir is None:
        args.out_dir = SMOKE_OUT if explicit else RESULTS
    elif explicit and args.out_dir.resolve() == RESULTS.resolve():
        parser.error("a run with --budget/--max-calls is a smoke test: not into bench/results")
    missing = [task.name for task in map(task_by_name, args.tasks) if not task.path.is_file()]
    if missing:
        parser.error(f"no data for {', '.join(missing)} (expected beside the repository)")
    return args


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    args.home.mkdir(parents=True, exist_ok=True)
    failed = asyncio.run(run_all(args))
    print(f"records in {args.out_dir}; report: .venv/bin/python bench/gains_report.py"
          + ("" if args.out_dir == RESULTS else f" --results-dir {args.out_dir}"))  # fmt: skip
    if failed:
        raise SystemExit(f"{len(failed)} runs failed (run the command again): {'; '.join(failed)}")


if __name__ == "__main__":
    sys.exit(main())
