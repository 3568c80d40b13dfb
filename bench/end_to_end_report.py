"""The end-to-end benchmark's report: tables, findings and plots from the runs' JSON files.

Kept apart from the running so that the report can be rebuilt (and checked)
without a model: ``bench/end_to_end.py --report-only``.

Statistics. A run's *paired difference* is final − initial test score over the
same test examples. Pooled over seeds, the per-example differences of every seed
are concatenated (examples × seeds) and :func:`~optimizers.evaluation.stats.paired_comparison`
gives their mean, a 95% percentile-bootstrap interval and a sign-flip p-value.
With equal test sizes that mean is the mean of the per-seed differences. The
interval treats the pooled examples as independent: it measures test-sampling
noise; the spread between seeds' searches shows in the per-seed table.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from bench_common import table_head  # bench/ (scripts run as bench/NAME.py)
from machine import cpu_name, version
from matplotlib.figure import Figure  # no pyplot: no global state, no GUI backend

from agent.llm.local_server import bundled_model_path
from optimizers.evaluation.stats import (
    Interval,
    PairedComparison,
    mean_with_ci,
    paired_comparison,
)
from optimizers.registry import ROTATION

METHOD_COLORS = {
    "zopo": "tab:blue",
    "gpo": "tab:orange",
    "textgrad": "tab:green",
    "ape": "tab:red",
    "random": "tab:brown",
    "auto": "tab:purple",
}


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Split sizes shared by every run of one benchmark (recorded in each run's JSON)."""

    train: int
    dev: int
    test: int


class TaskInfo(Protocol):
    """What the report needs to know about a task (``end_to_end.TaskSpec``)."""

    name: str
    data: str
    prompt: str
    metric: str
    source: str


@dataclass(frozen=True)
class MethodSummary:
    """One method on one task at one budget, over its seeds."""

    task: str
    method: str
    budget: int
    runs: list[dict[str, Any]]  # sorted by seed
    initial: tuple[float, Interval]  # pooled test examples × seeds
    final: tuple[float, Interval]
    paired: PairedComparison  # final − initial, pooled
    curves: np.ndarray  # seeds × budget: best dev score after q queries

    @property
    def kept_seed(self) -> int:
        """Runs whose answer is the seed prompt (the search found nothing better on dev)."""
        return sum(run["best_prompt"] == run["seed_prompt"] for run in self.runs)

    def mean_of(self, key: str) -> float:
        """Mean over seeds of a per-run number (``usage.task.calls``-style dotted path)."""
        values = []
        for run in self.runs:
            value: Any = run
            for part in key.split("."):
                value = value[part]
            values.append(float(value))
        return statistics.mean(values)

    def tokens(self, role: str) -> float:
        """Mean prompt + completion tokens of a role per run."""
        return self.mean_of(f"usage.{role}.prompt_tokens") + self.mean_of(
            f"usage.{role}.completion_tokens"
        )


def load_runs(
    runs_dir: Path,
    *,
    config: RunConfig,
    tasks: Sequence[str],
    methods: Sequence[str],
    seeds: Sequence[int],
    budgets: Sequence[int],
) -> list[dict[str, Any]]:
    """The finished runs of this configuration (other files in the folder are left out)."""
    runs = []
    for path in sorted(runs_dir.glob("*.json")):
        run = json.loads(path.read_text(encoding="utf-8"))
        if (
            run.get("config") == asdict(config)
            and run["task"] in tasks
            and run["method"] in methods
            and run["seed"] in seeds
            and run["budget"] in budgets
        ):
            runs.append(run)
    return runs


def best_so_far(run: dict[str, Any], budget: int) -> np.ndarray:
    """Best dev score after each of ``budget`` queries (the seed is query 1).

    A prompt scored again costs no query, so reused entries are skipped; a run
    that stopped early keeps its last best for the queries it did not spend.
    """
    curve = np.full(budget, np.nan)
    best, queries = float("-inf"), 0
    for entry in run["trajectory"]:
        if entry["reused"]:
            continue
        queries += 1
        best = max(best, entry["dev"])
        if queries <= budget:
            curve[queries - 1] = best
    if queries == 0:
        raise ValueError(f"run {run['task']} {run['method']} seed {run['seed']} scored nothing")
    last = curve[min(queries, budget) - 1]
    curve[min(queries, budget) :] = last
    return curve


