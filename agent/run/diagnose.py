"""Diagnostics from the same requests, data and models the CLI uses.

Two kinds (see :mod:`optimizers.diagnostics`):

- of a finished run (:func:`diagnose_run`): class shares, sentence ablation and
  the overfitting guard re-score the run's seed and best prompts on its own
  splits, rebuilt from its recorded request; answers already paid for come from
  the response cache;
- re-running an optimizer (:func:`diagnose_labels`, :func:`diagnose_proposals`)
  on an :class:`~agent.run.request.OptimizeRequest`, in a
  :class:`~agent.run.session.RunSession` like ``promptpilot optimize``.

Every function returns a dataclass with ``to_dict()``, for the CLI's ``--json``
and for the UI.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.llm.runtime import ModelRuntime
from agent.run.evaluate import EvalRequest, build_metric, select_examples
from agent.run.request import OptimizeRequest, new_run_id
from agent.run.session import RunSession, total_steps
from agent.run.workspace import Workspace
from memory.embeddings import Embedder
from optimizers.budget import Budget
from optimizers.diagnostics.class_shares import ClassSharesReport, class_shares
from optimizers.diagnostics.label_corruption import (
    CorruptionConfig,
    LabelCorruptionReport,
    label_corruption,
    label_set,
)
from optimizers.diagnostics.overfitting import OverfitReport, overfit_guard
from optimizers.diagnostics.proposal_selection import (
    ProposalSelectionReport,
    proposal_vs_selection,
)
from optimizers.diagnostics.rerun import ArmEventFn, OptimizerFactory
from optimizers.diagnostics.sentence_ablation import SentenceAblationReport, sentence_ablation
from optimizers.evaluation.chat_calls import Usage
from optimizers.evaluation.evaluator import EvalResult, Evaluator
from optimizers.evaluation.templates import parse_template
from optimizers.registry import optimizer_class
from optimizers.tasks import Example

RUN_DIAGNOSTICS = ("classes", "ablation", "overfit")
"""What ``promptpilot diagnose RUN_ID`` runs, in this order."""


def split_request(request: OptimizeRequest, split: str) -> EvalRequest:
    """An evaluation of ``split`` exactly as the optimization split its data."""
    return EvalRequest(
        data=request.data,
        prompts=(request.prompt,),
        split=split,
        metric=request.metric,
        template=request.template,
        columns=request.columns,
        split_spec=request.split_spec,
        test_data=request.test_data,
    )


def evaluator_for(request: OptimizeRequest, runtime: ModelRuntime) -> Evaluator:
    """The evaluator an optimization with ``request`` scores with."""
    if runtime.task is None:
        raise ValueError("diagnostics need the task model started")
    metric = build_metric(split_request(request, "test"), runtime)
    return Evaluator(runtime.task, metric=metric, template=parse_template(request.template))


def finished_run(home: Path | Workspace, run: str) -> tuple[OptimizeRequest, dict[str, Any]]:
    """A run's request and report; ``ValueError`` if it has no report yet."""
    record = Workspace.of(home).runs.load(run)
    report = record.get("report")
    if not report:
        raise ValueError(
            f"run {run!r} has no report yet (status: {record.get('status', 'unknown')}); "
            "diagnose a finished run, or resume it first (`promptpilot runs resume`)"
        )
    if "request" not in record:
        raise ValueError(f"run {run!r} has no recorded request: its data and splits are unknown")
    return OptimizeRequest.from_config(record["request"]), report


