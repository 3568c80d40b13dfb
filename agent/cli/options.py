"""Command-line options shared by several commands, and turning them into settings.

Environment variables (``PROMPTPILOT_TASK_BASE_URL`` …) give the defaults;
flags override them. API keys are best passed through the environment: a flag
shows up in shell history and process listings.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, get_type_hints

import typer

from agent.cli.output import write_json
from agent.llm.environment import runtime_settings
from agent.llm.runtime import RuntimeSettings
from agent.run.workspace import StoreSettings, store_settings
from optimizers.tasks import ColumnMapping, SplitSpec

_MODELS = "Models (default: the embedded local SmolLM2 server)"
_DATA = "Data"

TaskBaseUrl = Annotated[
    str | None,
    typer.Option(help="Task model endpoint (OpenAI-compatible base URL, e.g. http://host:8000/v1). "
                 "Env: PROMPTPILOT_TASK_BASE_URL.", rich_help_panel=_MODELS),
]  # fmt: skip
TaskModel = Annotated[
    str | None,
    typer.Option(help="Task model name. Env: PROMPTPILOT_TASK_MODEL.", rich_help_panel=_MODELS),
]
TaskApiKey = Annotated[
    str | None,
    typer.Option(help="Task model API key. Prefer the env var PROMPTPILOT_TASK_API_KEY (or "
                 "OPENAI_API_KEY): flags show in shell history. Never logged or stored.",
                 rich_help_panel=_MODELS, show_default=False),
]  # fmt: skip
OptimizerApiKey = Annotated[
    str | None,
    typer.Option(help="Optimizer model API key. Prefer PROMPTPILOT_OPTIMIZER_API_KEY. "
                 "Never logged or stored.", rich_help_panel=_MODELS, show_default=False),
]  # fmt: skip
TaskMaxTokens = Annotated[
    int | None,
    typer.Option(help="Cap on the task model's answer length, in tokens.", rich_help_panel=_MODELS),
]
OptimizerBaseUrl = Annotated[
    str | None,
    typer.Option(help="Optimizer model endpoint (writes prompts, judges). "
                 "Env: PROMPTPILOT_OPTIMIZER_BASE_URL.", rich_help_panel=_MODELS),
]  # fmt: skip
OptimizerModel = Annotated[
    str | None,
    typer.Option(help="Optimizer model name. Env: PROMPTPILOT_OPTIMIZER_MODEL.",
                 rich_help_panel=_MODELS),
]  # fmt: skip
Concurrency = Annotated[
    int | None,
    typer.Option(
        help="Requests in flight at once per endpoint (default: follow what it sustains, "
        "1-16, halving on 429).",
        rich_help_panel=_MODELS,
    ),
]
Home = Annotated[
    Path | None,
    typer.Option(help="Where the response cache, prompt memory and runs live "
                 "(default ~/.promptpilot). Env: PROMPTPILOT_HOME."),
]  # fmt: skip
StoreUrl = Annotated[
    str | None,
    typer.Option("--store", show_default=False,
                 help="A PostgreSQL database (postgresql://USER:PASSWORD@HOST:PORT/DB) for runs, "
                 "checkpoints and the response cache, shared by every process that names it "
                 "(default: files in the home). Env: PROMPTPILOT_STORE_URL."),
]  # fmt: skip
MemoryUrl = Annotated[
    str | None,
    typer.Option("--memory", show_default=False,
                 help="A Chroma server (http://HOST:PORT, `chroma run`) for the prompt memory, "
                 "shared by every process that names it (default: in the home). "
                 "Env: PROMPTPILOT_MEMORY_URL."),
]  # fmt: skip
NoCache = Annotated[
    bool, typer.Option("--no-cache", help="Do not read or write the response cache.")
]
InputCol = Annotated[
    str | None,
    typer.Option(help="Input column/key (guessed when omitted).", rich_help_panel=_DATA),
]
TargetCol = Annotated[
    str | None,
    typer.Option(help="Target column/key (guessed when omitted).", rich_help_panel=_DATA),
]
TargetSep = Annotated[
    str | None,
    typer.Option(help="Split CSV target cells on this separator into several acceptable "
                 "answers.", rich_help_panel=_DATA),
]  # fmt: skip
TestData = Annotated[
    str | None,
    typer.Option(help="A separate held-out file used as the test split.", rich_help_panel=_DATA),
]
SplitSize = Annotated[
    str | None,
    typer.Option(help="Split size: a count (20) or a fraction (0.2).", rich_help_panel=_DATA),
]
Seed = Annotated[int, typer.Option(help="Seed for splits and sampling.", rich_help_panel=_DATA)]
Metric = Annotated[
    str,
    typer.Option(help="exact, contains, f1, choice, regex, numeric, set, judge, or "
                 "module:function (see `promptpilot metrics`)."),
]  # fmt: skip
Template = Annotated[
    str, typer.Option(help="inline, system, or a custom text with {prompt} and {input}.")
]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
JsonOut = Annotated[Path | None, typer.Option(help="Also write the JSON result to this file.")]
ServeHost = Annotated[
    str,
    typer.Option(help="Interface to bind. Anything but loopback (127.0.0.1, ::1, localhost) "
                 "exposes the model to the network and needs --api-key."),
]  # fmt: skip
ServeApiKey = Annotated[
    str | None,
    typer.Option("--api-key", envvar="PROMPTPILOT_SERVE_API_KEY", show_default=False,
                 help="Key every request must carry (Authorization: Bearer KEY), at least 16 "
                 "characters; required with a non-loopback --host. Prefer the env var: flags "
                 "show in shell history and process listings. Never printed."),
]  # fmt: skip


def parse_size(value: str | None, default: int | float) -> int | float:
    """Read ``"20"`` as a count and ``"0.2"`` as a fraction."""
    if value is None:
        return default
    try:
        return float(value) if "." in value else int(value)
    except ValueError as exc:
        raise typer.BadParameter(f"expected a count or a fraction, got {value!r}") from exc


@dataclass(frozen=True, kw_only=True)
class ModelFlags:
    """The flags of every command that calls a model: endpoints, keys, home and cache."""

    task_base_url: TaskBaseUrl = None
    task_model: TaskModel = None
    task_max_tokens: TaskMaxTokens = None
    task_api_key: TaskApiKey = None
    optimizer_base_url: OptimizerBaseUrl = None
    optimizer_model: OptimizerModel = None
    optimizer_api_key: OptimizerApiKey = None
    concurrency: Concurrency = None
    home: Home = None
    store_url: StoreUrl = None
    memory_url: MemoryUrl = None
    no_cache: NoCache = False

    def settings(self) -> RuntimeSettings:
        """:func:`runtime_settings`: the environment first, then these flags."""
        flags = {field.name: getattr(self, field.name) for field in fields(self)}
        del flags["memory_url"]  # the models' settings hold the cache, not the prompt memory
        return runtime_settings(**flags)

    def stores(self) -> StoreSettings:
        """Where runs, checkpoints, answers and prompts are: these flags, else the environment."""
        return store_settings(self.home, store_url=self.store_url, memory_url=self.memory_url)


@dataclass(frozen=True, kw_only=True)
class DataFlags:
    """The flags of every command that reads an eval set: columns, test file, split."""

    input_col: InputCol = None
    target_col: TargetCol = None
    target_sep: TargetSep = None
    test_data: TestData = None
    train: SplitSize = None
    dev: SplitSize = None
    test: SplitSize = None
    seed: Seed = 0

    def columns(self) -> ColumnMapping:
        """The column mapping from the flags."""
        return ColumnMapping(
            input=self.input_col, target=self.target_col, target_separator=self.target_sep
        )

    def split_spec(self) -> SplitSpec:
        """Split sizes from the flags, defaults where omitted."""
        defaults = SplitSpec()
        return SplitSpec(
            train=parse_size(self.train, defaults.train),
            dev=parse_size(self.dev, defaults.dev),
            test=parse_size(self.test, defaults.test),
            seed=self.seed,
        )


@dataclass(frozen=True, kw_only=True)
class ScoringFlags:
    """How a prompt's answers are scored: the metric and the template."""

    metric: Metric = "exact"
    template: Template = "inline"