def summarize(runs: list[dict[str, Any]]) -> list[MethodSummary]:
    """One summary per (budget, task, method), in the order the runs' keys first appear."""
    groups: dict[tuple[int, str, str], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["budget"], run["task"], run["method"]), []).append(run)
    summaries = []
    for (budget, task, method), group in groups.items():
        group = sorted(group, key=lambda run: run["seed"])
        initial = [score for run in group for score in run["test_initial"]]
        final = [score for run in group for score in run["test_final"]]
        summaries.append(
            MethodSummary(
                task=task,
                method=method,
                budget=budget,
                runs=group,
                initial=mean_with_ci(initial),
                final=mean_with_ci(final),
                paired=paired_comparison(initial, final),
                curves=np.stack([best_so_far(run, budget) for run in group]),
            )
        )
    return summaries


def build_report(
    runs_dir: Path,
    out_dir: Path,
    *,
    config: RunConfig,
    tasks: Sequence[TaskInfo],
    methods: Sequence[str],
    seeds: Sequence[int],
    budgets: Sequence[int],
    command: str,
) -> Path:
    """Write ``end_to_end.md`` and the plots into ``out_dir``; returns the Markdown's path."""
    names = [task.name for task in tasks]
    runs = load_runs(
        runs_dir, config=config, tasks=names, methods=methods, seeds=seeds, budgets=budgets
    )
    if not runs:
        raise SystemExit(f"no finished runs of this configuration in {runs_dir}")
    order = {name: i for i, name in enumerate(names)}
    rank = {name: i for i, name in enumerate(methods)}
    summaries = sorted(summarize(runs), key=lambda s: (s.budget, order[s.task], rank[s.method]))
    out_dir.mkdir(parents=True, exist_ok=True)
    figures = {}
    for task in tasks:
        mine = [s for s in summaries if s.task == task.name]
        if mine:
            figures[task.name] = plot_test_scores(mine, out_dir / f"end_to_end_{task.name}.png")
    curves = plot_dev_curves(summaries, names, out_dir / "end_to_end_dev_curves.png")
    text = markdown(summaries, runs, tasks, config=config, command=command, figures=figures,
                    curves=curves)  # fmt: skip
    path = out_dir / "end_to_end.md"
    path.write_text(text, encoding="utf-8")
    return path


# ------------------------------------------------------------------------------ Markdown


def signed(value: float) -> str:
    return f"{value:+.3f}"


def markdown(
    summaries: list[MethodSummary],
    runs: list[dict[str, Any]],
    tasks: Sequence[TaskInfo],
    *,
    config: RunConfig,
    command: str,
    figures: dict[str, Path],
    curves: Path,
) -> str:
    """The whole report."""
    lines = ["# End-to-end benchmark", "", *setup_lines(runs, config, command), ""]
    lines += task_table(summaries, tasks)
    for budget in sorted({s.budget for s in summaries}):
        at_budget = [s for s in summaries if s.budget == budget]
        lines += ["", f"## Results at a budget of {budget} dev queries", ""]
        lines += results_table(at_budget)
        lines += ["", *findings(at_budget), ""]
        lines += ["### Per seed: initial → final test (paired difference)", ""]
        lines += per_seed_table(at_budget)
    lines += ["", "## Plots", ""]
    lines += [f"![{task}]({path.name})" for task, path in figures.items()]
    lines += ["", f"![dev best-so-far]({curves.name})", ""]
    return "\n".join(lines)


