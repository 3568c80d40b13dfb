"""Headless optimization: one call from a request to a report with honest test numbers.

The search (any optimizer, inside :class:`~optimizers.runner.Runner`) sees train
and dev only. Test is touched exactly once, here, after the search has stopped:
the seed prompt and the best prompt are scored on it and compared, paired by
example. The report records the full configuration so the run can be repeated.
"""

from __future__ import annotations

import asyncio
import importlib
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent.evaluation import resolve_task
from agent.runtime import ModelRuntime
from memory.embeddings import Embedder, SentenceTransformerEmbedder
from memory.prompt_store import PromptStore, prompt_id
from optimizers.base import Optimizer, OptimizerContext, Scored
from optimizers.evaluation.chat_calls import Usage
from optimizers.evaluation.evaluator import EvalResult, Evaluator, compare
from optimizers.evaluation.metrics import get_metric
from optimizers.evaluation.stats import PairedComparison
from optimizers.evaluation.templates import parse_template
from optimizers.runner import Budget, EventFn, Runner, RunOutcome
from optimizers.tasks import ColumnMapping, SplitSpec, split_task

# name -> (module, class); imported on use so one optimizer's import cost is not everyone's
OPTIMIZERS: dict[str, tuple[str, str]] = {
    "zopo": ("optimizers.zopo_optimizer", "ZOPOOptimizer"),
    "gpo": ("optimizers.gpo.optimizer", "GPO"),
    "textgrad": ("optimizers.textgrad", "TextGrad"),
    "ape": ("optimizers.ape", "APE"),
    "random": ("optimizers.random_search", "RandomSearch"),
}


def optimizer_class(name: str) -> type[Optimizer]:
    """The optimizer class registered under ``name``."""
    if name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")
    module, cls = OPTIMIZERS[name]
    return getattr(importlib.import_module(module), cls)


@dataclass(frozen=True, kw_only=True)
class OptimizeRequest:
    """Everything that defines an optimization run (recorded in its report)."""

    data: str
    prompt: str
    optimizer: str = "gpo"
    budget: Budget = field(default_factory=Budget)
    metric: str = "exact"
    template: str = "inline"
    columns: ColumnMapping = field(default_factory=ColumnMapping)
    split_spec: SplitSpec = field(default_factory=SplitSpec)
    test_data: str | None = None
    seed: int = 0
    directives: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.prompt.strip():
            raise ValueError("give the prompt to start from (--prompt)")
        optimizer_class(self.optimizer)  # fail fast on an unknown name

    def config(self) -> dict[str, Any]:
        """A JSON-ready record of the request."""
        return asdict(self)


