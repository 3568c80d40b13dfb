"""Replay ZOPO, GP-UCB, APE's best-of-N and random search over scored pools (no LLM calls).

Each pool file (``bench/pools/<task>.json``, made by ``bench/pool_build.py``) holds
every candidate's dev and test scores. Every strategy runs at every budget with the
same seeds; a query reveals one candidate's dev score (APE's subset evaluations cost
their share, see :mod:`replay.oracle`). Writes
``bench/results/pool_<task>.png`` (best dev found and regret against queries, mean
and 95% band over seeds) and ``bench/results/pool.md`` (the summary table).

    nice -n 10 .venv/bin/python bench/pool_replay.py                   # every pool in bench/pools
    nice -n 10 .venv/bin/python bench/pool_replay.py bench/pools/sentiment.json --seeds 20
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bench_common import ROOT, table_head  # bench/ (scripts run as bench/NAME.py)
from machine import cpu_name
from matplotlib.figure import Figure  # no pyplot: no global state, no display needed
from replay import (
    GPUCB,
    BestOfN,
    PoolFile,
    RandomOrder,
    ReplayTrace,
    RunSummary,
    ScoredPool,
    Strategy,
    ZOPOReplay,
    band,
    replay_seeds,
    summarise,
)

from memory.embeddings import SentenceTransformerEmbedder

POOLS = ROOT / "bench" / "pools"
RESULTS = ROOT / "bench" / "results"
STRATEGIES: tuple[Strategy, ...] = (RandomOrder(), BestOfN(), GPUCB(), ZOPOReplay())
COLORS = {"random": "tab:gray", "ape": "tab:orange", "gp-ucb": "tab:blue", "zopo": "tab:red"}


@dataclass
class PoolResult:
    """Everything measured on one pool."""

    file: PoolFile
    pool: ScoredPool
    traces: dict[tuple[str, int], list[ReplayTrace]]  # (strategy, budget) -> one per seed
    seconds: dict[str, float]  # strategy -> replay time over all budgets and seeds

    def summary(self, strategy: str, budget: int) -> RunSummary:
        return summarise(self.traces[(strategy, budget)])


def load_pool(path: Path, embedder: SentenceTransformerEmbedder) -> tuple[PoolFile, ScoredPool]:
    file = PoolFile.load(path)
    named = file.meta.get("embedder")
    if named not in (None, embedder.name):
        raise SystemExit(f"{path}: embedded with {named!r}, this replay uses {embedder.name!r}")
    return file, file.scored_pool(embedder.embed(file.texts))


def replay_pool(file: PoolFile, pool: ScoredPool, budgets: Sequence[int], seeds: int) -> PoolResult:
    traces: dict[tuple[str, int], list[ReplayTrace]] = {}
    seconds: dict[str, float] = {}
    for strategy in STRATEGIES:
        started = time.monotonic()
        for budget in budgets:
            traces[(strategy.name, budget)] = replay_seeds(
                pool, strategy, budget=budget, seeds=range(seeds)
            )
        seconds[strategy.name] = time.monotonic() - started
        print(f"  {file.task} {strategy.name}: {seconds[strategy.name]:.1f} s", flush=True)
    return PoolResult(file, pool, traces, seconds)


# ------------------------------------------------------------------------------ plot


def plot(result: PoolResult, budgets: Sequence[int], out: Path) -> None:
    """Curves of the largest-budget runs (bands over seeds) and the per-budget end points."""
    top = max(budgets)
    queries = np.arange(1, top + 1)
    fig = Figure(figsize=(11, 4.2))
    axes = fig.subplots(1, 2, sharex=True)
    for i, strategy in enumerate(STRATEGIES):
        name, color = strategy.name, COLORS.get(strategy.name, f"C{i}")
        offset = 0.8 * (i - (len(STRATEGIES) - 1) / 2)  # dots side by side, not on top
        runs = result.traces[(name, top)]
        for ax, key in zip(axes, ("best_dev", "regret"), strict=True):
            curves = np.array([getattr(t, key) for t in runs])
            b = band(curves)
            ax.plot(queries, b.mean, color=color, label=f"{name} (one {top}-query run)")
            ax.fill_between(queries, b.low, b.high, color=color, alpha=0.18, linewidth=0)
            ends = [result.summary(name, budget) for budget in budgets]
            est = [s.best_dev if key == "best_dev" else s.regret for s in ends]
            ax.errorbar(
                np.array(budgets) + offset,
                [e.mean for e in est],
                yerr=[[e.mean - e.low for e in est], [e.high - e.mean for e in est]],
                fmt="o",
                color=color,
                markersize=4,
                capsize=2,
            )
    axes[0].axhline(result.pool.best_dev, color="black", linestyle=":", linewidth=1)
    axes[0].set_ylabel("best dev score found")
    axes[1].set_ylabel("regret to the pool's best dev")
    for ax in axes:
        ax.set_xlabel("dev queries")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, loc="lower right")
    meta = result.file.meta
    fig.suptitle(
        f"{result.file.task}: {result.pool.n} candidates, dev n={result.pool.n_dev}, "
        f"{len(result.traces[(STRATEGIES[0].name, top)])} seeds · lines: runs with budget "
        f"{top}; dots: separate runs at each budget · {meta.get('task_model', '?')}",
        fontsize=9,
    )
    fig.tight_layout()
    fig.savefig(out, dpi=120)


# ----------------------------------------------------------------------------- table


def pool_stats(file: PoolFile, pool: ScoredPool) -> list[str]:
    dev, test = pool.dev, pool.test
    best = pool.best_indices
    sources: dict[str, int] = {}
    for c in file.candidates:
        sources[c.source] = sources.get(c.source, 0) + 1
    q = np.quantile(dev, [0.25, 0.5, 0.75, 0.9])
    meta = file.meta
    splits = meta.get("splits", {})
    scoring = meta.get("scoring", {})
    return [
        f"Pool: {pool.n} candidates ({', '.join(f'{n} {s}' for s, n in sources.items())}), "
        f"metric {meta.get('metric', '?')}, template {meta.get('template', '?')}, "
        f"train/dev/test {splits.get('train')}/{splits.get('dev')}/{splits.get('test')} "
        f"(split seed {splits.get('seed')}), task max_tokens "
        f"{meta.get('task_settings', {}).get('max_tokens')}; built on {meta.get('created')} "
        f"({scoring.get('task_calls_paid')} task calls paid, "
        f"{scoring.get('seconds', 0) / 60:.0f} min of scoring).",
        "",
        f"Dev scores: min {dev.min():.2f}, quartiles {q[0]:.2f} / {q[1]:.2f} / {q[2]:.2f}, "
        f"90th percentile {q[3]:.2f}, max {dev.max():.2f} (reached by {len(best)} "
        f"candidate{'s' if len(best) > 1 else ''}); {np.mean(dev == 0):.0%} score 0. "
        f"Test scores: {test.min():.2f}..{test.max():.2f}; the dev-best "
        f"candidate{'s score' if len(best) > 1 else ' scores'} "
        f"{', '.join(f'{test[i]:.2f}' for i in best[:5])} on test; correlation of dev and "
        f"test over the pool {np.corrcoef(dev, test)[0, 1]:.2f}.",
        "",
        f"Best on dev: {file.candidates[int(best[0])].text!r}",
    ]


def table(result: PoolResult, budgets: Sequence[int]) -> list[str]:
    lines = table_head(
        "| strategy | budget | best dev found [95% CI] | regret [95% CI] | found a best | "
        "test of the chosen prompt [95% CI] | queries spent |"
    )
    for strategy in STRATEGIES:
        for budget in budgets:
            s = result.summary(strategy.name, budget)
            lines.append(
                f"| {s.strategy} | {s.budget} | {s.best_dev} | {s.regret} | {s.found_best:.0%} | "
                f"{s.chosen_test} | {s.spent:.1f} |"
            )
    return lines


def report(results: list[PoolResult], budgets: Sequence[int], seeds: int) -> str:
    import torch

    first = results[0].file.meta
    lines = [
        "# Pool benchmark: queries to a good prompt",
        "",
        "Each pool is a fixed set of candidate prompts generated by PromptPilot's own "
        "generator (APE inductions from train demos and paraphrases of a seed prompt) and "
        "scored once, exhaustively, on dev and test with the embedded model. The "
        "strategies are then replayed over the pool at no LLM cost: a query reveals one "
        "candidate's dev score; APE's filter evaluations on a quarter of dev cost a quarter "
        "of a query. Every strategy runs separately at each budget (ZOPO and GP-UCB scale "
        "their random initial design with it, APE plans its filter with it) with seeds "
        f"0..{seeds - 1}; means with 95% bootstrap intervals over seeds. The chosen prompt "
        "is the best on dev; its test score is what a user would get.",
        "",
        f"Pools scored with {first.get('task_model')} ({first.get('served_by')}) on "
        f"{first.get('machine', {}).get('cpu')}; replayed on {cpu_name()} "
        f"({platform.machine()}), Python {platform.python_version()}, torch "
        f"{torch.__version__}, one torch thread; embeddings {first.get('embedder')}.",
        "",
        "Strategies: **random** (uniform, no repeats); **ape** (best-of-N: half the budget "
        "filters N random candidates on one random quarter of dev, the rest scores the top "
        "ones on full dev); **gp-ucb** (exact GP, Matérn 5/2, one lengthscale, refit by "
        "marginal likelihood every 5 new scores, UCB with Srinivas' β_t scaled by 1/5, "
        "random initial design as ZOPO's); **zopo** (the project's ZOPOSearch with the "
        "reference settings, relative uncertainty, initial design 40/165 of the budget).",
    ]
    for result in results:
        task = result.file.task
        lines += [
            "",
            f"## {task}",
            "",
            *pool_stats(result.file, result.pool),
            "",
            f"![{task}](pool_{task}.png)",
            "",
            *table(result, budgets),
            "",
            "Replay time (all budgets and seeds): "
            + ", ".join(f"{name} {secs:.0f} s" for name, secs in result.seconds.items())
            + ".",
        ]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pools", nargs="*", type=Path, help="pool files (default: bench/pools/*)")
    parser.add_argument("--budgets", nargs="+", type=int, default=[10, 20, 40, 60, 80])
    parser.add_argument("--seeds", type=int, default=20, help="seeds 0..N-1 per strategy")
    parser.add_argument("--out-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    paths = args.pools or sorted([*POOLS.glob("*.json"), *POOLS.glob("*.json.gz")])
    if not paths:
        parser.error(f"no pool files given and none in {POOLS}; build one with pool_build.py")
    if min(args.budgets) < 1 or args.seeds < 1:
        parser.error("budgets and --seeds must be >= 1")
    budgets = sorted(set(args.budgets))
    embedder = SentenceTransformerEmbedder.bundled()
    results = []
    for path in paths:
        file, pool = load_pool(path, embedder)
        print(f"{file.task}: {pool.n} candidates, dev {pool.dev.min():.2f}..{pool.best_dev:.2f}")
        result = replay_pool(file, pool, budgets, args.seeds)
        args.out_dir.mkdir(parents=True, exist_ok=True)
        plot(result, budgets, args.out_dir / f"pool_{file.task}.png")
        print("\n".join(table(result, budgets)), flush=True)
        results.append(result)
    text = report(results, budgets, args.seeds)
    (args.out_dir / "pool.md").write_text(text, encoding="utf-8")
    print(f"wrote {args.out_dir / 'pool.md'} and {len(results)} plot(s)")


if __name__ == "__main__":
    main()