def setup_lines(runs: list[dict[str, Any]], config: RunConfig, command: str) -> list[str]:
    """Machine, model, protocol and statistics, in plain words."""
    models = runs[0]["models"]
    task_model, opt_model = models["task"], models["optimizer"]
    loads = [run["load_average_1m"] for run in runs]
    threads = sorted({run["server_threads"] for run in runs})
    seeds = sorted({run["seed"] for run in runs})
    seed_costs = {(run["task"], run["seed"]): run["seed_scoring"] for run in runs}
    total = sum(run["wall_time_s"] for run in runs) + sum(
        cost["wall_time_s"] for cost in seed_costs.values()
    )
    return [
        f"Measured {datetime.date.today().isoformat()} with `{command}`.",
        "",
        f"- **Machine**: {cpu_name()}, {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}, torch {version('torch')}. Other jobs shared the "
        f"cores: the 1-minute load average after each run was {min(loads):.1f}-{max(loads):.1f} "
        f"(median {statistics.median(loads):.1f}), so wall times are upper bounds.",
        f"- **Model** (task and optimizer): {bundled_model_path().name}, served by "
        f"llama-cpp-python {version('llama_cpp_python')} on 127.0.0.1 "
        f"({' or '.join(map(str, threads))} thread(s)), one request at a time. "
        f"Task model: temperature {task_model['temperature']}, max_tokens "
        f"{task_model['max_tokens']}; optimizer model: temperature "
        f"{opt_model['temperature']}, max_tokens {opt_model['max_tokens']}. Template `inline`.",
        f"- **Protocol**: train/dev/test {config.train}/{config.dev}/{config.test} examples, "
        f"disjoint, drawn per seed (seeds {', '.join(map(str, seeds))}; the seed also seeds "
        "the optimizer). The budget counts dev queries, the seed prompt's own included. "
        "`auto` is the agent, planned by its deterministic policy (the methods in the order "
        f"{' → '.join(ROTATION)}, each until it stagnates) as `promptpilot optimize --optimizer "
        "auto` plans with the embedded model. Every method keeps the seed unless a candidate "
        "beats it on dev by a margin the data supports (the guard). Test is scored once per "
        "run, after the search.",
        "- **Costs**: each run has its own response cache and prompt memory. The cache starts "
        "with the seed prompt's dev and test answers only, paid once per task and seed (the "
        "Tasks table shows that cost): every method scores the seed prompt alike, at "
        "temperature 0 on the same examples, so it adds nothing to a comparison. *Calls* are "
        "then what the run paid (cache misses: its candidates on dev, train minibatches, "
        "proposals, the chosen prompt on test) and *tokens* are prompt + completion tokens "
        f"as the server counted them. The {len(runs)} runs took {total / 60:.0f} minutes of "
        "wall time.",
        "- **Statistics**: Δ = final − initial test score, paired by example, pooled over "
        "seeds (examples × seeds); 95% percentile-bootstrap interval and two-sided sign-flip "
        "p-value of the pooled differences (`optimizers.evaluation.stats.paired_comparison`). "
        "With equal test sizes Δ is also the mean of the per-seed differences. The interval "
        "counts test examples, not seeds: the spread between seeds' searches is in the "
        "per-seed table. Initial and final scores carry bootstrap intervals over the same "
        "pooled examples.",
    ]


def task_table(summaries: list[MethodSummary], tasks: Sequence[TaskInfo]) -> list[str]:
    """Each task with its data, metric, seed prompt and the seed prompt's scores."""
    lines = [
        "## Tasks",
        "",
        *table_head(
            "| task | data | metric | seed prompt | seed prompt dev | seed prompt test | "
            "scoring it (calls, s) |"
        ),
    ]
    for task in tasks:
        runs = [run for s in summaries if s.task == task.name for run in s.runs]
        if not runs:
            continue
        by_seed = {run["seed"]: run["seed_scoring"] for run in runs}  # paid once per seed
        dev = statistics.mean(cost["dev"] for cost in by_seed.values())
        test = statistics.mean(cost["test"] for cost in by_seed.values())
        calls = statistics.mean(cost["usage"]["calls"] for cost in by_seed.values())
        seconds = statistics.mean(cost["wall_time_s"] for cost in by_seed.values())
        data = Path(task.data).name if task.data.endswith(".json") else task.data
        lines.append(
            f"| {task.name} | {task.source}: `{data}` | {task.metric} | {task.prompt} | "
            f"{dev:.3f} | {test:.3f} | {calls:.0f}, {seconds:.0f} |"
        )
    lines += ["", "Seed prompt scores and costs are means over the seeds' splits."]
    return lines


