"""Headless evaluation: score one or more prompts on a task split and compare them.

This is what ``promptpilot eval`` and the demo run, and what other programs
call: give it an :class:`EvalRequest` and a started :class:`ModelRuntime`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from agent.llm.runtime import ModelRuntime
from optimizers.evaluation.evaluator import EvalResult, Evaluator, compare
from optimizers.evaluation.judge import LLMJudge
from optimizers.evaluation.metrics import Metric, get_metric
from optimizers.evaluation.stats import PairedComparison
from optimizers.evaluation.templates import parse_template
from optimizers.tasks import (
    BUILTIN_TASKS,
    ColumnMapping,
    DataError,
    SplitSpec,
    Task,
    load_builtin_task,
    load_task,
    split_task,
)
from optimizers.tasks.example import Example

SPLITS = ("train", "dev", "test", "all")


def resolve_task(data: str, *, columns: ColumnMapping = ColumnMapping()) -> Task:
    """Load ``data`` as a file path, or as the name of a shipped example task."""
    name = data.removeprefix("builtin:")
    if not Path(data).exists() and name in BUILTIN_TASKS:
        return load_builtin_task(name)
    if not Path(data).exists():
        raise DataError(
            data,
            "no such file (built-in example tasks: " + ", ".join(sorted(BUILTIN_TASKS)) + ")",
        )
    return load_task(data, columns=columns)


@dataclass(frozen=True, kw_only=True)
class EvalRequest:
    """What to evaluate: the data, the prompts, and how to score them."""

    data: str
    prompts: tuple[str, ...]
    split: str = "all"
    limit: int | None = None
    metric: str = "exact"
    rubric: str | None = None  # with metric="judge"
    template: str = "inline"
    columns: ColumnMapping = field(default_factory=ColumnMapping)
    split_spec: SplitSpec = field(default_factory=SplitSpec)
    test_data: str | None = None

    def __post_init__(self) -> None:
        if not self.prompts:
            raise ValueError("give at least one prompt to evaluate")
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {self.split!r}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1, got {self.limit}")
        if self.metric == "judge" and not self.rubric:
            raise ValueError("the judge metric needs a rubric (--rubric)")

    @property
    def needs_optimizer_model(self) -> bool:
        """The judge metric runs on the optimizer model."""
        return self.metric == "judge"


@dataclass(frozen=True)
class EvalReport:
    """Scores of every prompt, and each one's paired difference to the first."""

    task: str
    split: str
    results: tuple[EvalResult, ...]
    comparisons: tuple[PairedComparison, ...]  # results[i + 1] against results[0]
    config: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view of the whole report."""
        return {
            "task": self.task,
            "split": self.split,
            "config": self.config,
            "results": [result.to_dict() for result in self.results],
            "comparisons_to_first": [
                {
                    **asdict(comparison),
                    "prompt": result.prompt,
                }
                for comparison, result in zip(self.comparisons, self.results[1:], strict=True)
            ],
        }


@dataclass(frozen=True)
class SelectedExamples:
    """The examples a request will be scored on, loaded and validated up front."""

    task: str
    examples: tuple[Example, ...]


def select_examples(request: EvalRequest) -> SelectedExamples:
    """The examples of the requested split (first ``limit`` only).

    Called before any model starts, so bad data fails in a second, not after a
    server start.
    """
    task = resolve_task(request.data, columns=request.columns)
    test_task = (
        resolve_task(request.test_data, columns=request.columns) if request.test_data else None
    )
    if request.split == "all" and test_task is None:
        examples = task.examples
    else:
        examples = split_task(task, request.split_spec, test_task=test_task).get(request.split)
    if request.limit is not None:
        examples = examples[: request.limit]
    if not examples:
        raise DataError(task.path or task.name, f"the {request.split} split is empty")
    return SelectedExamples(task.name, tuple(examples))


def build_metric(request: EvalRequest, runtime: ModelRuntime) -> Metric:
    """The request's metric; the judge borrows the optimizer model."""
    if request.metric == "judge":
        if runtime.optimizer is None or request.rubric is None:
            raise ValueError("the judge metric needs the optimizer model and a rubric")
        return LLMJudge(runtime.optimizer, request.rubric)
    return get_metric(request.metric)


async def run_eval(
    request: EvalRequest,
    runtime: ModelRuntime,
    *,
    selected: SelectedExamples | None = None,
    progress: Callable[[int, int, int], None] | None = None,
) -> EvalReport:
    """Evaluate each prompt in turn and compare each to the first, paired by example.

    ``progress(prompt_index, done, total)`` is called as examples finish.
    """
    selected = selected or select_examples(request)
    examples = selected.examples
    assert runtime.task is not None
    evaluator = Evaluator(
        runtime.task,
        metric=build_metric(request, runtime),
        template=parse_template(request.template),
    )
    results = []
    for index, prompt in enumerate(request.prompts):
        callback = None if progress is None else (lambda d, t, i=index: progress(i, d, t))
        results.append(
            await evaluator.evaluate(prompt, examples, split=request.split, progress=callback)
        )
    comparisons = tuple(compare(results[0], other) for other in results[1:])
    config = {
        **{k: v for k, v in asdict(request).items() if k != "prompts"},
        "task_model": runtime.settings.task.public(),
        "n_examples": len(examples),
    }
    return EvalReport(selected.task, request.split, tuple(results), comparisons, config)
