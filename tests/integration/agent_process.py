"""`promptpilot optimize` run as a process of its own, its models behind a CountingProxy."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from tests.integration.counting_proxy import CountingProxy

ROOT = Path(__file__).resolve().parents[2]


def optimize_args(optimizer: str, budget: int) -> list[str]:
    """A short run on the built-in review_sentiment task: 10 train, 6 dev, 8 test examples."""
    return [
        "optimize", "review_sentiment", "-p", "Is this review positive or negative?",
        "--optimizer", optimizer, "--budget", str(budget),
        "--train", "10", "--dev", "6", "--test", "8",
    ]  # fmt: skip


def command(*args: str) -> list[str]:
    return [sys.executable, "-m", "agent", *args]


def clean_environment() -> dict[str, str]:
    """This process's environment without any PROMPTPILOT_ setting."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PROMPTPILOT_")}


def environment(
    proxy: CountingProxy, *, timeout_s: float = 600, optimizer_max_tokens: int = 160
) -> dict[str, str]:
    """Both models (the task's and the optimizer's, SmolLM2) reached through ``proxy``.

    A patient client by default: on a loaded machine an answer can queue behind others
    for minutes, and a client timeout's retry is a second paid call (not a kill's).
    """
    env = clean_environment()
    for role in ("TASK", "OPTIMIZER"):
        env[f"PROMPTPILOT_{role}_BASE_URL"] = proxy.base_url
        env[f"PROMPTPILOT_{role}_MODEL"] = "smollm2"
        env[f"PROMPTPILOT_{role}_TIMEOUT"] = str(timeout_s)
    env["PROMPTPILOT_OPTIMIZER_TEMPERATURE"] = "0.9"
    env["PROMPTPILOT_OPTIMIZER_MAX_TOKENS"] = str(optimizer_max_tokens)
    return env
