"""Settings from the environment, then explicit values: what every entry point starts from.

``PROMPTPILOT_TASK_BASE_URL`` … give the defaults; values given by the caller (a flag,
an API argument) override them. With neither, the embedded local model is used.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from agent.llm.runtime import RuntimeSettings, default_home
from agent.llm.settings import ModelSettings, settings_from_env

STORE_URL_VARIABLE = "PROMPTPILOT_STORE_URL"
MEMORY_URL_VARIABLE = "PROMPTPILOT_MEMORY_URL"


def home_dir(home: Path | None) -> Path:
    """The PromptPilot home: the flag, else ``PROMPTPILOT_HOME``, else ``~/.promptpilot``."""
    return home or Path(os.environ.get("PROMPTPILOT_HOME") or default_home())


def _override(settings: ModelSettings, **flags: object) -> ModelSettings:
    return replace(settings, **{k: v for k, v in flags.items() if v is not None})


def runtime_settings(
    *,
    task_base_url: str | None = None,
    task_model: str | None = None,
    task_max_tokens: int | None = None,
    task_api_key: str | None = None,
    optimizer_base_url: str | None = None,
    optimizer_model: str | None = None,
    optimizer_api_key: str | None = None,
    concurrency: int | None = None,
    home: Path | None = None,
    store_url: str | None = None,
    no_cache: bool = False,
) -> RuntimeSettings:
    """Settings for both roles: environment first, then the flags.

    The response cache is ``cache.sqlite`` in the home, or the shared PostgreSQL
    store named by ``store_url`` (else ``PROMPTPILOT_STORE_URL``).
    """
    environ = os.environ
    task = _override(
        settings_from_env("task", environ),
        base_url=task_base_url,
        model=task_model,
        api_key=task_api_key,
        max_tokens=task_max_tokens,
        concurrency=concurrency,
    )
    optimizer = _override(
        settings_from_env("optimizer", environ),
        base_url=optimizer_base_url,
        model=optimizer_model,
        api_key=optimizer_api_key,
        concurrency=concurrency,
    )
    root = home_dir(home)
    return RuntimeSettings(
        task=task, optimizer=optimizer, cache_path=None if no_cache else root / "cache.sqlite",
        store_url=store_url or environ.get(STORE_URL_VARIABLE) or None,
    )  # fmt: skip
