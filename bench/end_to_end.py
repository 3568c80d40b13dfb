"""End-to-end benchmark: every optimizer and the agent at equal budgets, on the embedded model.

For every task, seed and budget, each method (``zopo``, ``gpo``, ``textgrad``,
``ape``, ``random``, and ``auto``: the agent planned by its deterministic policy,
as ``promptpilot optimize --optimizer auto`` plans with the embedded model) starts
from the task's plain seed prompt on the same seeded train/dev/test split,
searches on train/dev within the budget of dev queries, and is scored once on
test. Each run has its own empty response cache and prompt memory, so the calls,
tokens and wall time it reports are what that run paid; all runs share one
llama.cpp server (one request at a time), started once.

One JSON per finished run under ``--runs-dir`` makes the benchmark resumable: a
run whose file exists is not run again, so a crash loses at most the run in
progress. The Markdown report and the plots are rebuilt from those files at the
end (``--report-only`` rebuilds them without running anything).

    nice -n 10 .venv/bin/python bench/end_to_end.py                # the measured setup
    .venv/bin/python bench/end_to_end.py --quick --out /tmp/e2e   # smoke run, about a minute
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

# bench/ (scripts run as bench/NAME.py)
from bench_common import II_EXECUTE, ROOT, SHARED_DATA
from end_to_end_report import RunConfig, build_report

from agent.graph.pilot import run_pilot
from agent.llm.local_server import ServerSettings
from agent.llm.runtime import RuntimeSettings
from agent.llm.settings import DEFAULT_OPTIMIZER_SETTINGS, DEFAULT_TASK_SETTINGS
from agent.llm.shared_runtime import SharedServer, SharedServerRuntime
from agent.run.evaluate import resolve_task
from agent.run.request import OptimizeRequest
from agent.run.session import RunSession
from agent.run.single import run_optimize
from memory.embeddings import Embedder, SentenceTransformerEmbedder
from optimizers.budget import Budget
from optimizers.evaluation.chat_calls import EndpointError
from optimizers.evaluation.evaluator import EvalResult, Evaluator
from optimizers.evaluation.metrics import get_metric
from optimizers.evaluation.structured_prompt import StructuredPrompt
from optimizers.evaluation.templates import parse_template
from optimizers.registry import AUTO, NAMES
from optimizers.tasks import SplitSpec, split_task

RESULTS = ROOT / "bench" / "results"
METHODS = (*NAMES, AUTO)
REQUEST_TIMEOUT_S = 900.0
ATTEMPTS = 3  # a run the endpoint fails is started again from scratch, this many times in all

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class TaskSpec:
    """A benchmark task: where its data is and the plain prompt every method starts from."""

    name: str
    data: str  # a file, or the name of a built-in task
    prompt: str
    metric: str = "exact"
    source: str = ""  # where the data comes from, for the report

    def available(self) -> bool:
        """Built-in tasks always are; shared data only beside the repository."""
        return not self.data.startswith("/") or Path(self.data).is_file()


# Seed prompts: what a person would plausibly write first. Screened on the embedded
# model (36 dev examples over seeds 0-2) to score clearly between 0 and 1, so that a
# gain or a loss can show; see bench/README.md for the screen.
TASKS: dict[str, TaskSpec] = {
    spec.name: spec
    for spec in (
        TaskSpec(
            name="sentiment",
            data=str(II_EXECUTE / "sentiment.json"),
            prompt="Is the sentiment of this sentence positive or negative? Answer with one word.",
            source="instruction induction, execute",
        ),
        TaskSpec(
            name="negation",
            data=str(II_EXECUTE / "negation.json"),
            prompt="Rewrite the sentence so that it means the opposite, by adding 'not'. "
            "Answer with the sentence only.",
            source="instruction induction, execute",
        ),
        TaskSpec(
            name="review_sentiment",
            data="review_sentiment",
            prompt="Is this review positive or negative? Answer with one word.",
            source="built-in (PromptPilot)",
        ),
        TaskSpec(
            name="boolean_expressions",
            data=str(SHARED_DATA / "bbh" / "boolean_expressions.json"),
            prompt="Evaluate the boolean expression. Answer True or False.",
            source="Big-Bench Hard",
        ),
    )
}
DEFAULT_TASKS = ("sentiment", "negation", "review_sentiment")


def runtime_settings(cache: Path) -> RuntimeSettings:
    """The default models, with a patient timeout.

    On a machine others load, a request can wait minutes behind the ones queued
    before it (the server answers one at a time). The timeout is not part of the
    cache identity: the answers are those of the default settings.
    """
    return RuntimeSettings(
        task=replace(DEFAULT_TASK_SETTINGS, timeout_s=REQUEST_TIMEOUT_S),
        optimizer=replace(DEFAULT_OPTIMIZER_SETTINGS, timeout_s=REQUEST_TIMEOUT_S),
        cache_path=cache,
    )


@contextmanager
def task_evaluator(
    shared: SharedServer, cache: Path, request: OptimizeRequest
) -> Iterator[Evaluator]:
    """The request's metric and template on the task model alone, answers cached in ``cache``."""
    with SharedServerRuntime(runtime_settings(cache), shared, roles=("task",)) as runtime:
        assert runtime.task is not None
        yield Evaluator(
            runtime.task,
            metric=get_metric(request.metric),
            template=parse_template(request.template),
        )