def results_table(summaries: list[MethodSummary]) -> list[str]:
    """The main table: scores, the pooled paired difference, costs."""
    lines = table_head(
        "| task | method | seeds | initial test | final test | Δ test [95% CI] | p | "
        "kept seed | best dev | queries used | calls task / opt | tokens task / opt | time (s) |"
    )
    for s in summaries:
        paired = s.paired
        lines.append(
            f"| {s.task} | {s.method} | {len(s.runs)} | {s.initial[0]:.3f} | "
            f"{s.final[0]:.3f} [{s.final[1].low:.3f}, {s.final[1].high:.3f}] | "
            f"**{signed(paired.diff)}** [{signed(paired.interval.low)}, "
            f"{signed(paired.interval.high)}] | {paired.p_value:.2f} | "
            f"{s.kept_seed}/{len(s.runs)} | {s.mean_of('best_dev'):.3f} | "
            f"{s.mean_of('dev_queries'):.1f} | "
            f"{s.mean_of('usage.task.calls'):.0f} / {s.mean_of('usage.opt.calls'):.0f} | "
            f"{s.tokens('task') / 1000:.1f}k / {s.tokens('opt') / 1000:.1f}k | "
            f"{s.mean_of('wall_time_s'):.0f} |"
        )
    lines += [
        "",
        "Means over seeds per run. *kept seed*: runs whose answer stayed the seed prompt; "
        "*best dev*: the chosen prompt's dev score (what the search saw; the gap to the final "
        "test score is selection optimism); *queries used*: dev queries spent of the budget, "
        "the seed prompt's included (a method may stop early).",
    ]
    return lines


def per_seed_table(summaries: list[MethodSummary]) -> list[str]:
    """Per task: one row per method, one column per seed."""
    seeds = sorted({run["seed"] for s in summaries for run in s.runs})
    lines = table_head("| task | method | " + " | ".join(f"seed {seed}" for seed in seeds) + " |")
    for s in summaries:
        by_seed = {run["seed"]: run for run in s.runs}
        cells = []
        for seed in seeds:
            run = by_seed.get(seed)
            cells.append(
                "—"
                if run is None
                else f"{run['initial_test']:.3f} → {run['final_test']:.3f} "
                f"({signed(run['final_test'] - run['initial_test'])})"
            )
        lines.append(f"| {s.task} | {s.method} | " + " | ".join(cells) + " |")
    return lines


def findings(summaries: list[MethodSummary]) -> list[str]:
    """What the numbers say, computed (never typed in), so the text cannot go stale."""
    lines = ["**Findings** (generated from the table above):", ""]
    for task in dict.fromkeys(s.task for s in summaries):
        mine = [s for s in summaries if s.task == task]
        top = max(mine, key=lambda s: s.paired.diff)
        gains = [s.method for s in mine if s.paired.interval.low > 0]
        losses = [s.method for s in mine if s.paired.interval.high < 0]
        kept = sum(s.kept_seed for s in mine)
        runs = sum(len(s.runs) for s in mine)
        verdict = (
            f"interval above 0 for {', '.join(gains)}"
            if gains
            else "no method's interval lies above 0"
        )
        if losses:
            verdict += f"; below 0 (a loss on test) for {', '.join(losses)}"
        lines.append(
            f"- **{task}** (seed prompt {mine[0].initial[0]:.3f} on test): largest mean change "
            f"{signed(top.paired.diff)} ({top.method}); {verdict}. The answer stayed the seed "
            f"prompt in {kept} of {runs} runs."
        )
    methods = list(dict.fromkeys(s.method for s in summaries))
    mean_diff = {
        m: statistics.mean(s.paired.diff for s in summaries if s.method == m) for m in methods
    }
    seconds = {
        m: statistics.mean(s.mean_of("wall_time_s") for s in summaries if s.method == m)
        for m in methods
    }
    calls = {
        m: statistics.mean(
            s.mean_of("usage.task.calls") + s.mean_of("usage.opt.calls")
            for s in summaries
            if s.method == m
        )
        for m in methods
    }
    ranked = sorted(methods, key=lambda m: -mean_diff[m])
    lines.append(
        "- Mean Δ over tasks: "
        + ", ".join(f"{m} {signed(mean_diff[m])}" for m in ranked)
        + ". Cost per run, averaged over tasks: "
        + ", ".join(f"{m} {calls[m]:.0f} calls / {seconds[m]:.0f} s" for m in methods)
        + "."
    )
    return lines


