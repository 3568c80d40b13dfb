"""Build a scored candidate pool for the query-efficiency benchmark (issue 6).

For each task: generate candidates with the project's own generator
(:mod:`optimizers.propose.generation`: APE induction from train demos plus paraphrases of a
seed prompt) on the embedded SmolLM2 model, de-duplicate and embed them as the
candidate domain does (:class:`optimizers.propose.domain.CandidateDomain`), score every
candidate on dev and test with the evaluator, and write ``bench/pools/<task>.json``
(``.json.gz`` when over 2 MB). Every answer goes through the persistent response
cache (``--home``, default ``~/.promptpilot``), so a re-run is free.

``--screen`` is the cheap first look: a dozen generated prompts on the first 10 dev
examples per task, to find tasks whose scores spread widely across prompts (a pool
where every prompt scores 0 tells nothing about search). It writes
``bench/results/pool_screen.md``.

    nice -n 10 .venv/bin/python bench/pool_build.py --screen sentiment antonyms review_sentiment
    nice -n 10 .venv/bin/python bench/pool_build.py sentiment --size 200 --dev 20 --test 40
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import platform
import random
import signal
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench_common import II_EXECUTE, ROOT, table_head  # bench/ (scripts run as bench/NAME.py)
from machine import cpu_name
from replay.pool_file import PoolCandidate, PoolFile

from agent.llm.environment import runtime_settings
from agent.llm.local_server import bundled_model_path
from agent.llm.runtime import ModelRuntime
from memory.embeddings import SentenceTransformerEmbedder
from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.evaluation.evaluator import Evaluator
from optimizers.evaluation.metrics import get_metric
from optimizers.evaluation.templates import PromptTemplate
from optimizers.propose.domain import CandidateDomain
from optimizers.propose.domain_config import DomainConfig
from optimizers.propose.generation import (
    GeneratedPrompt,
    Sampling,
    induce_instructions,
    paraphrase,
)
from optimizers.tasks import (
    BUILTIN_TASKS,
    Example,
    Splits,
    SplitSpec,
    Task,
    load_builtin_task,
    load_task,
    split_task,
)

POOLS = ROOT / "bench" / "pools"
RESULTS = ROOT / "bench" / "results"
GZIP_OVER_BYTES = 2_000_000

SEED_PROMPTS = {
    "sentiment": ("Is this review positive or negative?",),
    "review_sentiment": ("Is this review positive or negative?",),
    "antonyms": ("Give the opposite of the word.",),
    "opposite_word": ("Give the opposite of the word.",),
    "first_word_letter": ("What is the first letter of the word?",),
    "second_word_letter": ("What is the second letter of the word?",),
    "singular_to_plural": ("Write the plural of the word.",),
    "letters_list": ("Spell the word.",),
    "num_to_verbal": ("Write the number in words.",),
    "negation": ("Negate the sentence.",),
    "synonyms": ("Give a word with the same meaning.",),
    "country_capital": ("What is the capital?",),
    "word_count": ("How many words are in the sentence?",),
    "active_to_passive": ("Rewrite the sentence in the passive voice.",),
    "translation_en-fr": ("Translate the word into French.",),
}
"""Plain, short instructions the paraphrases start from (a quarter of the pool)."""
DEFAULT_SEED_PROMPT = "Answer the input."
SCREEN_METRICS = ("exact", "contains")


def load(name: str) -> Task:
    """A built-in task, an instruction-induction ``execute`` task by name, or a file."""
    if name in BUILTIN_TASKS:
        return load_builtin_task(name)
    path = II_EXECUTE / f"{name}.json"
    if path.is_file():
        return load_task(path, name=name)
    if Path(name).is_file():
        return load_task(name)
    raise SystemExit(
        f"unknown task {name!r}: expected a built-in task ({', '.join(sorted(BUILTIN_TASKS))}), "
        f"a file in {II_EXECUTE}, or a path"
    )


def prepare(name: str, args) -> tuple[Task, Splits, tuple[str, ...]]:
    """The task, its seeded train/dev/test split, and the seed prompts.

    A task too small for the asked sizes keeps train and dev and gets a smaller test
    split (the pool file records the sizes used).
    """
    task = load(name)
    test = max(1, min(args.test, len(task) - args.train - args.dev))
    spec = SplitSpec(train=args.train, dev=args.dev, test=test, seed=args.split_seed)
    seeds = tuple(args.seed_prompt or SEED_PROMPTS.get(name, (DEFAULT_SEED_PROMPT,)))
    return task, split_task(task, spec), seeds


# ------------------------------------------------------------------------ generation


async def generate(
    optimizer: ChatCaller,
    train: Sequence[Example],
    seeds: Sequence[str],
    args,
    *,
    size: int,
    log: list[GeneratedPrompt],
) -> list[GeneratedPrompt]:
    """Ask for ``size - len(seeds)`` prompts: inductions and paraphrases of the seeds.

    The split between the two is :class:`DomainConfig`'s default paraphrase share (the
    paraphrases shared evenly among the seeds), the demos per induction its default
    too. Each sampler has its own seeded rng (from ``--gen-seed``) and its own block of
    sample indices (``--attempts`` a wanted prompt), so a re-run asks exactly the same
    (cached) questions.
    """
    seed, attempts = args.gen_seed, args.attempts
    config = DomainConfig()
    wanted = max(0, size - len(seeds))
    n_para = round(wanted * config.paraphrase_share)
    n_ape = wanted - n_para
    rng = random.Random(seed)

    def sampling(n: int, start: int) -> Sampling:
        return Sampling(
            n=n,
            rng=random.Random(rng.getrandbits(64)),
            start_sample=start,
            exclude=seeds,
            max_attempts=attempts * n,
            log=log,
        )

    jobs = [
        induce_instructions(
            optimizer, train, sampling(n_ape, 0), demos_per_prompt=config.demos_per_prompt
        )
    ]
    start = attempts * n_ape
    for j, parent in enumerate(seeds):
        count = n_para // len(seeds) + (j < n_para % len(seeds))
        jobs.append(paraphrase(optimizer, parent, sampling(count, start)))
        start += attempts * count
    results = await asyncio.gather(*jobs)
    return [prompt for prompts in results for prompt in prompts]


# --------------------------------------------------------------------------- progress


class Ticker:
    """Progress on stderr: a line every ``every`` seconds (the job runs with output to a log)."""

    def __init__(self, what: str, total: int, every: float = 20.0) -> None:
        self.what, self.total, self.every = what, total, every
        self.done = 0
        self.started = self.last = time.monotonic()

    def advance(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.last >= self.every or self.done >= self.total:
            self.last = now
            rate = self.done / max(now - self.started, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else float("inf")
            print(
                f"  {self.what}: {self.done}/{self.total} ({100 * self.done / self.total:.0f}%), "
                f"{rate:.1f}/s, {now - self.started:.0f} s elapsed, eta {eta / 60:.1f} min",
                file=sys.stderr,
                flush=True,
            )

    async def watch(self, log: list[GeneratedPrompt]) -> None:
        """Follow a generation log (its length is the samples judged so far)."""
        while True:
            if len(log) > self.done:
                self.advance(len(log) - self.done)
            await asyncio.sleep(1.0)


# ---------------------------------------------------------------------------- scoring


async def score_all(
    evaluator: Evaluator,
    texts: Sequence[str],
    splits: dict[str, Sequence[Example]],
    *,
    prompts_in_flight: int = 4,
) -> list[dict[str, Any]]:
    """Per-example scores (and failed examples) of every text on every split.

    The task caller's own limit bounds the requests in flight; ``prompts_in_flight``
    only keeps the number of waiting coroutines small.
    """
    ticker = Ticker("scored calls", len(texts) * sum(len(v) for v in splits.values()))
    gate = asyncio.Semaphore(prompts_in_flight)

    async def one(text: str) -> dict[str, Any]:
        async with gate:
            out: dict[str, Any] = {}
            for split, examples in splits.items():
                result = await evaluator.evaluate(
                    text, examples, split=split, progress=lambda _d, _t: ticker.advance()
                )
                out[split] = result.scores
                out[f"{split}_errors"] = sum(1 for r in result.examples if r.error)
            return out

    return list(await asyncio.gather(*(one(text) for text in texts)))


# ------------------------------------------------------------------------------ build


def model_meta(runtime: ModelRuntime) -> dict[str, object]:
    """The task and optimizer models as a reader needs them (no keys, no ports)."""
    import llama_cpp  # the embedded server's package: its version is part of the model

    def public(role: str) -> dict[str, object]:
        data = getattr(runtime.settings, role).public()
        data.pop("base_url", None)
        return data

    embedded = runtime.settings.task.embedded
    return {
        "task_model": bundled_model_path().name if embedded else runtime.settings.task.model,
        "served_by": f"llama-cpp-python {llama_cpp.__version__}" if embedded else "endpoint",
        "task_settings": public("task"),
        "optimizer_model": bundled_model_path().name
        if runtime.settings.optimizer.embedded
        else runtime.settings.optimizer.model,
        "optimizer_settings": public("optimizer"),
    }


def machine_meta() -> dict[str, str]:
    import torch

    return {
        "cpu": cpu_name(),
        "arch": platform.machine(),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }


async def build_one(runtime: ModelRuntime, embedder, name: str, args) -> PoolFile:
    task, splits, seeds = prepare(name, args)
    assert runtime.task is not None
    assert runtime.optimizer is not None
    print(f"{name}: generating {args.size} candidates (seed prompts {seeds})", flush=True)

    log: list[GeneratedPrompt] = []
    opt_before = runtime.optimizer.usage.snapshot()
    started = time.monotonic()
    watcher = asyncio.create_task(
        Ticker("generation samples", args.attempts * max(0, args.size - 1)).watch(log)
    )
    try:
        generated = await generate(
            runtime.optimizer, splits.train, seeds, args, size=args.size, log=log
        )
    finally:
        watcher.cancel()
    gen_seconds = time.monotonic() - started
    opt_usage = runtime.optimizer.usage.since(opt_before)

    domain = CandidateDomain(embedder)  # de-duplicates like the optimizers' domain
    domain.add(seeds, "seed")
    domain.add_generated(generated)
    entries = domain.entries
    print(
        f"{name}: {len(log)} samples, {sum(p.kept for p in log)} kept, "
        f"{len(entries)} distinct candidates with the seed ({gen_seconds:.0f} s); scoring on "
        f"dev {len(splits.dev)} + test {len(splits.test)}",
        flush=True,
    )

    evaluator = Evaluator(runtime.task, get_metric(args.metric), PromptTemplate())
    task_before = runtime.task.usage.snapshot()
    started = time.monotonic()
    scores = await score_all(
        evaluator, [e.text for e in entries], {"dev": splits.dev, "test": splits.test}
    )
    score_seconds = time.monotonic() - started
    task_usage = runtime.task.usage.since(task_before)

    candidates = tuple(
        PoolCandidate(
            text=entry.text,
            source=entry.source,
            dev_scores=tuple(s["dev"]),
            test_scores=tuple(s["test"]),
        )
        for entry, s in zip(entries, scores, strict=True)
    )
    meta = {
        "created": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%MZ"),
        "data": shown_path(task, name),
        "metric": args.metric,
        "template": PromptTemplate().id,
        "splits": {
            "train": len(splits.train),
            "dev": len(splits.dev),
            "test": len(splits.test),
            "seed": args.split_seed,
        },
        "generation": {
            "seed": args.gen_seed,
            "seed_prompts": list(seeds),
            "size_asked": args.size,
            "max_attempts_per_prompt": args.attempts,
            "paraphrase_share": DomainConfig().paraphrase_share,
            "demos_per_prompt": DomainConfig().demos_per_prompt,
            "samples": len(log),
            "kept": sum(p.kept for p in log),
            "distinct": len(entries),
            "optimizer_calls_paid": opt_usage.calls,
            "seconds": round(gen_seconds, 1),
        },
        "scoring": {
            "task_calls_paid": task_usage.calls,
            "cache_hits": task_usage.cache_hits,
            "failed_examples": sum(s["dev_errors"] + s["test_errors"] for s in scores),
            "seconds": round(score_seconds, 1),
        },
        "embedder": embedder.name,
        **model_meta(runtime),
        "machine": machine_meta(),
    }
    return PoolFile(
        task=name,
        dev_ids=tuple(e.id for e in splits.dev),
        test_ids=tuple(e.id for e in splits.test),
        candidates=candidates,
        meta=meta,
    )


def shown_path(task: Task, name: str) -> str:
    """The data file relative to the workspace (machine-independent), else as given."""
    if task.path is None:
        return name
    try:
        return str(Path(task.path).resolve().relative_to(ROOT.parent))
    except ValueError:
        return str(task.path)


def save(pool: PoolFile, out_dir: Path) -> Path:
    path = pool.save(out_dir / f"{pool.task}.json")
    if path.stat().st_size > GZIP_OVER_BYTES:
        gz = pool.save(out_dir / f"{pool.task}.json.gz")
        path.unlink()
        path = gz
    return path


# ----------------------------------------------------------------------------- screen


async def screen_one(runtime: ModelRuntime, name: str, args) -> list[dict[str, Any]]:
    """A dozen generated prompts on the first ``--screen-dev`` dev examples, per metric.

    The answers are scored with every metric of :data:`SCREEN_METRICS`; all but the
    first are cache hits, so trying a metric costs nothing.
    """
    _, splits, seeds = prepare(name, args)
    assert runtime.task is not None
    assert runtime.optimizer is not None
    started = time.monotonic()
    generated = await generate(
        runtime.optimizer, splits.train, seeds, args, size=args.screen_size, log=[]
    )
    texts = list(dict.fromkeys([*seeds, *(p.text for p in generated if p.kept)]))
    dev = splits.dev[: args.screen_dev]
    rows = []
    for metric in SCREEN_METRICS:
        evaluator = Evaluator(runtime.task, get_metric(metric), PromptTemplate())
        scores = await score_all(evaluator, texts, {"dev": dev})
        means = sorted((statistics.fmean(s["dev"]) for s in scores), reverse=True)
        rows.append(
            {
                "task": name,
                "metric": metric,
                "prompts": len(texts),
                "dev": len(dev),
                "min": min(means),
                "median": statistics.median(means),
                "max": max(means),
                "sd": statistics.pstdev(means),
                "scores": means,
            }
        )
        print(
            f"{name} ({metric}): {len(texts)} prompts on {len(dev)} dev: min {min(means):.2f} "
            f"median {statistics.median(means):.2f} max {max(means):.2f} "
            f"({time.monotonic() - started:.0f} s) {[round(m, 2) for m in means]}",
            flush=True,
        )
    return rows


def screen_table(rows: list[dict[str, Any]], runtime: ModelRuntime, args) -> str:
    meta = model_meta(runtime)
    lines = [
        "# Pool screen: how widely do generated prompts' scores spread?",
        "",
        f"Machine: {cpu_name()} ({platform.machine()}), Python {platform.python_version()}. "
        f"Task and optimizer model: {meta['task_model']} ({meta['served_by']}), task "
        f"max_tokens {runtime.settings.task.max_tokens}, template inline. Per task: the seed "
        f"prompt and up to {args.screen_size - 1} prompts from the generator (APE inductions "
        f"and paraphrases of the seed, generation seed {args.gen_seed}), each on the first "
        f"{args.screen_dev} dev examples (split seed {args.split_seed}); the same answers "
        f"scored with each metric.",
        "",
        *table_head(
            "| task | metric | prompts | min | median | max | sd | dev scores, best first |"
        ),
    ]
    for r in sorted(rows, key=lambda r: (-(r["max"] - r["min"]), -r["sd"])):
        lines.append(
            f"| {r['task']} | {r['metric']} | {r['prompts']} | {r['min']:.2f} | "
            f"{r['median']:.2f} | {r['max']:.2f} | {r['sd']:.2f} | "
            f"{' '.join(f'{m:.1f}' for m in r['scores'])} |"
        )
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------- main


async def main_async(args) -> None:
    settings = runtime_settings(task_max_tokens=args.task_max_tokens, home=args.home)
    with ModelRuntime(settings) as runtime:
        if args.screen:
            rows = []
            for name in args.tasks:
                try:
                    rows += await screen_one(runtime, name, args)
                except (ValueError, OSError) as exc:  # one bad task must not end the screen
                    print(f"{name}: skipped ({exc})", flush=True)
            table = screen_table(rows, runtime, args)
            print(table)
            out = RESULTS / "pool_screen.md"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(table, encoding="utf-8")
            print(f"wrote {out.relative_to(ROOT)}")
            return
        embedder = SentenceTransformerEmbedder.bundled()
        for name in args.tasks:
            pool = await build_one(runtime, embedder, name, args)
            path = save(pool, Path(args.out_dir))
            dev = [c.dev for c in pool.candidates]
            print(
                f"{name}: wrote {path} ({path.stat().st_size / 1e6:.2f} MB): "
                f"{len(dev)} candidates, dev {min(dev):.2f}..{max(dev):.2f}; "
                f"{asdict(runtime.task.usage)}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "tasks", nargs="+", help="built-in task, instruction-induction task, or file"
    )
    parser.add_argument("--screen", action="store_true", help="cheap spread screen only")
    parser.add_argument("--screen-size", type=int, default=12, help="prompts per task (screen)")
    parser.add_argument("--screen-dev", type=int, default=10, help="dev examples (screen)")
    parser.add_argument(
        "--size", type=int, default=200, help="candidates to ask for, seed included"
    )
    parser.add_argument(
        "--attempts", type=int, default=3, help="generator calls allowed per wanted candidate"
    )
    parser.add_argument("--train", type=int, default=20)
    parser.add_argument("--dev", type=int, default=20)
    parser.add_argument("--test", type=int, default=40)
    parser.add_argument("--split-seed", type=int, default=0)
    parser.add_argument("--gen-seed", type=int, default=0)
    parser.add_argument(
        "--seed-prompt",
        action="append",
        help="a seed the paraphrases start from; repeatable (default: one per task)",
    )
    parser.add_argument("--metric", default="exact", help="metric of the pool (screen: both)")
    parser.add_argument("--task-max-tokens", type=int, default=None)
    parser.add_argument("--home", type=Path, help="cache location (default ~/.promptpilot)")
    parser.add_argument("--out-dir", default=str(POOLS))
    args = parser.parse_args()
    if args.size < 2 or args.screen_size < 2:
        parser.error("--size and --screen-size must be at least 2")
    # `kill` (SIGTERM) unwinds like Ctrl-C, so the embedded server is stopped, not orphaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
