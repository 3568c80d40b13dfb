"""Scoring a prompt on a split: per-example outputs, a mean with its interval, costs.

The evaluator is the only way scores are produced, so it is where honesty is
enforced: every result names its split, carries a bootstrap interval, and counts
what it cost. One bad model output costs that example a zero, never the run.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from langchain_core.messages import BaseMessage

from optimizers.evaluation.chat_calls import CallFailed, ChatCaller, EndpointError, Usage
from optimizers.evaluation.metrics import Metric, MetricError
from optimizers.evaluation.stats import (
    Interval,
    PairedComparison,
    mean_with_ci,
    paired_comparison,
)
from optimizers.evaluation.structured_prompt import StructuredPrompt
from optimizers.evaluation.templates import PromptTemplate
from optimizers.tasks.example import Example

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class ExampleResult:
    """What happened on one example."""

    example_id: str
    input: str
    targets: tuple[str, ...]
    output: str
    score: float
    cached: bool
    error: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass(frozen=True)
class EvalResult:
    """A prompt's score on one split, with everything needed to trust or question it."""

    prompt: str
    split: str
    template: str
    metric: str
    examples: tuple[ExampleResult, ...]
    mean: float
    interval: Interval
    usage: Usage
    wall_time_s: float

    @property
    def n(self) -> int:
        """How many examples were scored."""
        return len(self.examples)

    @property
    def scores(self) -> list[float]:
        """Per-example scores in example order."""
        return [result.score for result in self.examples]

    def failures_first(self) -> list[ExampleResult]:
        """Examples ordered worst first, the order people want to read them in."""
        return sorted(self.examples, key=lambda result: result.score)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (the ``--json`` output)."""
        return {
            "prompt": self.prompt,
            "split": self.split,
            "template": self.template,
            "metric": self.metric,
            "n": self.n,
            "mean": self.mean,
            "ci95": [self.interval.low, self.interval.high],
            "usage": asdict(self.usage),
            "wall_time_s": self.wall_time_s,
            "examples": [asdict(result) for result in self.examples],
        }


@dataclass
class Evaluator:
    """Scores prompts on examples with one task model, template and metric."""

    caller: ChatCaller
    metric: Metric
    template: PromptTemplate = field(default_factory=PromptTemplate)
    bootstrap_seed: int = 0
    examples_seen: Counter[str] = field(default_factory=Counter)
    """How many example evaluations each split has had: proves test stayed untouched."""

    async def evaluate(
        self,
        prompt: str | StructuredPrompt,
        examples: Sequence[Example],
        *,
        split: str,
        progress: ProgressFn | None = None,
    ) -> EvalResult:
        """Run ``prompt`` on every example concurrently and score the answers.

        A plain ``str`` is placed by the evaluator's template; a
        :class:`StructuredPrompt` renders itself (its layout, or this template).
        """
        if not examples:
            raise ValueError(f"the {split} split has no examples to evaluate on")
        started = time.perf_counter()
        before = self.caller.usage.snapshot()
        done = 0

        async def one(example: Example) -> ExampleResult:
            nonlocal done
            result = await self._score_one(prompt, example)
            done += 1
            if progress is not None:
                progress(done, len(examples))
            return result

        results = tuple(await asyncio.gather(*(one(example) for example in examples)))
        self.examples_seen[split] += len(results)
        mean, interval = mean_with_ci(
            [result.score for result in results], seed=self.bootstrap_seed
        )
        structured = isinstance(prompt, StructuredPrompt)
        return EvalResult(
            prompt=prompt.text if structured else prompt,
            split=split,
            template=(prompt.layout or self.template.id) if structured else self.template.id,
            metric=self.metric.name,
            examples=results,
            mean=mean,
            interval=interval,
            usage=self.caller.usage.since(before),
            wall_time_s=time.perf_counter() - started,
        )

    def render(self, prompt: str | StructuredPrompt, input: str) -> list[BaseMessage]:
        """The messages ``prompt`` sends the task model for ``input``."""
        if isinstance(prompt, StructuredPrompt):
            return prompt.render(input, self.template)
        return self.template.render(prompt, input)

    async def _score_one(self, prompt: str | StructuredPrompt, example: Example) -> ExampleResult:
        messages = self.render(prompt, example.input)
        try:
            completion = await self.caller.complete(messages)
        except CallFailed as exc:
            return ExampleResult(
                example.id, example.input, example.targets, "", 0.0, False, str(exc)
            )
        error = None
        try:
            score = self.metric.score(completion.text, example)
            if inspect.isawaitable(score):
                score = await score
        except EndpointError:  # an LLM judge's endpoint failed: an outage, not a score
            raise
        except MetricError as exc:  # misconfiguration or unusable target: stop, say where
            where = example.source or f"example {example.id}"
            raise MetricError(f"{where}: {exc}") from exc
        except Exception as exc:  # a metric choking on odd output costs only this example
            score, error = 0.0, f"metric failed: {type(exc).__name__}: {exc}"
        return ExampleResult(
            example.id,
            example.input,
            example.targets,
            completion.text,
            float(score),
            completion.cached,
            error,
            completion.prompt_tokens,
            completion.completion_tokens,
        )


def concat(parts: Sequence[EvalResult], *, seed: int = 0) -> EvalResult:
    """One result from results of one prompt on consecutive blocks of a split (racing)."""
    if not parts:
        raise ValueError("concat needs at least one result")
    first = parts[0]
    examples = tuple(example for part in parts for example in part.examples)
    mean, interval = mean_with_ci([example.score for example in examples], seed=seed)
    usage = Usage()
    for part in parts:
        for name in ("calls", "cache_hits", "failures", "prompt_tokens", "completion_tokens"):
            setattr(usage, name, getattr(usage, name) + getattr(part.usage, name))
    return replace(
        first,
        examples=examples,
        mean=mean,
        interval=interval,
        usage=usage,
        wall_time_s=sum(part.wall_time_s for part in parts),
    )


def compare(baseline: EvalResult, candidate: EvalResult, *, seed: int = 0) -> PairedComparison:
    """Paired difference ``candidate - baseline`` over the examples both were scored on."""
    ids_a = [result.example_id for result in baseline.examples]
    ids_b = [result.example_id for result in candidate.examples]
    if ids_a != ids_b:
        raise ValueError(
            "a paired comparison needs both prompts scored on the same examples in the same "
            f"order ({baseline.split}: {len(ids_a)} examples, {candidate.split}: {len(ids_b)})"
        )
    return paired_comparison(baseline.scores, candidate.scores, seed=seed)