# ------------------------------------------------------------------------------ plots


def plot_test_scores(summaries: list[MethodSummary], path: Path) -> Path:
    """Per method: initial and final test score with 95% intervals, and each seed's final."""
    budgets = sorted({s.budget for s in summaries})
    width = 1.4 * max(len([s for s in summaries if s.budget == b]) for b in budgets) + 1.5
    fig = Figure(figsize=(width * len(budgets), 4.2))
    axes = fig.subplots(1, len(budgets), squeeze=False, sharey=True)
    for ax, budget in zip(axes[0], budgets, strict=True):
        mine = [s for s in summaries if s.budget == budget]
        x = np.arange(len(mine))
        for offset, label, attr, color in (
            (-0.15, "initial (seed prompt)", "initial", "0.35"),
            (0.15, "final (chosen prompt)", "final", None),
        ):
            for i, s in enumerate(mine):
                mean, interval = getattr(s, attr)
                ax.errorbar(
                    x[i] + offset, mean, yerr=[[mean - interval.low], [interval.high - mean]],
                    fmt="o" if attr == "final" else "s", capsize=4,
                    color=color or METHOD_COLORS.get(s.method, "black"),
                    label=label if i == 0 else None,
                )  # fmt: skip
            if attr == "final":
                for i, s in enumerate(mine):
                    ax.scatter(
                        np.full(len(s.runs), x[i] + 0.3), [run["final_test"] for run in s.runs],
                        s=12, color=METHOD_COLORS.get(s.method, "black"), alpha=0.6,
                        label="final, per seed" if i == 0 else None,
                    )  # fmt: skip
        ax.set_xticks(x, [f"{s.method}\nΔ {signed(s.paired.diff)}" for s in mine])
        ax.set_title(f"{mine[0].task}: budget {budget} dev queries, {len(mine[0].runs)} seeds")
        ax.set_ylim(-0.02, 1.02)
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].set_ylabel("test score (95% CI, examples × seeds)")
    axes[0][0].legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path


def plot_dev_curves(summaries: list[MethodSummary], tasks: Sequence[str], path: Path) -> Path:
    """Best dev score so far against dev queries, per method: mean over seeds, min-max band."""
    budgets = sorted({s.budget for s in summaries})
    shown = [t for t in tasks if any(s.task == t for s in summaries)]
    fig = Figure(figsize=(4.5 * len(shown), 3.6 * len(budgets) + 0.4))
    axes = fig.subplots(len(budgets), len(shown), squeeze=False)
    for row, budget in enumerate(budgets):
        for col, task in enumerate(shown):
            ax = axes[row][col]
            for s in (s for s in summaries if s.task == task and s.budget == budget):
                queries = np.arange(1, budget + 1)
                color = METHOD_COLORS.get(s.method, "black")
                ax.plot(queries, s.curves.mean(axis=0), color=color, label=s.method)
                ax.fill_between(
                    queries, s.curves.min(axis=0), s.curves.max(axis=0), color=color, alpha=0.12
                )
            ax.set_title(f"{task}, budget {budget}")
            ax.set_xlabel("dev queries (the seed prompt is query 1)")
            ax.set_ylabel("best dev score so far")
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8, loc="lower right")
    fig.suptitle("Dev best-so-far: mean over seeds (line), min-max over seeds (band)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return path
