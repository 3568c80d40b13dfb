"""Command-line options shared by several commands, and turning them into settings.

Environment variables (``PROMPTPILOT_TASK_BASE_URL`` …) give the defaults;
flags override them. API keys are best passed through the environment: a flag
shows up in shell history and process listings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agent.llm.environment import runtime_settings
from agent.llm.runtime import RuntimeSettings
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
    typer.Option(help="Requests in flight at once per endpoint.", rich_help_panel=_MODELS),
]
Home = Annotated[
    Path | None,
    typer.Option(help="Where the response cache, prompt memory and runs live "
                 "(default ~/.promptpilot). Env: PROMPTPILOT_HOME."),
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


def split_spec(train: str | None, dev: str | None, test: str | None, seed: int) -> SplitSpec:
    """Split sizes from the flags, defaults where omitted."""
    defaults = SplitSpec()
    return SplitSpec(
        train=parse_size(train, defaults.train),
        dev=parse_size(dev, defaults.dev),
        test=parse_size(test, defaults.test),
        seed=seed,
    )


def columns(input_col: str | None, target_col: str | None, sep: str | None) -> ColumnMapping:
    """The column mapping from the flags."""
    return ColumnMapping(input=input_col, target=target_col, target_separator=sep)


MODEL_FLAGS = (
    "task_base_url",
    "task_model",
    "task_max_tokens",
    "task_api_key",
    "optimizer_base_url",
    "optimizer_model",
    "optimizer_api_key",
    "concurrency",
    "home",
    "no_cache",
)


def runtime_settings_from(flags: dict[str, object]) -> RuntimeSettings:
    """:func:`runtime_settings` from a command's parameters (the ones it has)."""
    return runtime_settings(**{name: flags[name] for name in MODEL_FLAGS if name in flags})
