"""All optimizers at equal budget on several tasks with the embedded model, several seeds.

Each run splits an instruction-induction ``execute`` file into train/dev/test
(disjoint, seeded), searches on train/dev and is scored once on test. ``auto`` is
the agent (planner + every method). Prints a Markdown table of the
initial vs best test score (mean ± standard deviation over seeds), the paired
gain, calls and wall time, and writes it to ``bench/results/optimizers.md``.

    .venv/bin/python bench/compare_optimizers.py --tasks sentiment antonyms --seeds 0 1 --budget 8
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import tempfile
import time
from pathlib import Path

from machine import cpu_name  # bench/machine.py (scripts run as bench/NAME.py)

from agent.local_server import LocalLLMServer, bundled_model_path
from agent.optimization import OptimizeRequest, run_optimize
from agent.pilot import run_pilot
from agent.runtime import ModelRuntime, RuntimeSettings
from agent.session import OPTIMIZERS
from agent.settings import DEFAULT_OPTIMIZER_SETTINGS, DEFAULT_TASK_SETTINGS
from memory.embeddings import SentenceTransformerEmbedder
from optimizers.runner import Budget
from optimizers.tasks import SplitSpec

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "instruction_induction"
SEED_PROMPTS = {
    "sentiment": "Is this review positive or negative?",
    "antonyms": "Give a word.",
    "first_word_letter": "What is this?",
    "singular_to_plural": "Change the word.",
}


def fmt(values: list[float]) -> str:
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.3f} ± {spread:.3f}"


async def one_run(server, embedder, home, task, optimizer, seed, args) -> dict:
    # A fresh response cache per run: paid calls and time are each method's own
    # (a shared cache would hand later methods the answers earlier ones paid for).
    cache = home / f"cache-{task}-{optimizer}-{seed}.sqlite"
    settings = RuntimeSettings(
        task=DEFAULT_TASK_SETTINGS.with_base_url(server.base_url),
        optimizer=DEFAULT_OPTIMIZER_SETTINGS.with_base_url(server.base_url),
        cache_path=cache,
    )
    with ModelRuntime(settings) as runtime:
        return await measure(runtime, embedder, home, task, optimizer, seed, args)


async def measure(runtime, embedder, home, task, optimizer, seed, args) -> dict:
    request = OptimizeRequest(
        data=str(DATA / "execute" / f"{task}.json"),
        prompt=SEED_PROMPTS[task],
        optimizer=optimizer,
        budget=Budget(max_queries=args.budget),
        split_spec=SplitSpec(train=args.train, dev=args.dev, test=args.test, seed=seed),
        seed=seed,
    )
    task_before = runtime.task.usage.snapshot()
    opt_before = runtime.optimizer.usage.snapshot()
    started = time.monotonic()
    if optimizer == "auto":  # planned by the policy, as with the embedded default
        report = await run_pilot(
            request, runtime, home=home, embedder=embedder, use_planner_model=False
        )
    else:
        report = (await run_optimize(request, runtime, home=home, embedder=embedder)).to_dict()
    return {
        "initial": report["scores"]["initial"]["test"]["mean"],
        "best": report["scores"]["best"]["test"]["mean"],
        "gain": report["test_difference"]["diff"],
        "task_calls": runtime.task.usage.since(task_before).calls,
        "opt_calls": runtime.optimizer.usage.since(opt_before).calls,
        "seconds": time.monotonic() - started,
        "queries": report["dev_queries"],
    }


async def main_async(args) -> str:
    embedder = SentenceTransformerEmbedder.bundled()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(args.home or tmp)
        with LocalLLMServer() as server:
            for task in args.tasks:
                for optimizer in args.optimizers:
                    runs = []
                    for seed in args.seeds:
                        runs.append(
                            await one_run(server, embedder, home, task, optimizer, seed, args)
                        )
                        print(f"  {task} {optimizer} seed {seed}: {runs[-1]}", flush=True)
                    rows.append((task, optimizer, runs))
    lines = [
        f"Machine: {cpu_name()} ({platform.machine()}), Python {platform.python_version()}. "
        f"Task and optimizer model: {bundled_model_path().name} (embedded llama.cpp). "
        f"Budget {args.budget} dev queries; train/dev/test {args.train}/{args.dev}/{args.test} "
        f"examples drawn (seeded, disjoint) from each `execute` file; seeds {args.seeds}; "
        "mean ± standard deviation over seeds. Each run has its own empty response cache, so "
        "calls and time are what that method paid.",
        "",
        "| task | optimizer | initial test | best test | paired gain | task calls | "
        "optimizer calls | time (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for task, optimizer, runs in rows:
        lines.append(
            f"| {task} | {optimizer} | {fmt([r['initial'] for r in runs])} | "
            f"{fmt([r['best'] for r in runs])} | {fmt([r['gain'] for r in runs])} | "
            f"{statistics.mean(r['task_calls'] for r in runs):.0f} | "
            f"{statistics.mean(r['opt_calls'] for r in runs):.0f} | "
            f"{statistics.mean(r['seconds'] for r in runs):.0f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=["sentiment", "antonyms"])
    parser.add_argument("--optimizers", nargs="+", default=[*OPTIMIZERS, "auto"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    parser.add_argument("--budget", type=int, default=8)
    parser.add_argument("--train", type=int, default=20)
    parser.add_argument("--dev", type=int, default=10)
    parser.add_argument("--test", type=int, default=40)
    parser.add_argument("--home", help="keep the cache and prompt memory here (default: temp)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "optimizers.md"))
    args = parser.parse_args()
    table = asyncio.run(main_async(args))
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