@dataclass(frozen=True)
class RunDiagnostics:
    """The diagnostics of one finished run; a diagnostic that does not apply says why."""

    run: str
    task: str
    optimizer: str
    split: str
    seed_prompt: str
    best_prompt: str
    classes: ClassSharesReport | None = None
    ablation: SentenceAblationReport | None = None
    overfit: OverfitReport | None = None
    skipped: dict[str, str] = field(default_factory=dict)  # diagnostic -> why
    usage: Usage = field(default_factory=Usage)  # task-model calls the diagnostics paid

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` payload."""
        return {
            "run": self.run,
            "task": self.task,
            "optimizer": self.optimizer,
            "split": self.split,
            "seed_prompt": self.seed_prompt,
            "best_prompt": self.best_prompt,
            "classes": None if self.classes is None else self.classes.to_dict(),
            "ablation": None if self.ablation is None else self.ablation.to_dict(),
            "overfit": None if self.overfit is None else self.overfit.to_dict(),
            "skipped": self.skipped,
            "usage": dataclasses.asdict(self.usage),
        }


def check_run_diagnostics(only: Sequence[str], split: str) -> tuple[str, ...]:
    """The requested diagnostics, validated (before any model starts)."""
    chosen = tuple(dict.fromkeys(name.strip() for name in only if name.strip()))
    unknown = [name for name in chosen if name not in RUN_DIAGNOSTICS]
    if unknown or not chosen:
        raise ValueError(
            f"unknown diagnostic {', '.join(map(repr, unknown)) or '(none given)'}; "
            f"choose from {', '.join(RUN_DIAGNOSTICS)}"
        )
    if split not in ("dev", "test"):
        raise ValueError(f"split must be dev or test, got {split!r}")
    return chosen


async def diagnose_run(
    run: str,
    runtime: ModelRuntime,
    *,
    home: Path | Workspace,
    only: Sequence[str] = RUN_DIAGNOSTICS,
    split: str = "test",
    min_shift: float = 0.10,
) -> RunDiagnostics:
    """Class shares and sentence ablation on ``split``, and the overfitting guard, of a run.

    The seed and best prompts are re-scored on the run's own splits (from the
    cache when the run used the same home); each prompt and split is evaluated
    once per call.
    """
    chosen = check_run_diagnostics(only, split)
    request, report = finished_run(home, run)
    evaluator = evaluator_for(request, runtime)
    needed = {split, "train", "dev", "test"} if "overfit" in chosen else {split}
    examples = {name: select_examples(split_request(request, name)).examples for name in needed}
    scored: dict[tuple[str, str], EvalResult] = {}

    async def score(prompt: str, name: str) -> EvalResult:
        if (prompt, name) not in scored:
            scored[prompt, name] = await evaluator.evaluate(prompt, examples[name], split=name)
        return scored[prompt, name]

    seed, best = report["seed_prompt"], report["best_prompt"]
    before = evaluator.caller.usage.snapshot()
    found, skipped = await _findings(
        chosen, score, evaluator, seed, best, examples, split=split, min_shift=min_shift
    )
    return RunDiagnostics(
        run=run,
        task=report["task"],
        optimizer=report.get("optimizer", ""),
        split=split,
        seed_prompt=seed,
        best_prompt=best,
        skipped=skipped,
        usage=evaluator.caller.usage.since(before),
        **found,
    )


async def _findings(
    chosen: Sequence[str],
    score: Callable[[str, str], Awaitable[EvalResult]],
    evaluator: Evaluator,
    seed: str,
    best: str,
    examples: dict[str, list[Example]],
    *,
    split: str,
    min_shift: float,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The chosen diagnostics' results, and why any of them could not run."""
    found: dict[str, Any] = {}
    skipped: dict[str, str] = {}
    if "classes" in chosen:
        try:
            found["classes"] = class_shares(
                await score(seed, split), await score(best, split), min_shift=min_shift
            )
        except ValueError as exc:  # not a classification task
            skipped["classes"] = str(exc)
    if "ablation" in chosen:
        try:
            found["ablation"] = await sentence_ablation(
                evaluator,
                best,
                examples[split],
                split=split,
                full=await score(best, split),
                baseline=await score(seed, split),
            )
        except ValueError as exc:  # too many sentences to ablate one by one
            skipped["ablation"] = str(exc)
    if "overfit" in chosen:
        found["overfit"] = overfit_guard(
            seed_dev=await score(seed, "dev"),
            seed_test=await score(seed, "test"),
            best_dev=await score(best, "dev"),
            best_test=await score(best, "test"),
            train=examples["train"],
        )
    return found, skipped


def optimizer_factory(name: str, budget: Budget) -> OptimizerFactory:
    """Fresh optimizers ``name`` sized for ``budget``, as a run session makes them."""
    if name == "auto":
        raise ValueError(
            "this diagnostic re-runs one optimizer; choose zopo, gpo, textgrad, ape or random "
            "(not auto)"
        )
    cls = optimizer_class(name)
    return lambda context: cls(
        dataclasses.replace(context, total_steps=total_steps(cls, budget, context.dev_size))
    )


def _session(
    request: OptimizeRequest,
    runtime: ModelRuntime,
    home: Path | Workspace,
    kind: str,
    embedder: Embedder | None,
) -> RunSession:
    optimizer_factory(request.optimizer, request.budget)  # fail before loading anything
    run = f"diagnose-{kind}-{new_run_id(request)}"
    return RunSession.open(
        request, runtime, workspace=Workspace.of(home), run=run, embedder=embedder
    )


async def diagnose_labels(
    request: OptimizeRequest,
    runtime: ModelRuntime,
    *,
    home: Path | Workspace,
    rate: float = 1.0,
    corruption_seed: int = 0,
    embedder: Embedder | None = None,
    on_event: ArmEventFn | None = None,
) -> LabelCorruptionReport:
    """``request``'s optimizer on clean and on corrupted train labels, at its budget.

    Replacement labels are drawn from the targets of train and dev (test is
    never read before both searches end).
    """
    session = _session(request, runtime, home, "labels", embedder)
    try:
        splits = session.splits
        config = CorruptionConfig(
            rate=rate, seed=corruption_seed, labels=label_set(splits.train + splits.dev)
        )
        return await label_corruption(
            session.context,
            optimizer_factory(request.optimizer, request.budget),
            dev=splits.dev,
            test=splits.test,
            budget=request.budget,
            seed=request.seed,
            config=config,
            on_event=on_event,
        )
    finally:
        session.close()


async def diagnose_proposals(
    request: OptimizeRequest,
    runtime: ModelRuntime,
    *,
    home: Path | Workspace,
    embedder: Embedder | None = None,
    on_event: ArmEventFn | None = None,
) -> ProposalSelectionReport:
    """``request``'s optimizer against as many seed paraphrases, selected the same way."""
    session = _session(request, runtime, home, "proposals", embedder)
    try:
        return await proposal_vs_selection(
            session.context,
            optimizer_factory(request.optimizer, request.budget),
            dev=session.splits.dev,
            test=session.splits.test,
            budget=request.budget,
            seed=request.seed,
            on_event=on_event,
        )
    finally:
        session.close()