async def retried(what: str, run: Callable[[], Awaitable[T]]) -> T | None:
    """``run()``, started again from scratch when the endpoint fails it; None if it never ends."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            return await run()
        except EndpointError as exc:
            print(f"  {what}, attempt {attempt}: {exc}", flush=True)
    return None


def request_for(
    spec: TaskSpec, method: str, seed: int, budget: int, config: RunConfig
) -> OptimizeRequest:
    """The request of one run: the seed seeds both the split and the optimizer."""
    return OptimizeRequest(
        data=spec.data,
        prompt=spec.prompt,
        optimizer=method,
        budget=Budget(max_queries=budget),
        metric=spec.metric,
        split_spec=SplitSpec(train=config.train, dev=config.dev, test=config.test, seed=seed),
        seed=seed,
    )


async def seed_scoring(
    shared: SharedServer, spec: TaskSpec, seed: int, config: RunConfig, work: Path
) -> tuple[Path, dict[str, Any]]:
    """A cache holding the seed prompt's dev and test answers, paid once per task and seed.

    Every method scores the seed prompt on dev first and on test last, at
    temperature 0 on the same examples: paying that in each run would add the
    same cost to every method and nothing to the comparison. Each run starts
    from a copy of this cache, so its costs are its search and its chosen
    prompt's test scoring. Reused across restarts (the embedded endpoint's cache
    identity names the model file, not the port).
    """
    name = f"seed-{spec.name}-s{seed}-{config.train}-{config.dev}-{config.test}"
    cache, info = work / f"{name}.sqlite", work / f"{name}.json"
    if info.exists():
        return cache, json.loads(info.read_text(encoding="utf-8"))
    cache.unlink(missing_ok=True)
    request = request_for(spec, "random", seed, 2, config)
    splits = split_task(resolve_task(request.data, columns=request.columns), request.split_spec)
    started = time.monotonic()
    with task_evaluator(shared, cache, request) as evaluator:
        dev = await evaluator.evaluate(spec.prompt, splits.dev, split="dev")
        test = await evaluator.evaluate(spec.prompt, splits.test, split="test")
        usage = evaluator.caller.usage.snapshot()
    payload = {
        "dev": dev.mean,
        "test": test.mean,
        "examples": len(splits.dev) + len(splits.test),
        "usage": asdict(usage),
        "wall_time_s": time.monotonic() - started,
    }
    write_atomically(info, payload)  # written last: the cache is complete once this exists
    return cache, payload


def copy_cache(source: Path, target: Path) -> None:
    """Copy a SQLite response cache (WAL mode: the backup API, not a file copy)."""
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


async def one_run(
    shared: SharedServer,
    embedder: Embedder,
    spec: TaskSpec,
    method: str,
    seed: int,
    budget: int,
    config: RunConfig,
    work: Path,
) -> dict[str, Any]:
    """One method on one task and seed, in its own cache and prompt memory: its JSON record."""
    request = request_for(spec, method, seed, budget, config)
    warm, seed_cost = await seed_scoring(shared, spec, seed, config, work)
    with tempfile.TemporaryDirectory(prefix="promptpilot-e2e-") as tmp:
        home = Path(tmp)
        copy_cache(warm, home / "cache.sqlite")
        with SharedServerRuntime(runtime_settings(home / "cache.sqlite"), shared) as runtime:
            assert runtime.task is not None
            assert runtime.optimizer is not None
            started = time.monotonic()
            if method == "auto":
                report, session = await run_agent(request, runtime, home, embedder)
            else:
                result = await run_optimize(request, runtime, home=home, embedder=embedder)
                report = result.to_dict()
            seconds = time.monotonic() - started
            usage = {
                "task": runtime.task.usage.snapshot(),
                "opt": runtime.optimizer.usage.snapshot(),
            }
            if usage["task"].cache_hits < seed_cost["examples"]:
                raise RuntimeError(
                    f"the seed prompt's answers were not read from {warm}: expected at least "
                    f"{seed_cost['examples']} cache hits, got {usage['task'].cache_hits}"
                )
            if method == "auto":
                initial, final = await cached_test(session, answer_of(report))
            elif result.seed_test is None or result.best_test is None:
                raise RuntimeError(f"the {spec.name} {method} run was not scored on test")
            else:
                initial, final = result.seed_test, result.best_test
    run = record(spec, method, seed, budget, config, report, initial, final, usage, seconds)
    threads = shared.settings.n_threads or os.cpu_count()
    return {**run, "seed_scoring": seed_cost, "server_threads": threads}


async def run_agent(
    request: OptimizeRequest, runtime: SharedServerRuntime, home: Path, embedder: Embedder
) -> tuple[dict[str, Any], RunSession]:
    """The agent's run, planned by the deterministic policy as the CLI plans for SmolLM2."""
    sessions: list[RunSession] = []
    report = await run_pilot(
        request, runtime, home=home, embedder=embedder, use_planner_model=False,
        on_session=sessions.append,
    )  # fmt: skip
    if report is None:  # the policy never asks; a question means something changed
        raise RuntimeError(f"the auto run on {request.data} stopped to ask a question")
    return report, sessions[0]


