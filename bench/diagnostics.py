"""The diagnostics of issue 6 measured with the embedded model, written to results/.

Two steps, both on the embedded SmolLM2 server (task and optimizer model):

    # 1. screen seed prompts on dev: pick ones that score neither 0 nor 1
    .venv/bin/python bench/diagnostics.py screen
    # 2. per task: optimize, then every diagnostic; writes results/diagnostics.{md,json}
    .venv/bin/python bench/diagnostics.py run --optimizers textgrad ape screen --budget 8

``run`` does, for each task: ``run_optimize`` (the run ``diagnose RUN_ID`` reads),
class shares / sentence ablation / overfitting guard of that run (class shares on
test and on dev), label corruption and proposal vs selection with the same
optimizer, budget and seed. One response cache is shared, so a later step gets
answers an earlier one paid for for free; every step reports what it paid.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import platform
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench_common import II_EXECUTE, ROOT, table_head  # bench/ (scripts run as bench/NAME.py)
from machine import cpu_name
from rich import box
from rich.console import Console

from agent.cli.diagnose import (
    ablation_table,
    arms_table,
    confusion_tables,
    overfit_table,
    shares_table,
)
from agent.llm.local_server import bundled_model_path
from agent.llm.runtime import ModelRuntime, RuntimeSettings
from agent.llm.settings import DEFAULT_OPTIMIZER_SETTINGS, DEFAULT_TASK_SETTINGS
from agent.run.diagnose import diagnose_labels, diagnose_proposals, diagnose_run
from agent.run.evaluate import EvalRequest, run_eval
from agent.run.records import save_finished
from agent.run.request import OptimizeRequest
from agent.run.single import run_optimize
from memory.embeddings import SentenceTransformerEmbedder
from memory.run_registry import FolderRegistry
from optimizers.budget import Budget
from optimizers.diagnostics.rerun import score_dict
from optimizers.tasks import SplitSpec

SPLIT = SplitSpec(train=20, dev=20, test=40, seed=0)


@dataclass(frozen=True)
class BenchTask:
    name: str
    data: str
    seed_prompt: str  # what `run` starts from: scored neither 0 nor 1 on dev by `screen`
    others: tuple[str, ...] = ()  # further seed prompts `screen` scores


SENTIMENT_PROMPTS = (
    "Classify the review as positive or negative.",
    "Is this review positive or negative?",
)
TASKS = (
    BenchTask(
        "review_sentiment",
        "review_sentiment",
        "Say whether the review is positive or negative.",
        (*SENTIMENT_PROMPTS, "Read the review. Reply with exactly one word, positive or negative."),
    ),
    BenchTask(
        "sentiment",
        str(II_EXECUTE / "sentiment.json"),
        "Say whether the review is positive or negative.",
        SENTIMENT_PROMPTS,
    ),
    BenchTask(
        "singular_to_plural",
        str(II_EXECUTE / "singular_to_plural.json"),
        "Give the plural of the word.",
        ("Change the word.", "Write the plural form."),
    ),
    BenchTask(
        "first_word_letter",
        str(II_EXECUTE / "first_word_letter.json"),
        "Give the first letter of the word.",
        ("What is this?", "Write the first letter."),
    ),
)


def settings_for(home: Path, args: argparse.Namespace) -> RuntimeSettings:
    """The embedded server for both roles, started by the runtime: its cache identity
    ("embedded:<model file>") does not depend on the port, so a re-run is free."""
    # A long timeout: on a shared 2-core machine a 160-token optimizer answer took over 60 s.
    return RuntimeSettings(
        task=replace(DEFAULT_TASK_SETTINGS, max_tokens=args.task_max_tokens, timeout_s=300),
        optimizer=replace(DEFAULT_OPTIMIZER_SETTINGS, timeout_s=300),
        cache_path=home / "cache.sqlite",
    )


def header(args: argparse.Namespace) -> str:
    return (
        f"Machine: {cpu_name()} ({platform.machine()}), Python {platform.python_version()}. "
        f"Task and optimizer model: {bundled_model_path().name} (embedded llama.cpp, "
        f"task max_tokens {args.task_max_tokens}, temperature "
        f"{DEFAULT_TASK_SETTINGS.temperature}; optimizer temperature "
        f"{DEFAULT_OPTIMIZER_SETTINGS.temperature}). Splits train/dev/test "
        f"{SPLIT.train}/{SPLIT.dev}/{SPLIT.test}, seed {SPLIT.seed}; metric exact; "
        f"template inline."
    )


async def screen(args: argparse.Namespace) -> str:
    lines = [header(args), "", *table_head("| task | seed prompt | dev [95% CI] |")]
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(args.home or tmp)
        with ModelRuntime(settings_for(home, args), roles=("task",)) as runtime:
            for task in TASKS:
                prompts = (task.seed_prompt, *task.others)
                request = EvalRequest(
                    data=task.data, prompts=prompts, split="dev", split_spec=SPLIT
                )
                report = await run_eval(request, runtime)
                for result in report.results:
                    low, high = result.interval.low, result.interval.high
                    score = f"{result.mean:.3f} [{low:.3f}, {high:.3f}]"
                    row = f"| {task.name} | {result.prompt} | {score} |"
                    lines.append(row)
                    print(row, flush=True)
    return "\n".join(lines)


SCREEN = "screen"
"""Not an optimizer: the best on dev of a task's hand-written screened prompts, recorded
as a finished run, so the run diagnostics also have a prompt that beat the seed."""


@dataclass(frozen=True)
class Selected:
    """The screened selection as a run report (the fields `diagnose RUN_ID` reads)."""

    payload: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.payload


async def select_screened(task: BenchTask, runtime) -> Selected:
    async def scored(split: str, prompts: tuple[str, ...]) -> list:
        request = EvalRequest(data=task.data, prompts=prompts, split=split, split_spec=SPLIT)
        return list((await run_eval(request, runtime)).results)

    dev = await scored("dev", (task.seed_prompt, *task.others))
    best = max(dev, key=lambda result: result.mean)  # the first of equals: the seed wins ties
    seed_test, best_test = await scored("test", (task.seed_prompt, best.prompt))
    return Selected(
        {
            "run": f"{task.name}-{SCREEN}-{time.strftime('%Y%m%d-%H%M%S')}",
            "task": task.name,
            "optimizer": SCREEN,
            "seed_prompt": task.seed_prompt,
            "best_prompt": best.prompt,
            "scores": {
                "initial": {"dev": score_dict(dev[0]), "test": score_dict(seed_test)},
                "best": {"dev": score_dict(best), "test": score_dict(best_test)},
            },
        }
    )


async def one_task(
    task: BenchTask, optimizer: str, runtime, embedder, home, args
) -> dict[str, Any]:
    request = OptimizeRequest(
        data=task.data,
        prompt=task.seed_prompt,
        optimizer="auto" if optimizer == SCREEN else optimizer,  # the request gives the splits
        budget=Budget(max_queries=args.budget),
        split_spec=SPLIT,
        seed=args.seed,
    )
    out: dict[str, Any] = {"task": task.name, "optimizer": optimizer, "seed_prompt": request.prompt}
    if optimizer == SCREEN:
        search = lambda: select_screened(task, runtime)  # noqa: E731
    else:
        search = lambda: run_optimize(request, runtime, home=home, embedder=embedder)  # noqa: E731
    reruns = () if optimizer == SCREEN else (
        ("labels", lambda: diagnose_labels(request, runtime, home=home, embedder=embedder)),
        ("proposals", lambda: diagnose_proposals(request, runtime, home=home, embedder=embedder)),
    )  # fmt: skip
    steps = (
        ("optimize", search),
        ("run", lambda: diagnose_run(out["optimize"]["run"], runtime, home=home)),
        (
            "classes_dev",
            lambda: diagnose_run(
                out["optimize"]["run"], runtime, home=home, only=["classes"], split="dev"
            ),
        ),
        *reruns,
    )
    for name, step in steps:
        task_before = runtime.task.usage.snapshot()
        opt_before = runtime.optimizer.usage.snapshot()
        started = time.monotonic()
        payload = (await step()).to_dict()
        if name == "optimize":
            save_finished(FolderRegistry(home), optimizer, request.config(), payload)
        payload["bench"] = {
            "seconds": round(time.monotonic() - started, 1),
            "task_calls": runtime.task.usage.since(task_before).calls,
            "optimizer_calls": runtime.optimizer.usage.since(opt_before).calls,
        }
        out[name] = payload
        print(f"  {task.name} {name}: {payload['bench']}", flush=True)
    return out


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    embedder = SentenceTransformerEmbedder.bundled()
    chosen = [task for task in TASKS if task.name in args.tasks]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(args.home or tmp)
        with ModelRuntime(settings_for(home, args)) as runtime:
            for task in chosen:
                for optimizer in args.optimizers:
                    results.append(await one_task(task, optimizer, runtime, embedder, home, args))
    return results


def markdown_tables(*tables) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=400, color_system=None)
    for table in tables:
        table.box = box.MARKDOWN
        title, table.title = table.title, None
        console.print(f"**{title}**\n")
        console.print(table)
    lines = [line.rstrip() for line in buffer.getvalue().splitlines()]
    return "\n".join(line for i, line in enumerate(lines) if line or (i and lines[i - 1])) + "\n"


def fmt(score: dict[str, Any] | None) -> str:
    if score is None:
        return "—"
    return f"{score['mean']:.3f} [{score['ci95'][0]:.3f}, {score['ci95'][1]:.3f}]"


def diff(comparison: dict[str, Any]) -> str:
    low, high = comparison["ci95"]
    return f"{comparison['diff']:+.3f} [{low:+.3f}, {high:+.3f}]"


def rerun_diff(result: dict[str, Any], name: str) -> str:
    return diff(result[name]["test_difference"]) if name in result else "—"


def prevalence(classes: dict[str, Any] | None) -> str:
    if not classes:
        return "—"
    if classes["majority_class"] is None:
        return "no majority"
    return "yes" if classes["prevalence_hacking"] else "no"


def summary(results: list[dict[str, Any]]) -> list[str]:
    lines = table_head(
        "| task | optimizer | test: seed → best | prevalence hacking (test / dev) | "
        "sentences carrying the score | overfit warnings | corrupted − clean labels (test) | "
        "optimizer − paraphrases (test) |"
    )
    for result in results:
        scores = result["optimize"]["scores"]
        run, dev = result["run"], result["classes_dev"]
        flags = " / ".join(prevalence(p.get("classes")) for p in (run, dev))
        ablation = run.get("ablation")
        carrying = (
            "—"
            if not ablation
            else ", ".join(
                f"#{s['index'] + 1}"
                for s in ablation["sentences"]
                if s["contribution"]["ci95"][0] > 0
            )
            or "none"
        )
        warnings = len(run["overfit"]["warnings"]) if run.get("overfit") else "—"
        lines.append(
            f"| {result['task']} | {result['optimizer']} | "
            f"{scores['initial']['test']['mean']:.3f} → {scores['best']['test']['mean']:.3f} | "
            f"{flags} | {carrying} | {warnings} | {rerun_diff(result, 'labels')} | "
            f"{rerun_diff(result, 'proposals')} |"
        )
    return lines


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    parts = [
        "# Diagnostics: what the gains come from",
        "",
        header(args)
        + f" Optimizers {', '.join(f'`{o}`' for o in args.optimizers)}, budget {args.budget} "
        "dev queries per search (the seed included), "
        f"seed {args.seed}. Every interval is a 95% bootstrap interval over test (or dev) "
        "examples of that one search: it does not cover the optimizer's own randomness "
        "(one seed). Rows `screen` are no optimizer: the best on dev of the task's "
        "hand-written prompts scored in `diagnostics_screen.md`, recorded as a finished run "
        "so that the run diagnostics also explain a prompt that beat the seed (label "
        "corruption and proposal vs selection need an optimizer and are not run for it).",
        "",
        f"Command: `.venv/bin/python bench/diagnostics.py run --tasks {' '.join(args.tasks)} "
        f"--optimizers {' '.join(args.optimizers)} --budget {args.budget} --seed {args.seed}`",
    ]
    parts += ["", *summary(results)]
    for result in results:
        optimize = result["optimize"]
        scores = optimize["scores"]
        parts += [
            "",
            f"## {result['task']} · {result['optimizer']}",
            "",
            f"Run `{optimize['run']}`: seed prompt “{optimize['seed_prompt']}” → best "
            f"“{optimize['best_prompt']}”. Dev {fmt(scores['initial']['dev'])} → "
            f"{fmt(scores['best']['dev'])}; test {fmt(scores['initial']['test'])} → "
            f"{fmt(scores['best']['test'])}. ({optimize['bench']['seconds']:.0f} s, "
            f"{optimize['bench']['task_calls']} task + {optimize['bench']['optimizer_calls']} "
            "optimizer calls)",
            "",
        ]
        diagnostics = result["run"]
        for split_name, payload in (("test", diagnostics), ("dev", result["classes_dev"])):
            if payload.get("classes"):
                classes = payload["classes"]
                parts.append(markdown_tables(shares_table(classes), *confusion_tables(classes)))
                parts.append(f"Class shares ({split_name}): {classes['finding']}\n")
            elif "classes" in payload.get("skipped", {}):
                parts.append(
                    f"Class shares ({split_name}): skipped: {payload['skipped']['classes']}\n"
                )
        if diagnostics.get("ablation"):
            parts.append(markdown_tables(ablation_table(diagnostics["ablation"])))
            parts.append(f"Sentence ablation: {diagnostics['ablation']['finding']}\n")
        if diagnostics.get("overfit"):
            parts.append(markdown_tables(overfit_table(diagnostics["overfit"])))
            parts.append(f"Overfitting guard: {diagnostics['overfit']['finding']}\n")
        for name, label in (("labels", "Label corruption"), ("proposals", "Proposal vs selection")):
            if name not in result:
                continue
            payload = result[name]
            parts.append(markdown_tables(arms_table(payload)))
            bench = payload["bench"]
            parts.append(
                f"{label}: {payload['finding']} ({bench['seconds']:.0f} s, "
                f"{bench['task_calls']} task + {bench['optimizer_calls']} optimizer calls paid)\n"
            )
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["screen", "run"])
    parser.add_argument("--tasks", nargs="+", default=["review_sentiment", "sentiment"])
    parser.add_argument(
        "--optimizers", nargs="+", default=["textgrad", "ape", SCREEN], help=f"or {SCREEN!r}"
    )
    parser.add_argument("--budget", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--task-max-tokens", type=int, default=8, help="answers are one word; 8 keeps runs short"
    )
    parser.add_argument("--home", help="keep the cache, prompt memory and runs here")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "diagnostics"))
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the server on `kill`
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.mode == "screen":
        text = asyncio.run(screen(args))
        out.with_name(out.name + "_screen.md").write_text(text + "\n", encoding="utf-8")
        return
    results = asyncio.run(run(args))
    out.with_suffix(".json").write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    text = report(results, args)
    out.with_suffix(".md").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
