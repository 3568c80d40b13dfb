"""What the app's Data and Settings panels say about the next run, checked.

They become an :class:`~agent.run.request.OptimizeRequest` and
:class:`~agent.llm.runtime.RuntimeSettings`. Values arrive from form widgets (numbers as
floats, empty text for "not set"), so every field is validated here, with a message
naming what was expected and what was found. API keys typed in the app live only in
this object, in memory: never shown back, never written (``ModelSettings`` keeps them
out of reprs and reports).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from agent.llm.runtime import RuntimeSettings
from agent.llm.settings import EMBEDDED_MODEL_ALIAS, ModelSettings
from agent.run.request import OptimizeRequest
from optimizers.budget import Budget
from optimizers.evaluation.metrics import BUILTIN_METRICS
from optimizers.evaluation.templates import parse_template
from optimizers.registry import CHOICES
from optimizers.tasks import ColumnMapping, SplitSpec

METRIC_CHOICES = tuple(BUILTIN_METRICS)  # user Python metrics are command-line only
DEFAULT_BUDGET = None
"""No dev-query limit by default: the run stops after the default number of paid calls."""


@dataclass(frozen=True, kw_only=True)
class ModelForm:
    """One model role as typed in Settings: empty URL means the embedded model."""

    url: str = ""
    model: str = ""
    key: str = field(default="", repr=False)

    def settings(self, default: ModelSettings, role: str) -> ModelSettings:
        """``default`` with this form's endpoint, model and key.

        A key from the environment (``default.api_key``) is only sent to the endpoint it
        was configured for: pointing the role elsewhere without typing a key sends none.
        """
        url = self.url.strip() or None
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"the {role} URL must start with http:// or https://, got {url!r}")
        model = self.model.strip()
        if url is None:
            model = model or EMBEDDED_MODEL_ALIAS
        elif not model:
            raise ValueError(f"name the {role} model served at {url}")
        key = self.key.strip() or (default.api_key if url == default.base_url else None)
        return replace(default, base_url=url, model=model, api_key=key or None)


def split_size(value: float | int | None, name: str) -> int | float:
    """A split size from a number widget: below 1 a fraction, else a whole count."""
    if value is None:
        raise ValueError(f"give the {name} split size (a count such as 20, or a fraction)")
    number = float(value)
    if number < 0:
        raise ValueError(f"the {name} split size must not be negative, got {value}")
    if number < 1:
        return number
    if not number.is_integer():
        raise ValueError(f"the {name} split size must be a whole count or below 1, got {value}")
    return int(number)


def whole(value: float | int | None, name: str, minimum: int) -> int:
    """A whole number from a number widget, at least ``minimum``."""
    if value is None or not float(value).is_integer() or int(value) < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return int(value)


@dataclass(frozen=True, kw_only=True)
class RunForm:
    """The panels' values for one run (see the module docstring)."""

    input_column: str | None = None
    target_column: str | None = None
    metric: str = "exact"
    train: float | int | None = 0.2
    dev: float | int | None = 0.4
    test: float | int | None = 0.4
    template: str = "inline"
    budget: float | int | None = DEFAULT_BUDGET
    seed: float | int | None = 0
    optimizer: str = "auto"
    task_model: ModelForm = field(default_factory=ModelForm)
    optimizer_model: ModelForm = field(default_factory=ModelForm)

    def columns(self) -> ColumnMapping:
        """The column mapping (None guesses)."""
        return ColumnMapping(input=self.input_column or None, target=self.target_column or None)

    def split_spec(self) -> SplitSpec:
        """Split sizes and seed."""
        return SplitSpec(
            train=split_size(self.train, "train"),
            dev=split_size(self.dev, "dev"),
            test=split_size(self.test, "test"),
            seed=whole(self.seed, "the seed", 0),
        )

    def request(self, data: str, prompt: str, directives: tuple[str, ...] = ()) -> OptimizeRequest:
        """The run's request; raises ``ValueError`` naming the bad field."""
        if self.metric not in METRIC_CHOICES:
            raise ValueError(
                f"unknown metric {self.metric!r}; choose one of {', '.join(METRIC_CHOICES)}"
            )
        if self.optimizer not in CHOICES:
            known = ", ".join(CHOICES)
            raise ValueError(f"unknown optimizer {self.optimizer!r}; choose one of {known}")
        template = self.template.strip() or "inline"
        parse_template(template)  # a custom template without {prompt} and {input} fails here
        return OptimizeRequest(
            data=data,
            prompt=prompt,
            optimizer="auto",
            budget=Budget.given(
                None if self.budget is None else whole(self.budget, "the budget (dev queries)", 1)
            ),
            metric=self.metric,
            template=template,
            columns=self.columns(),
            split_spec=self.split_spec(),
            seed=whole(self.seed, "the seed", 0),
            directives=directives,
        )

    def runtime_settings(self, defaults: RuntimeSettings) -> RuntimeSettings:
        """``defaults`` (command line and environment) with the Settings panel applied."""
        return replace(
            defaults,
            task=self.task_model.settings(defaults.task, "task"),
            optimizer=self.optimizer_model.settings(defaults.optimizer, "optimizer"),
        )
