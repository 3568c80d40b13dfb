"""Evaluator throughput at 1, 2, 4 and 8 requests in flight, next to the raw client.

Same requests both ways: the raw side sends them with the official ``openai`` client,
N in flight; the PromptPilot side runs them through the evaluator (langchain-openai,
cache lookup and store, metric, bootstrap interval) with ``--concurrency N`` and an
empty cache, then once more with the default adaptive concurrency (where it settled
is printed). Against the embedded server (llama-cpp-python: one request at a time)
and, with ``--native``, llama.cpp's ``llama-server`` with parallel slots and
continuous batching (built from source on first use: see ``llama_server.py``). Then
the evaluator runs again on a warm cache to time a hit. Writes
``results/throughput.md``.

    .venv/bin/python bench/evaluator_throughput.py [--native] [--examples 64] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import openai
from llama_server import ensure_binary, llama_server  # bench/llama_server.py
from machine import cpu_name, version  # bench/machine.py (scripts run as bench/NAME.py)

from agent.llm.local_server import LocalLLMServer, bundled_model_path
from agent.llm.models import make_backend
from agent.llm.settings import DEFAULT_TASK_SETTINGS, ModelSettings
from memory.response_cache import ResponseCache
from optimizers.evaluation.chat_calls import ChatCaller, message_payload
from optimizers.evaluation.evaluator import Evaluator
from optimizers.evaluation.metrics import get_metric
from optimizers.evaluation.templates import PromptTemplate
from optimizers.tasks import load_builtin_task

PROMPT = "Classify the sentiment of the review. Answer with one word: positive or negative."
MAX_TOKENS = DEFAULT_TASK_SETTINGS.max_tokens
LEVELS = (1, 2, 4, 8)
ROLE = {"human": "user", "system": "system", "ai": "assistant"}
RESULTS = Path(__file__).resolve().parent / "results" / "throughput.md"


@dataclass
class Measured:
    """Requests per second of one server, per path and level, over the rounds."""

    raw: dict[int, list[float]] = field(default_factory=dict)
    ours: dict[int, list[float]] = field(default_factory=dict)
    auto: list[float] = field(default_factory=list)
    settled: list[int] = field(default_factory=list)


def requests_for(examples) -> list[list[dict[str, str]]]:
    template = PromptTemplate()
    return [
        [
            {"role": ROLE[t], "content": c}
            for t, c in message_payload(template.render(PROMPT, e.input))
        ]
        for e in examples
    ]


async def raw_client(base_url: str, requests, in_flight: int) -> float:
    client = openai.AsyncOpenAI(base_url=base_url, api_key="none")
    gate = asyncio.Semaphore(in_flight)

    async def one(messages):
        async with gate:
            await client.chat.completions.create(
                model="smollm2", messages=messages, max_tokens=MAX_TOKENS, temperature=0.0
            )

    started = time.perf_counter()
    await asyncio.gather(*(one(m) for m in requests))
    elapsed = time.perf_counter() - started
    await client.close()
    return len(requests) / elapsed


async def through_evaluator(
    base_url: str, examples, cache: ResponseCache, concurrency: int | None
) -> tuple[float, int]:
    """Requests/s of a cold evaluation, and the concurrency limit at its end."""
    settings = ModelSettings(base_url=base_url, max_tokens=MAX_TOKENS, concurrency=concurrency)
    backend = make_backend(settings)
    evaluator = Evaluator(ChatCaller(backend, cache), metric=get_metric("exact"))
    started = time.perf_counter()
    result = await evaluator.evaluate(PROMPT, examples, split="bench")
    elapsed = time.perf_counter() - started
    assert result.usage.calls == len(examples), "a cold run must pay for every example"
    return len(examples) / elapsed, backend.limit.current


async def cache_hit_cost(base_url: str, examples, cache: ResponseCache, repeats: int) -> float:
    settings = ModelSettings(base_url=base_url, max_tokens=MAX_TOKENS)
    evaluator = Evaluator(ChatCaller(make_backend(settings), cache), metric=get_metric("exact"))
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = await evaluator.evaluate(PROMPT, examples, split="bench")
        timings.append((time.perf_counter() - started) / len(examples))
        assert result.usage.calls == 0, "a warm run must not pay for anything"
    return statistics.median(timings)


def measure(base_url: str, examples, rounds: int, tmp: Path) -> tuple[Measured, ResponseCache]:
    requests = requests_for(examples)
    asyncio.run(raw_client(base_url, requests[:6], 2))  # warm-up, not timed
    out = Measured()
    cache = None
    for round_index in range(rounds):  # levels interleave, so drift hits them alike
        for level in LEVELS:
            out.raw.setdefault(level, []).append(asyncio.run(raw_client(base_url, requests, level)))
            cache = ResponseCache(tmp / f"cache-{round_index}-{level}.sqlite")
            rate, _ = asyncio.run(through_evaluator(base_url, examples, cache, level))
            out.ours.setdefault(level, []).append(rate)
        cache = ResponseCache(tmp / f"cache-auto-{round_index}.sqlite")
        rate, settled = asyncio.run(through_evaluator(base_url, examples, cache, None))
        out.auto.append(rate)
        out.settled.append(settled)
    assert cache is not None
    return out, cache


def table(servers: dict[str, Measured]) -> list[str]:
    names = list(servers)
    head = "| in flight | " + " | ".join(f"{n}: raw client | {n}: evaluator" for n in names) + " |"
    lines = [head, "|---:|" + "---:|---:|" * len(names)]
    for level in LEVELS:
        cells = []
        for m in servers.values():
            cells += [
                f"{statistics.mean(m.raw[level]):.2f}",
                f"{statistics.mean(m.ours[level]):.2f}",
            ]
        lines.append(f"| {level} | " + " | ".join(cells) + " |")
    cells = []
    for m in servers.values():
        cells += [
            "",
            f"{statistics.mean(m.auto):.2f} (settled at {', '.join(map(str, m.settled))})",
        ]
    lines.append("| auto (default) | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--native", action="store_true", help="also llama-server --parallel")
    parser.add_argument("--parallel", type=int, default=8, help="llama-server's slots")
    args = parser.parse_args()
    examples = load_builtin_task("review_sentiment").examples[: args.examples]
    servers: dict[str, Callable[[], AbstractContextManager[str]]] = {
        "llama-cpp-python (1 slot)": embedded
    }
    if args.native:
        binary = ensure_binary()
        servers[f"llama-server --parallel {args.parallel}"] = lambda: llama_server(
            binary, parallel=args.parallel
        )
    measured: dict[str, Measured] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, start in servers.items():
            with start() as base_url:
                caches = Path(tempfile.mkdtemp(dir=tmp))  # every server starts cold
                measured[name], cache = measure(base_url, examples, args.rounds, caches)
                if name == next(iter(servers)):
                    hit = asyncio.run(cache_hit_cost(base_url, examples, cache, repeats=20))
    load = os.getloadavg()[0]
    lines = [
        f"machine: {cpu_name()}, {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}, load average (1 min) at the end {load:.2f}",
        f"model: {bundled_model_path().name}, max_tokens={MAX_TOKENS}; llama-cpp-python "
        f"{version('llama-cpp-python')}",
        f"requests: {len(examples)} review_sentiment examples x {args.rounds} rounds, "
        "requests/s (mean of the rounds)",
        "",
        *table(measured),
        "",
        f"cache hit: {hit * 1000:.3f} ms per example (median of 20 warm evaluations)",
    ]
    text = "\n".join(lines)
    print(text)
    RESULTS.write_text(
        "# Evaluator throughput\n\nWritten by `bench/evaluator_throughput.py"
        + (" --native" if args.native else "")
        + "`.\n\n"
        + text
        + "\n"
    )


@contextmanager
def embedded() -> Iterator[str]:
    with LocalLLMServer() as server:
        yield server.base_url


if __name__ == "__main__":
    main()
