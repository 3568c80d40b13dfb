"""What the LangChain tool and the MCP server share: argument schemas, compact results, errors.

The argument schemas and their descriptions are what the calling LLM reads, so
they say what each value means and what it costs. The tools return a compact,
JSON-ready summary (headline numbers with intervals), not the whole trajectory:
an agent's context is small, and the full report stays on disk (``get_run``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.api import OptimizationResult
from agent.llm.local_server import LocalServerError
from agent.run.report import compact_difference
from agent.run.report_fields import Difference, ReportFields, Score
from optimizers.evaluation.chat_calls import EndpointError
from optimizers.evaluation.metrics import BUILTIN_METRICS, MetricError
from optimizers.registry import CHOICES, REGISTRY
from optimizers.tasks import BUILTIN_TASKS, DataError, SplitSpec

EXPECTED_ERRORS: tuple[type[Exception], ...] = (
    DataError,
    MetricError,
    ValueError,
    EndpointError,
    LocalServerError,
)
"""Failures the caller can act on (bad data, bad argument, endpoint down): reported as text."""

# The optimizers come from the registry; the metrics are kept in step with BUILTIN_METRICS
# (a unit test checks). User metric functions (module:function) are deliberately not offered:
# a tool argument comes from an LLM, and must never name code to import.
OptimizerName = Literal[CHOICES]  # type: ignore[valid-type]
MetricName = Literal["exact", "contains", "f1", "choice", "regex", "numeric", "set"]
SplitName = Literal["train", "dev", "test", "all"]

_SPLITS = SplitSpec()
_MISSES_SHOWN = 3
_TEXT_SHOWN = 300

DataArg = Annotated[
    str,
    Field(
        min_length=1,
        description="The eval data: a path to a CSV/TSV (header row), JSONL or JSON file of "
        "examples with an input and a target column (guessed from names like input/question/"
        "text and output/target/answer/label), or the name of a built-in task: "
        + ", ".join(sorted(BUILTIN_TASKS))
        + ".",
    ),
]
PromptArg = Annotated[
    str,
    Field(
        min_length=1,
        description="The prompt to start from: the instruction the task model receives "
        "before each input.",
    ),
]
OptimizerArg = Annotated[
    OptimizerName,
    Field(
        description="Search method: 'auto' (an agent plans and switches methods) or one "
        "method alone: " + "; ".join(f"'{i.name}' ({i.summary})" for i in REGISTRY) + "."
    ),
]
BudgetArg = Annotated[
    int,
    Field(
        ge=1,
        le=1000,
        description="Dev queries: how many prompts, the starting one included, may be scored "
        "on the dev split. More finds better prompts and costs more LLM calls and time "
        "(each query is one call per dev example).",
    ),
]
ConstraintsArg = Annotated[
    list[Annotated[str, Field(min_length=1)]],
    Field(
        description="Hard constraints every new prompt must satisfy, in plain words, e.g. "
        "'at most 30 words'. Prompts that break one are never scored nor chosen."
    ),
]
MetricArg = Annotated[
    MetricName,
    Field(
        description="How an answer is scored against its target: "
        + "; ".join(f"{name}: {text}" for name, text in BUILTIN_METRICS.items())
        + "."
    ),
]


def _size_arg(split: str, default: float) -> Any:
    # int first: 12 is a count, 0.2 a fraction (SplitSpec tells them apart by type).
    return Annotated[
        Annotated[int, Field(ge=1)] | Annotated[float, Field(gt=0, lt=1)] | None,
        Field(
            description=f"Size of the {split} split: a count of examples (e.g. 12) or a "
            f"fraction of the data (e.g. {default}). Default {default}.",
        ),
    ]


TrainArg = _size_arg("train", _SPLITS.train)
DevArg = _size_arg("dev", _SPLITS.dev)
TestArg = _size_arg("test (held out, scored once at the end)", _SPLITS.test)
MaxSecondsArg = Annotated[
    float | None,
    Field(
        gt=0,
        description="Stop the search after this many seconds; the test report still runs. "
        "Default: no time limit.",
    ),
]
PromptsArg = Annotated[
    list[Annotated[str, Field(min_length=1)]],
    Field(
        min_length=1,
        max_length=20,
        description="The prompts to score on the same examples. Every prompt after the first "
        "is compared to the first, paired by example (difference, 95% interval, p-value).",
    ),
]
EvalSplitArg = Annotated[
    SplitName,
    Field(
        description="Which examples: 'all', or the deterministic 'train', 'dev' or 'test' "
        f"split ({_SPLITS.train}/{_SPLITS.dev}/{_SPLITS.test} of the data, seed {_SPLITS.seed})."
    ),
]
LimitArg = Annotated[
    int | None,
    Field(ge=1, description="Score only the first N examples of the split (faster, less precise)."),
]


class OptimizePromptArgs(BaseModel):
    """Arguments of the ``optimize`` tools (LangChain and MCP)."""

    model_config = ConfigDict(extra="forbid")

    data: DataArg
    prompt: PromptArg
    optimizer: OptimizerArg = "auto"
    budget: BudgetArg = 20
    constraints: ConstraintsArg = []
    metric: MetricArg = "exact"
    train: TrainArg = None
    dev: DevArg = None
    test: TestArg = None
    max_seconds: MaxSecondsArg = None


class EvaluatePromptsArgs(BaseModel):
    """Arguments of the ``evaluate`` tools (LangChain and MCP)."""

    model_config = ConfigDict(extra="forbid")

    data: DataArg
    prompts: PromptsArg
    split: EvalSplitArg = "all"
    limit: LimitArg = None
    metric: MetricArg = "exact"


OPTIMIZE_DESCRIPTION = (
    "Optimize a prompt for a task. Searches for a better prompt using only the train and dev "
    "splits of the eval data, then scores the starting prompt and the best one on the held-out "
    "test split. Returns the best prompt, both test scores with 95% intervals, and the paired "
    "test gain with its 95% interval (an interval above 0 is a real improvement) plus the split "
    "sizes. Slow: minutes, one LLM call per dev example per query. The run is recorded under "
    "its id with its full report."
)
EVALUATE_DESCRIPTION = (
    "Score one or more prompts on an eval set with the task model. Returns each prompt's mean "
    "score with a 95% interval, a few examples it got wrong, and each prompt's paired "
    "difference to the first (95% interval and p-value). Use it to compare prompts honestly "
    "before or after optimizing."
)


# --- compact results -------------------------------------------------------------------------


def _clip(text: str) -> str:
    return text if len(text) <= _TEXT_SHOWN else text[: _TEXT_SHOWN - 1] + "…"


def optimization_summary(result: OptimizationResult) -> dict[str, Any]:
    """The headline of a run: best prompt, test scores, the gain with its interval, splits."""
    report = ReportFields.of(result.report)
    gain = report.difference
    return {
        "run": result.run,
        "task": report.task,
        "optimizer": report.optimizer,
        "initial_prompt": report.seed_prompt,
        "best_prompt": result.best_prompt,
        "initial_test": _compact(report.seed_test),
        "best_test": _compact(report.best_test),
        "test_gain": _compact(gain),
        "gain_is_significant": gain is not None and gain.low > 0,
        "initial_dev": _compact(report.seed_dev),
        "best_dev": _compact(report.best_dev),
        "splits": report.splits,
        "dev_queries": report.dev_queries,
        "stopped": report.stopped,
        "llm_calls": report.spend.calls,
        "wall_time_s": report.wall_time_s,
        "diagnosis": result.diagnosis,
    }


def _compact(value: Score | Difference | None) -> dict[str, Any] | None:
    return None if value is None else value.compact()


def evaluation_summary(report: dict[str, Any]) -> dict[str, Any]:
    """Scores with intervals, a few misses per prompt, paired differences to the first."""
    results = []
    for result in report["results"]:
        examples = result.get("examples", [])
        misses = [e for e in examples if e["score"] < 1.0][:_MISSES_SHOWN]
        results.append(
            {
                "prompt": result["prompt"],
                "mean": result["mean"],
                "ci95": list(result["ci95"]),
                "n": result["n"],
                "failed_calls": sum(1 for e in examples if e.get("error")),
                "misses": [
                    {
                        "input": _clip(e["input"]),
                        "output": _clip(e["output"]),
                        "expected": list(e["targets"]),
                    }
                    for e in misses
                ],
            }
        )
    first = report["results"][0]
    return {
        "task": report["task"],
        "split": report["split"],
        "metric": first["metric"],
        "template": first["template"],
        "n": first["n"],
        "results": results,
        "comparisons_to_first": [
            {"prompt": c["prompt"], **compact_difference(c)} for c in report["comparisons_to_first"]
        ],
    }


# --- calling the API -------------------------------------------------------------------------


@contextmanager
def expected_errors_as(error: type[Exception]) -> Iterator[None]:
    """Re-raise the failures a caller can act on as ``error`` with the same message."""
    try:
        yield
    except EXPECTED_ERRORS as exc:
        raise error(str(exc)) from exc


def optimize_options(
    args: OptimizePromptArgs, defaults: dict[str, Any]
) -> tuple[str, str, dict[str, Any]]:
    """``(data, prompt, keyword arguments)`` for :func:`agent.api.aoptimize`."""
    options = {**defaults, **args.model_dump(exclude={"data", "prompt"}, exclude_none=True)}
    return args.data, args.prompt, options
