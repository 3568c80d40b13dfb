"""One PromptPilot process driving several runs at once on a shared store (a test helper).

``python -m tests.integration.shared_store_worker HOME STORE MEMORY FIRST COUNT`` runs
COUNT short runs concurrently through the Python API, numbered from FIRST, each
with its own marked seed prompt, and prints one JSON line per finished run.
"""

from __future__ import annotations

import asyncio
import json
import sys

from agent.api import aoptimize

TASKS = ("review_sentiment", "opposite_word", "country_capital", "word_count")
SEEDS = {
    "review_sentiment": "Is this review positive or negative?",
    "opposite_word": "Give the opposite of the word.",
    "country_capital": "Name the capital city of the country.",
    "word_count": "How many words are in the text?",
}


def marker(number: int) -> str:
    """The text that marks run ``number``'s seed prompt (found again in the prompt memory)."""
    return f"Reference SX{number:02d}."


async def one(number: int, home: str, store: str, memory: str) -> dict:
    task = TASKS[number % len(TASKS)]
    result = await aoptimize(
        task, f"{SEEDS[task]} {marker(number)}", optimizer="random", budget=3, seed=number,
        train=4, dev=2, test=4, home=home, store=store, memory=memory,
    )  # fmt: skip
    return {"number": number, "run": result.run, "best_prompt": result.best_prompt}


async def main(home: str, store: str, memory: str, first: int, count: int) -> None:
    done = await asyncio.gather(*(one(n, home, store, memory) for n in range(first, first + count)))
    for line in done:
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    home, store, memory, first, count = sys.argv[1:6]
    asyncio.run(main(home, store, memory, int(first), int(count)))