@dataclass(frozen=True)
class OptimizeReport:
    """The result of a run: best prompt, scores per split with intervals, costs, config."""

    run: str
    task: str
    optimizer: str
    seed_prompt: str
    best_prompt: str
    seed_dev: EvalResult
    best_dev: EvalResult
    seed_test: EvalResult | None
    best_test: EvalResult | None
    test_difference: PairedComparison | None
    outcome: RunOutcome
    usage: dict[str, Usage]
    wall_time_s: float
    config: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` / ``--out`` payload."""

        def score(result: EvalResult | None) -> dict[str, Any] | None:
            if result is None:
                return None
            low, high = result.interval.low, result.interval.high
            return {"split": result.split, "mean": result.mean, "ci95": [low, high], "n": result.n}

        return {
            "run": self.run,
            "task": self.task,
            "optimizer": self.optimizer,
            "seed_prompt": self.seed_prompt,
            "best_prompt": self.best_prompt,
            "scores": {
                "initial": {"dev": score(self.seed_dev), "test": score(self.seed_test)},
                "best": {"dev": score(self.best_dev), "test": score(self.best_test)},
            },
            "test_difference": None
            if self.test_difference is None
            else asdict(self.test_difference),
            "trajectory": [trajectory_entry(s) for s in self.outcome.history],
            "steps": self.outcome.steps,
            "dev_queries": self.outcome.queries,
            "stopped": self.outcome.stopped,
            "usage": {role: asdict(usage) for role, usage in self.usage.items()},
            "wall_time_s": self.wall_time_s,
            "config": self.config,
        }


def trajectory_entry(scored: Scored) -> dict[str, Any]:
    """One scored candidate as the report lists it."""
    candidate = scored.candidate
    return {
        "step": candidate.step,
        "source": candidate.source,
        "prompt": candidate.text,
        "dev": scored.score,
        "ci95": [scored.dev.interval.low, scored.dev.interval.high],
        "reused": scored.reused,
        "meta": candidate.meta,
    }


def new_run_id(task: str, optimizer: str) -> str:
    """Readable, sortable and unique: ``sentiment-gpo-20261121-071502-a1b2``."""
    return f"{task}-{optimizer}-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def total_steps(optimizer: type[Optimizer], budget: Budget) -> int:
    """How many ask/tell rounds the query budget allows (GPO decays its step size over it)."""
    per_step = getattr(optimizer, "queries_per_step", 1)
    queries = budget.max_queries or 100
    return max(1, (queries - 1) // per_step)


async def run_optimize(
    request: OptimizeRequest,
    runtime: ModelRuntime,
    *,
    home: Path,
    embedder: Embedder | None = None,
    on_event: EventFn | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> OptimizeReport:
    """Search on train/dev with the chosen optimizer, then report seed vs best on test."""
    started = time.monotonic()
    task = resolve_task(request.data, columns=request.columns)
    test_task = (
        resolve_task(request.test_data, columns=request.columns) if request.test_data else None
    )
    splits = split_task(task, request.split_spec, test_task=test_task)
    if runtime.task is None or runtime.optimizer is None:
        raise ValueError("optimization needs both the task and the optimizer model started")
    evaluator = Evaluator(
        runtime.task, metric=get_metric(request.metric), template=parse_template(request.template)
    )
    cls = optimizer_class(request.optimizer)
    run = new_run_id(task.name, request.optimizer)
    embedder = embedder or SentenceTransformerEmbedder.bundled()
    with PromptStore.embedded(home / "prompts", embedder) as store:
        context = OptimizerContext(
            task=task.name,
            run=run,
            seed_prompt=request.prompt,
            train=splits.train,
            evaluator=evaluator,
            proposer=runtime.optimizer,
            embedder=embedder,
            store=store,
            rng=random.Random(request.seed),
            dev_size=len(splits.dev),
            total_steps=total_steps(cls, request.budget),
            directives=request.directives,
        )
        runner = Runner(
            cls(context), context, splits.dev, request.budget,
            on_event=on_event, should_stop=should_stop,
        )  # fmt: skip
        outcome = await runner.run()
        if evaluator.examples_seen["test"]:
            raise RuntimeError("the test split was evaluated during the search")
        best = outcome.best
        seed_test = best_test = difference = None
        if outcome.stopped != "interrupted":
            try:
                seed_test = await evaluator.evaluate(request.prompt, splits.test, split="test")
                best_test = await evaluator.evaluate(best.candidate.text, splits.test, split="test")
            except asyncio.CancelledError:  # aborted during the report: keep what the search found
                seed_test = best_test = None
        if seed_test is not None and best_test is not None:
            difference = compare(seed_test, best_test)
            store.set_scores(prompt_id(run, best.candidate.text), test=best_test.mean)
            store.set_scores(prompt_id(run, request.prompt), test=seed_test.mean)
    return OptimizeReport(
        run=run,
        task=task.name,
        optimizer=request.optimizer,
        seed_prompt=request.prompt,
        best_prompt=best.candidate.text,
        seed_dev=outcome.seed.dev,
        best_dev=best.dev,
        seed_test=seed_test,
        best_test=best_test,
        test_difference=difference,
        outcome=outcome,
        usage={
            "task": runtime.task.usage.snapshot(),
            "optimizer": runtime.optimizer.usage.snapshot(),
        },
        wall_time_s=time.monotonic() - started,
        config={
            **request.config(),
            "task_model": runtime.settings.task.public(),
            "optimizer_model": runtime.settings.optimizer.public(),
            "splits": {
                "train": len(splits.train),
                "dev": len(splits.dev),
                "test": len(splits.test),
            },
            "embedder": embedder.name,
        },
    )