@dataclass(frozen=True, kw_only=True)
class OutputFlags:
    """Where the result goes: JSON on stdout (``--json``), a JSON file (``--out``), tables."""

    as_json: AsJson = False
    out: JsonOut = None

    def emit(self, payload: dict[str, Any], show: Callable[[], None]) -> None:
        """Write the JSON where asked, and ``show`` the tables unless ``--json``."""
        if self.as_json or self.out is not None:
            write_json(payload, to_stdout=self.as_json, out=self.out)
        if not self.as_json:
            show()


def request_fields(data: DataFlags, scoring: ScoringFlags) -> dict[str, Any]:
    """The fields of an ``OptimizeRequest`` that the data and scoring flags set."""
    return {
        "metric": scoring.metric,
        "template": scoring.template,
        "columns": data.columns(),
        "split_spec": data.split_spec(),
        "test_data": data.test_data,
        "seed": data.seed,
    }


DEFAULT_MODELS = ModelFlags()  # a command's default when called from Python
DEFAULT_DATA = DataFlags()
DEFAULT_SCORING = ScoringFlags()
DEFAULT_OUTPUT = OutputFlags()
_GROUPS: tuple[type, ...] = (ModelFlags, DataFlags, ScoringFlags, OutputFlags)


def with_flag_groups(command: Callable[..., None]) -> Callable[..., None]:
    """Let a command take :class:`ModelFlags` / :class:`DataFlags` as one parameter each.

    Typer reads a command's flags from its signature, so without this every
    command would spell out the same eighteen parameters. The wrapper shows
    typer each group's fields as flags (keyword-only, after the command's own)
    and hands the command the group built from them.
    """
    hints = get_type_hints(command, include_extras=True)
    own: list[inspect.Parameter] = []
    grouped: list[inspect.Parameter] = []
    groups: dict[str, type] = {}
    for name, parameter in inspect.signature(command).parameters.items():
        hint = hints.get(name, parameter.annotation)
        if hint not in _GROUPS:
            own.append(parameter.replace(annotation=hint, kind=inspect.Parameter.KEYWORD_ONLY))
            continue
        groups[name] = hint
        field_hints = get_type_hints(hint, include_extras=True)
        grouped += [
            inspect.Parameter(
                field.name, inspect.Parameter.KEYWORD_ONLY,
                annotation=field_hints[field.name], default=field.default,
            )
            for field in fields(hint)
        ]  # fmt: skip

    @functools.wraps(command)
    def expanded(**flags: Any) -> None:
        for name, group in groups.items():
            flags[name] = group(**{field.name: flags.pop(field.name) for field in fields(group)})
        command(**flags)

    parameters = [*own, *grouped]
    expanded.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    expanded.__annotations__ = {p.name: p.annotation for p in parameters} | {"return": None}
    return expanded