def answer_of(report: dict[str, Any]) -> str | StructuredPrompt:
    """The prompt a report hands back: its parts when it has more than an instruction."""
    parts = report.get("best_parts")
    if not parts:
        return report["best_prompt"]
    prompt = StructuredPrompt.from_parts(parts)
    return report["best_prompt"] if prompt.is_plain else prompt


async def cached_test(
    session: RunSession, best_prompt: str | StructuredPrompt
) -> tuple[EvalResult, EvalResult]:
    """Per-example test scores of an agent run, re-read from its cache (the graph keeps them).

    The report node scored both prompts on test already, so every answer is a
    cache hit; a paid call here would mean the numbers are not the run's own.
    """
    test = session.splits.test
    evaluator = session.evaluator
    initial = await evaluator.evaluate(session.request.prompt, test, split="test")
    final = await evaluator.evaluate(best_prompt, test, split="test")
    if initial.usage.calls or final.usage.calls:
        raise RuntimeError("the agent run's test answers were not all in its cache")
    return initial, final


def record(
    spec: TaskSpec,
    method: str,
    seed: int,
    budget: int,
    config: RunConfig,
    report: dict[str, Any],
    initial: EvalResult,
    final: EvalResult,
    usage: dict[str, Any],
    seconds: float,
) -> dict[str, Any]:
    """The JSON kept for one run: enough to rebuild every table and plot without a model."""
    ids = [result.example_id for result in initial.examples]
    if ids != [result.example_id for result in final.examples]:
        raise RuntimeError("initial and final prompts were scored on different test examples")
    return {
        "config": asdict(config),
        "task": spec.name,
        "method": method,
        "seed": seed,
        "budget": budget,
        "data": spec.data,
        "metric": spec.metric,
        "seed_prompt": spec.prompt,
        "best_prompt": report["best_prompt"],
        "splits": report["config"]["splits"],
        "initial_dev": report["scores"]["initial"]["dev"]["mean"],
        "best_dev": report["scores"]["best"]["dev"]["mean"],
        "initial_test": initial.mean,
        "final_test": final.mean,
        "test_difference": report["test_difference"],
        "test_ids": ids,
        "test_initial": initial.scores,
        "test_final": final.scores,
        "dev_queries": report["dev_queries"],
        "steps": report["steps"],
        "stopped": report["stopped"],
        "trajectory": [
            {
                "source": entry["source"],
                "dev": entry["dev"],
                "reused": entry["reused"],
                "prompt": entry["prompt"],
            }
            for entry in report["trajectory"]
        ],
        "usage": {role: asdict(counts) for role, counts in usage.items()},
        "wall_time_s": seconds,
        "load_average_1m": os.getloadavg()[0],  # other jobs on the machine slow the wall time
        "models": {
            role: {k: v for k, v in report["config"][f"{role}_model"].items() if k != "base_url"}
            for role in ("task", "optimizer")
        },
    }


def run_path(runs_dir: Path, task: str, method: str, seed: int, budget: int) -> Path:
    """Where one run's record lives."""
    return runs_dir / f"{task}-b{budget}-s{seed}-{method}.json"


def existing(path: Path, config: RunConfig, spec: TaskSpec) -> bool:
    """True when ``path`` holds a finished run of this configuration (so it is skipped).

    A record made with other split sizes or another seed prompt is an error, not
    a silent reuse: its numbers would not answer this configuration.
    """
    if not path.exists():
        return False
    stored = json.loads(path.read_text(encoding="utf-8"))
    if stored["config"] != asdict(config) or stored["seed_prompt"] != spec.prompt:
        raise SystemExit(
            f"{path} was made with another configuration ({stored['config']}, prompt "
            f"{stored['seed_prompt']!r}); delete it or choose another --runs-dir"
        )
    return True


