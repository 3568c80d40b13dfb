"""The Python API: what other programs (and agents) call to optimize and evaluate.

    from agent.api import optimize
    result = optimize("reviews.csv", "Classify the review.")  # default: 250 paid calls
    print(result.best_prompt, result.test_gain)

Every function takes the same knobs as the CLI. With no endpoint configured,
the embedded local model is started for the call and stopped after it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.graph.pilot import AnswerFn, run_pilot
from agent.llm.environment import runtime_settings
from agent.llm.runtime import ModelRuntime, RuntimeSettings
from agent.run.evaluate import EvalRequest, run_eval, select_examples
from agent.run.records import save_finished
from agent.run.request import OptimizeRequest
from agent.run.single import run_optimize
from agent.run.workspace import StoreSettings, Workspace, store_settings
from optimizers.budget import Budget
from optimizers.events import EventFn, RunEvent
from optimizers.tasks import SplitSpec


@dataclass(frozen=True)
class OptimizationResult:
    """The outcome of :func:`optimize`: the headline numbers, and the full report."""

    run: str
    best_prompt: str
    initial_test: float | None
    best_test: float | None
    test_gain: float | None
    test_gain_ci95: tuple[float, float] | None
    report: dict[str, Any] = field(repr=False)

    @property
    def diagnosis(self) -> dict[str, Any] | None:
        """Why the starting prompt scored (near) zero on dev and the fixes to try, else None."""
        return self.report.get("diagnosis")

    @classmethod
    def from_report(cls, report: dict[str, Any]) -> OptimizationResult:
        """Read the headline numbers out of a report."""
        scores, difference = report["scores"], report.get("test_difference")
        initial, best = scores["initial"]["test"], scores["best"]["test"]
        return cls(
            run=report["run"],
            best_prompt=report["best_prompt"],
            initial_test=initial["mean"] if initial else None,
            best_test=best["mean"] if best else None,
            test_gain=difference["diff"] if difference else None,
            test_gain_ci95=(difference["interval"]["low"], difference["interval"]["high"])
            if difference
            else None,
            report=report,
        )


def optimize_request(data: str, prompt: str, **options: Any) -> OptimizeRequest:
    """The request :func:`optimize` runs for these arguments (benchmarks build theirs so)."""
    split = SplitSpec(
        train=options.pop("train", 0.2),
        dev=options.pop("dev", 0.4),
        test=options.pop("test", 0.4),
        seed=options.get("seed", 0),
    )
    budget = Budget.given(
        options.pop("budget", None),
        options.pop("max_calls", None),
        options.pop("max_seconds", None),
    )
    constraints = tuple(options.pop("constraints", ()))
    return OptimizeRequest(
        data=data, prompt=prompt, budget=budget, split_spec=split, directives=constraints,
        **options,
    )  # fmt: skip


async def aoptimize(
    data: str,
    prompt: str,
    *,
    optimizer: str = "auto",
    budget: int | None = None,
    max_calls: int | None = None,
    max_seconds: float | None = None,
    constraints: Sequence[str] = (),
    metric: str = "exact",
    template: str = "inline",
    seed: int = 0,
    train: int | float = 0.2,
    dev: int | float = 0.4,
    test: int | float = 0.4,
    test_data: str | None = None,
    home: str | Path | None = None,
    store: str | None = None,
    memory: str | None = None,
    settings: RuntimeSettings | None = None,
    on_event: EventFn | None = None,
    answer: AnswerFn | None = None,
) -> OptimizationResult:
    """Optimize ``prompt`` on ``data`` (a file or built-in task) and report on test.

    ``answer`` replies to questions the planner asks (``optimizer="auto"``); without
    it the run carries on as if the person had said nothing. ``store``
    (``postgresql://…``) and ``memory`` (a Chroma server's ``http://…``) share runs,
    checkpoints, answers and past prompts with other processes (see :func:`stores`).
    """
    request = optimize_request(
        data, prompt, optimizer=optimizer, budget=budget, max_calls=max_calls,
        max_seconds=max_seconds, constraints=constraints, metric=metric, template=template,
        seed=seed, train=train, dev=dev, test=test, test_data=test_data,
    )  # fmt: skip
    select_examples(EvalRequest(data=data, prompts=(prompt,)))  # bad data fails before any model
    where = stores(home, store, memory)
    settings = settings or runtime_settings(home=where.home, store_url=where.store_url)
    with (
        Workspace(where) as workspace,
        ModelRuntime(settings, database=workspace.database) as runtime,
    ):
        if optimizer == "auto":
            report = await run_pilot(
                request, runtime, home=workspace, on_event=on_event, answer=answer or _carry_on
            )
            if report is None:  # pragma: no cover - an answer callback is always given
                raise RuntimeError("the run stopped to ask a question; resume it with an answer")
        else:
            result = await run_optimize(request, runtime, home=workspace, on_event=on_event)
            report = result.to_dict()
            save_finished(workspace.runs, optimizer, request.config(), report)
    return OptimizationResult.from_report(report)


def stores(
    home: str | Path | None = None, store: str | None = None, memory: str | None = None
) -> StoreSettings:
    """Where runs, checkpoints, answers and prompts are kept for these arguments.

    Each is the argument, else its environment variable (``PROMPTPILOT_HOME``,
    ``PROMPTPILOT_STORE_URL``, ``PROMPTPILOT_MEMORY_URL``), else the default: files
    under ``~/.promptpilot``.
    """
    return store_settings(Path(home) if home else None, store_url=store, memory_url=memory)


async def _carry_on(question: str) -> str:
    return ""


def optimize(data: str, prompt: str, **options: Any) -> OptimizationResult:
    """Blocking :func:`aoptimize` (not from inside a running event loop)."""
    return asyncio.run(aoptimize(data, prompt, **options))


async def astream_optimize(data: str, prompt: str, **options: Any) -> AsyncIterator[dict[str, Any]]:
    """Run :func:`aoptimize`, yielding progress events as dicts, then ``{"kind": "result"}``."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    def push(event: RunEvent) -> None:
        queue.put_nowait(event.as_dict())

    task = asyncio.create_task(aoptimize(data, prompt, on_event=push, **options))
    try:
        while not (task.done() and queue.empty()):
            getter = asyncio.create_task(queue.get())
            done, _ = await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                yield getter.result()
            else:
                getter.cancel()
        result = task.result()
    finally:  # the consumer stopped early: stop the run too
        if not task.done():
            task.cancel()
    yield {"kind": "result", "run": result.run, "report": result.report}


async def aevaluate(
    data: str,
    prompts: Sequence[str],
    *,
    split: str = "all",
    limit: int | None = None,
    metric: str = "exact",
    template: str = "inline",
    home: str | Path | None = None,
    store: str | None = None,
    settings: RuntimeSettings | None = None,
) -> dict[str, Any]:
    """Score ``prompts`` on ``data``; paired differences against the first."""
    request = EvalRequest(
        data=data, prompts=tuple(prompts), split=split, limit=limit, metric=metric,
        template=template,
    )  # fmt: skip
    selected = select_examples(request)
    where = stores(home, store)
    settings = settings or runtime_settings(home=where.home, store_url=where.store_url)
    with ModelRuntime(settings, roles=("task",)) as runtime:
        report = await run_eval(request, runtime, selected=selected)
    return report.to_dict()


def evaluate(data: str, prompts: Sequence[str], **options: Any) -> dict[str, Any]:
    """Blocking :func:`aevaluate`."""
    return asyncio.run(aevaluate(data, prompts, **options))


def list_runs(home: str | Path | None = None, store: str | None = None) -> list[dict[str, Any]]:
    """Every recorded run, newest first."""
    with Workspace(stores(home, store)) as workspace:
        return workspace.runs.list()


def get_run(run: str, home: str | Path | None = None, store: str | None = None) -> dict[str, Any]:
    """One run's record and report."""
    with Workspace(stores(home, store)) as workspace:
        return workspace.runs.load(run)
