"""Metrics: how one model output is scored against an example's acceptable answers.

A metric maps ``(prediction, example)`` to a score in [0, 1]. Built-in metrics
score against the best-matching target in ``example.targets``. They never raise
on strange model output (empty, huge, control characters): a malformed answer
simply scores 0. They raise :class:`MetricError` only on misconfiguration — an
unknown metric name, a bad option, a target the metric cannot use (an invalid
regular expression, a non-numeric target for ``numeric``).

User metrics are given on the command line as ``module:function`` or
``path/to/file.py:function``; the code is imported and run in this process, so
only ever pass code you trust. (Metrics are never loaded from uploaded files.)
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import math
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from optimizers.evaluation.metric_error import MetricError, preview
from optimizers.evaluation.regex_scorer import MAX_REGEX_LENGTH, REGEX_TIMEOUT_S
from optimizers.evaluation.scorers import _FACTORIES, _OPTIONS, BUILTIN_METRICS
from optimizers.tasks.example import Example

__all__ = [
    "BUILTIN_METRICS",
    "MAX_REGEX_LENGTH",
    "REGEX_TIMEOUT_S",
    "FunctionMetric",
    "Metric",
    "MetricError",
    "get_metric",
]

logger = logging.getLogger(__name__)


@runtime_checkable
class Metric(Protocol):
    """Scores one model output against one example; the result is in [0, 1].

    ``score`` may return an awaitable (e.g. an LLM judge); callers await it.
    """

    name: str

    def score(self, prediction: str, example: Example) -> float | Awaitable[float]:
        """Score ``prediction`` for ``example``."""
        ...


@dataclass(frozen=True)
class FunctionMetric:
    """A metric from a plain function ``fn(prediction, targets) -> float | bool``.

    ``fn`` receives *all* acceptable targets (as a list) and is responsible for
    taking the best match; the built-in metrics do exactly that. The result is
    turned into a score here: ``bool`` → 0/1, numbers clamped to [0, 1]; a
    non-numeric or non-finite result raises :class:`MetricError` naming the metric.
    """

    name: str
    fn: Callable[[str, Sequence[str]], float | bool]

    def score(self, prediction: str, example: Example) -> float:
        """Score ``prediction`` against ``example.targets``."""
        if not isinstance(prediction, str):
            prediction = "" if prediction is None else str(prediction)
        try:
            value = self.fn(prediction, list(example.targets))
        except MetricError:
            raise
        except Exception as exc:
            exc.add_note(f"in metric {self.name!r} (example {example.id!r})")
            raise
        return _as_score(self.name, value)


def _as_score(name: str, value: object) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str | bytes) or not hasattr(value, "__float__"):
        if hasattr(value, "close") and hasattr(value, "send"):  # a coroutine: don't leak it
            value.close()  # type: ignore[attr-defined]
            raise MetricError(
                f"metric {name!r} returned a coroutine; metric functions must be synchronous "
                "and return a float or a bool"
            )
        raise MetricError(
            f"metric {name!r} must return a float or a bool, got {type(value).__name__}: "
            f"{preview(value)}"
        )
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise MetricError(
            f"metric {name!r} must return a float or a bool, got {type(value).__name__}: "
            f"{preview(value)}"
        ) from exc
    if not math.isfinite(number):
        raise MetricError(f"metric {name!r} returned {number}; scores must be finite numbers")
    return min(1.0, max(0.0, number))


# --- exact / contains / f1 -------------------------------------------------------


def get_metric(spec: str, *, options: Mapping[str, str] | None = None) -> Metric:
    """Build a metric from its spec: a built-in name or ``module:function`` / ``file.py:function``.

    ``options`` are metric settings as strings (from the command line), e.g.
    ``{"flags": "i"}`` for ``regex`` or ``{"tol": "0.01"}`` for ``numeric``.
    """
    options = dict(options or {})
    name = spec.strip()
    builtin = name.lower()
    if builtin in _FACTORIES:
        unknown = sorted(set(options) - _OPTIONS[builtin])
        if unknown:
            accepted = ", ".join(sorted(_OPTIONS[builtin])) or "none"
            raise MetricError(
                f"metric {builtin!r} has no option {', '.join(map(repr, unknown))}; "
                f"accepted options: {accepted}"
            )
        return FunctionMetric(name=builtin, fn=_FACTORIES[builtin](options))
    if ":" in name:
        if options:
            raise MetricError(
                f"metric {name!r}: options ({', '.join(sorted(options))}) apply to built-in "
                "metrics only; a user function gets just (prediction, targets)"
            )
        return FunctionMetric(name=name, fn=_load_function(name))
    raise MetricError(
        f"unknown metric {spec!r}: expected one of {', '.join(BUILTIN_METRICS)}, "
        "or a user function as module:function or path/to/file.py:function"
    )


def _load_function(spec: str) -> Callable[[str, Sequence[str]], float | bool]:
    """Import ``module:function`` or ``path/to/file.py:function`` (trusted command-line input)."""
    location, _, attribute = spec.strip().rpartition(":")
    if not location or not attribute:
        raise MetricError(f"metric {spec!r}: expected module:function or path/to/file.py:function")
    if location.endswith(".py") or "/" in location or "\\" in location:
        module = _import_file(spec, Path(location))
    else:
        try:
            module = importlib.import_module(location)
        except ModuleNotFoundError as exc:
            if exc.name == location or location.startswith(f"{exc.name}."):
                raise MetricError(f"metric {spec!r}: no module named {location!r}") from exc
            raise MetricError(f"metric {spec!r}: importing {location!r} failed: {exc}") from exc
        except Exception as exc:
            raise MetricError(
                f"metric {spec!r}: importing {location!r} failed: {type(exc).__name__}: {exc}"
            ) from exc
    target: object = module
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise MetricError(
                f"metric {spec!r}: {location!r} has no attribute {attribute!r}"
            ) from None
    if not callable(target):
        raise MetricError(
            f"metric {spec!r}: {attribute!r} is a {type(target).__name__}, not a function "
            "fn(prediction: str, targets: list[str]) -> float | bool"
        )
    return target  # type: ignore[return-value]


def _import_file(spec: str, path: Path) -> object:
    if not path.is_file():
        raise MetricError(f"metric {spec!r}: file {str(path)!r} does not exist")
    resolved = path.resolve()
    digest = hashlib.sha1(str(resolved).encode(), usedforsecurity=False).hexdigest()[:10]
    module_name = f"_promptpilot_user_metric_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    module_spec = importlib.util.spec_from_file_location(module_name, resolved)
    if module_spec is None or module_spec.loader is None:
        raise MetricError(f"metric {spec!r}: cannot import {str(path)!r} as Python code")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module  # dataclasses and pickling look the module up
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise MetricError(
            f"metric {spec!r}: importing {str(path)!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    return module