def write_atomically(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON so that a crash never leaves a half-written record that looks finished."""
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, path)


async def run_all(
    args: argparse.Namespace, config: RunConfig, runs_dir: Path, work: Path
) -> list[str]:
    """Every (budget, seed, task, method) not finished yet, seed by seed; the failed ones.

    Seeds run outermost, so a benchmark stopped early has whole seeds, every
    method measured under the same machine load.
    """
    plan = [
        (budget, seed, TASKS[task], method)
        for budget in args.budgets
        for seed in args.seeds
        for task in args.tasks
        for method in args.methods
    ]
    todo = [
        p
        for p in plan
        if not existing(run_path(runs_dir, p[2].name, p[3], p[1], p[0]), config, p[2])
    ]
    print(f"{len(plan)} runs, {len(plan) - len(todo)} already done", flush=True)
    if not todo:
        return []
    embedder = SentenceTransformerEmbedder.bundled()
    shared = SharedServer(ServerSettings(n_threads=args.server_threads))
    failed: list[str] = []
    try:
        for number, (budget, seed, spec, method) in enumerate(todo, 1):
            name = f"{spec.name} {method} budget {budget} seed {seed}"
            result = await retried(
                f"{spec.name} {method} seed {seed}",
                partial(one_run, shared, embedder, spec, method, seed, budget, config, work),
            )
            if result is None:
                failed.append(name)
                continue
            write_atomically(run_path(runs_dir, spec.name, method, seed, budget), result)
            calls = result["usage"]["task"]["calls"] + result["usage"]["opt"]["calls"]
            print(
                f"[{number}/{len(todo)}] {name}: "
                f"test {result['initial_test']:.3f} -> {result['final_test']:.3f}, "
                f"{result['dev_queries']} queries, {calls} calls, {result['wall_time_s']:.0f} s",
                flush=True,
            )
    finally:
        shared.stop()
    return failed


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=list(DEFAULT_TASKS))
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--budgets", nargs="+", type=int, default=[16], help="dev queries")
    parser.add_argument("--train", type=int, default=20)
    parser.add_argument("--dev", type=int, default=12)
    parser.add_argument("--test", type=int, default=30)
    parser.add_argument("--out", type=Path, help="report and plots (default: bench/results)")
    parser.add_argument("--runs-dir", type=Path, help="one JSON per run (default: OUT/end_to_end)")
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "promptpilot-end-to-end",
        help="the seed prompts' shared answer caches (not results)",
    )  # fmt: skip
    parser.add_argument(
        "--server-threads", type=int, default=None,
        help="llama.cpp server threads (default: every core)",
    )  # fmt: skip
    parser.add_argument(
        "--quick", action="store_true",
        help="smoke run: sentiment, seed 0, budget 2, splits 6/4/6, in a temp dir unless --out",
    )  # fmt: skip
    parser.add_argument(
        "--report-only", action="store_true", help="rebuild report and plots from the runs' JSON"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks, args.seeds, args.budgets = ["sentiment"], [0], [2]
        args.train, args.dev, args.test = 6, 4, 6
        args.out = args.out or Path(tempfile.gettempdir()) / "promptpilot-end-to-end-quick"
    args.out = args.out or RESULTS
    args.runs_dir = args.runs_dir or args.out / "end_to_end"
    missing = [name for name in args.tasks if not TASKS[name].available()]
    if missing:
        parser.error(
            f"no data for {', '.join(missing)}: expected {SHARED_DATA} beside the repository"
        )
    if any(budget < 2 for budget in args.budgets):
        parser.error(f"budgets must be >= 2 dev queries (the seed takes one), got {args.budgets}")
    return args


def _run_arguments(argv: Sequence[str] | None) -> list[str]:
    """The command's arguments as the runs were made: a rebuilt report names that command."""
    return [a for a in (sys.argv[1:] if argv is None else argv) if a != "--report-only"]


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    config = RunConfig(train=args.train, dev=args.dev, test=args.test)
    args.runs_dir.mkdir(parents=True, exist_ok=True)
    failed: list[str] = []
    if not args.report_only:
        args.work.mkdir(parents=True, exist_ok=True)
        failed = asyncio.run(run_all(args, config, args.runs_dir, args.work))
    report = build_report(
        args.runs_dir, args.out, config=config, tasks=[TASKS[name] for name in args.tasks],
        methods=args.methods, seeds=args.seeds, budgets=args.budgets,
        command=" ".join(["bench/end_to_end.py", *_run_arguments(argv)]),
    )  # fmt: skip
    print(f"wrote {report}")
    if failed:
        raise SystemExit(f"{len(failed)} runs failed (run the command again): {'; '.join(failed)}")


if __name__ == "__main__":
    main()
