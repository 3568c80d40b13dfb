"""Evaluator throughput against the raw llama.cpp server, and the cost of a cache hit.

Same requests both ways: the raw side sends them with the official ``openai``
client (sequentially, and 4 in flight), the PromptPilot side runs them through
the evaluator (langchain-openai, cache lookup, metric, bootstrap interval) with
an empty cache. Then the evaluator runs again on a warm cache to time a hit.
Rounds alternate so neither side gains from warm-up. Prints a table.

    .venv/bin/python bench/evaluator_throughput.py [--examples 60] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import tempfile
import time
from pathlib import Path

import openai
from machine import cpu_name  # bench/machine.py (scripts run as bench/NAME.py)

from agent.llm.local_server import LocalLLMServer, bundled_model_path
from agent.llm.models import make_backend
from agent.llm.settings import ModelSettings
from memory.response_cache import ResponseCache
from optimizers.evaluation.chat_calls import ChatCaller, message_payload
from optimizers.evaluation.evaluator import Evaluator
from optimizers.evaluation.metrics import get_metric
from optimizers.evaluation.templates import PromptTemplate
from optimizers.tasks import load_builtin_task

PROMPT = "Classify the sentiment of the review. Answer with one word: positive or negative."
MAX_TOKENS = 8
ROLE = {"human": "user", "system": "system", "ai": "assistant"}


def requests_for(examples) -> list[list[dict[str, str]]]:
    template = PromptTemplate()
    return [
        [
            {"role": ROLE[t], "content": c}
            for t, c in message_payload(template.render(PROMPT, e.input))
        ]
        for e in examples
    ]


def raw_sequential(base_url: str, requests) -> float:
    client = openai.OpenAI(base_url=base_url, api_key="none")
    started = time.perf_counter()
    for messages in requests:
        client.chat.completions.create(
            model="smollm2", messages=messages, max_tokens=MAX_TOKENS, temperature=0.0
        )
    return len(requests) / (time.perf_counter() - started)


async def raw_concurrent(base_url: str, requests, in_flight: int = 4) -> float:
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


async def through_evaluator(base_url: str, examples, cache: ResponseCache) -> tuple[float, float]:
    settings = ModelSettings(base_url=base_url, max_tokens=MAX_TOKENS, concurrency=4)
    evaluator = Evaluator(ChatCaller(make_backend(settings), cache), metric=get_metric("exact"))
    started = time.perf_counter()
    result = await evaluator.evaluate(PROMPT, examples, split="bench")
    elapsed = time.perf_counter() - started
    assert result.usage.calls == len(examples), "a cold run must pay for every example"
    return len(examples) / elapsed, result.mean


async def cache_hit_cost(base_url: str, examples, cache: ResponseCache, repeats: int) -> float:
    settings = ModelSettings(base_url=base_url, max_tokens=MAX_TOKENS, concurrency=4)
    evaluator = Evaluator(ChatCaller(make_backend(settings), cache), metric=get_metric("exact"))
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = await evaluator.evaluate(PROMPT, examples, split="bench")
        timings.append((time.perf_counter() - started) / len(examples))
        assert result.usage.calls == 0, "a warm run must not pay for anything"
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    examples = load_builtin_task("review_sentiment").examples[: args.examples]
    requests = requests_for(examples)
    raw_seq, raw_conc, ours = [], [], []
    with LocalLLMServer() as server, tempfile.TemporaryDirectory() as tmp:
        raw_sequential(server.base_url, requests[:5])  # warm-up, not timed
        for round_index in range(args.rounds):
            raw_seq.append(raw_sequential(server.base_url, requests))
            raw_conc.append(asyncio.run(raw_concurrent(server.base_url, requests)))
            cache = ResponseCache(Path(tmp) / f"cache-{round_index}.sqlite")
            throughput, accuracy = asyncio.run(through_evaluator(server.base_url, examples, cache))
            ours.append(throughput)
        hit = asyncio.run(cache_hit_cost(server.base_url, examples, cache, repeats=20))

    raw_best = max(statistics.mean(raw_seq), statistics.mean(raw_conc))
    print(f"machine: {cpu_name()}, {platform.machine()}, Python {platform.python_version()}")
    print(
        f"model: {bundled_model_path().name} via llama-cpp-python server, max_tokens={MAX_TOKENS}"
    )
    print(f"requests: {len(examples)} review_sentiment examples x {args.rounds} rounds "
          f"(exact-match accuracy {accuracy:.3f})")  # fmt: skip
    print()
    print(f"{'path':38} {'req/s':>8}")
    print(f"{'raw openai client, sequential':38} {statistics.mean(raw_seq):8.2f}")
    print(f"{'raw openai client, 4 in flight':38} {statistics.mean(raw_conc):8.2f}")
    print(f"{'PromptPilot evaluator, cold cache':38} {statistics.mean(ours):8.2f}")
    print(f"evaluator / best raw: {statistics.mean(ours) / raw_best:.1%}")
    print(f"cache hit: {hit * 1000:.3f} ms per example (median of 20 warm evaluations)")


if __name__ == "__main__":
    main()
