"""The run every reliability test makes, against the fault stub, in process or by the CLI.

One task, one seed prompt, a small budget and short client timeouts (so that a
stall costs a second, not a minute). A run with faults is judged against the
fault-free run of the same seed by :func:`essentials`: best prompt, scores,
queries and the whole trajectory must be equal.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.graph.pilot import run_pilot
from agent.llm.runtime import ModelRuntime, RuntimeSettings
from agent.llm.settings import ModelSettings
from agent.run.evaluate import resolve_task
from agent.run.request import OptimizeRequest
from agent.run.single import run_optimize
from agent.run.workspace import Workspace
from memory.embeddings import Embedder
from optimizers.budget import Budget
from optimizers.tasks import SplitSpec, split_task
from tests.reliability.fault_stub import OPTIMIZER_MODEL, TASK_MODEL, FaultStub

ROOT = Path(__file__).resolve().parents[2]
TASK = "review_sentiment"
SEED_PROMPT = "Is this review positive or negative?"
BUDGET = 10
SPLITS = {"train": 10, "dev": 6, "test": 8}
TIMEOUT_S = 1.0  # the stub's stalls last longer
MAX_RETRIES = 2  # the openai client's: 3 tries, about 1.5 s of backoff


@dataclass(frozen=True)
class Reference:
    """A fault-free, uninterrupted run: its report and the request bodies it paid for."""

    report: dict[str, Any]
    bodies: frozenset[str]
    checkpoints: tuple[int, ...] = ()
    """How many distinct answers the run had at each write of its checkpoint file."""


def checkpoint_signature(home: Path) -> tuple[tuple[int, int] | None, ...]:
    """Size and modification time of the checkpoint file and its journals: changes on writes."""
    base = Workspace.of(home).checkpoint_file
    signature: list[tuple[int, int] | None] = []
    for path in (base, *(base.with_name(base.name + s) for s in ("-wal", "-journal"))):
        try:
            stat = path.stat()
        except FileNotFoundError:
            signature.append(None)
            continue
        signature.append((stat.st_mtime_ns, stat.st_size))
    return tuple(signature)


def targets() -> dict[str, str]:
    """Each input of the task with its correct answer: what the stub's task role knows."""
    return {example.input: example.targets[0] for example in resolve_task(TASK).examples}


def split_inputs() -> dict[str, frozenset[str]]:
    """The inputs of the dev and test splits: an evaluation is one prompt on all of one."""
    splits = split_task(resolve_task(TASK), SplitSpec(**SPLITS, seed=0))
    return {name: frozenset(e.input for e in splits.get(name)) for name in ("dev", "test")}


def request(optimizer: str) -> OptimizeRequest:
    """The run as the Python API makes it (the same as :func:`cli_args`)."""
    return OptimizeRequest(
        data=TASK,
        prompt=SEED_PROMPT,
        optimizer=optimizer,
        budget=Budget(max_queries=BUDGET),
        split_spec=SplitSpec(**SPLITS, seed=0),
    )


def settings(stub: FaultStub, home: Path) -> RuntimeSettings:
    """Both roles on the stub, the cache under ``home``."""
    common = {"base_url": stub.base_url, "timeout_s": TIMEOUT_S, "max_retries": MAX_RETRIES}
    return RuntimeSettings(
        task=ModelSettings(model=TASK_MODEL, **common),
        optimizer=ModelSettings(model=OPTIMIZER_MODEL, temperature=0.9, max_tokens=160, **common),
        cache_path=home / "cache.sqlite",
    )


async def run_in_process(
    stub: FaultStub, home: Path, run: str, optimizer: str, embedder: Embedder, *, resume: bool
) -> dict[str, Any]:
    """Start (or resume) ``run`` in this process; returns its report."""
    with ModelRuntime(settings(stub, home)) as runtime:
        if optimizer == "auto":
            report = await run_pilot(
                None if resume else request(optimizer), runtime, home=home, run=run,
                embedder=embedder,
            )  # fmt: skip
            assert report is not None
            return report
        result = await run_optimize(
            request(optimizer), runtime, home=home, run=run, embedder=embedder
        )
        return result.to_dict()


def cli_args(optimizer: str) -> list[str]:
    """``promptpilot optimize`` arguments for the run."""
    splits = [arg for name, size in SPLITS.items() for arg in (f"--{name}", str(size))]
    return [
        "optimize", TASK, "-p", SEED_PROMPT, "--optimizer", optimizer,
        "--budget", str(BUDGET), *splits, "--json",
    ]  # fmt: skip


def command(*args: str) -> list[str]:
    """The ``promptpilot`` command line, run by this interpreter."""
    return [sys.executable, "-m", "agent", *args]


def environment(stub: FaultStub) -> dict[str, str]:
    """The CLI's environment: both roles on the stub, short timeouts, nothing else set."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROMPTPILOT_")}
    for role, model in (("TASK", TASK_MODEL), ("OPTIMIZER", OPTIMIZER_MODEL)):
        env[f"PROMPTPILOT_{role}_BASE_URL"] = stub.base_url
        env[f"PROMPTPILOT_{role}_MODEL"] = model
        env[f"PROMPTPILOT_{role}_TIMEOUT"] = str(TIMEOUT_S)
        env[f"PROMPTPILOT_{role}_MAX_RETRIES"] = str(MAX_RETRIES)
    env["PROMPTPILOT_OPTIMIZER_TEMPERATURE"] = "0.9"
    env["PROMPTPILOT_OPTIMIZER_MAX_TOKENS"] = "160"
    return env


def essentials(report: dict[str, Any]) -> dict[str, Any]:
    """What must not change when a run is interrupted, faulted, or resumed."""
    return {
        "best_prompt": report["best_prompt"],
        "scores": report["scores"],
        "dev_queries": report["dev_queries"],
        "stopped": report["stopped"],
        "trajectory": [(e["source"], e["prompt"], e["dev"]) for e in report["trajectory"]],
    }
