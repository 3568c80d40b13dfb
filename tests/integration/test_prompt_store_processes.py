"""Several processes opening one fresh prompt memory at once: every one succeeds.

chromadb creates its tables when a client first opens a folder; without a lock,
two processes doing that together can fail ("table collections already exists"),
as ten `promptpilot optimize` runs starting at once on one home showed.
"""

from __future__ import annotations

import multiprocessing
import traceback
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROCESSES = 8
ROUNDS = 6  # a fresh folder each round: six chances for the race


def open_and_add(folder: str, number: int, barrier, results) -> None:
    """One process: load the embedder, then each round open a fresh store with the others."""
    from memory.embeddings import SentenceTransformerEmbedder
    from memory.prompt_record import PromptRecord
    from memory.prompt_store import PromptStore

    embedder = SentenceTransformerEmbedder.bundled()
    _ = embedder.dim  # loaded before the first barrier: the openings start together
    for round_ in range(ROUNDS):
        barrier.wait(timeout=300)
        try:
            with PromptStore.embedded(Path(folder) / f"prompts-{round_}", embedder) as store:
                text = f"prompt of process {number}"
                record = PromptRecord(text=text, task="t", run=f"r{number}", step=0, source="seed")
                store.add([record])
            results.put((round_, number, None))
        except Exception:
            results.put((round_, number, traceback.format_exc()))


def test_processes_opening_a_fresh_store_at_once_all_succeed(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    workers = [
        context.Process(target=open_and_add, args=(str(tmp_path), n, barrier, results))
        for n in range(PROCESSES)
    ]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=600) for _ in range(PROCESSES * ROUNDS)]
    for worker in workers:
        worker.join(timeout=60)

    failures = [error for _, _, error in outcomes if error]
    assert failures == [], f"{len(failures)} of {len(outcomes)} openings failed:\n{failures[0]}"

    from memory.embeddings import SentenceTransformerEmbedder
    from memory.prompt_store import PromptStore

    embedder = SentenceTransformerEmbedder.bundled()
    for round_ in range(ROUNDS):
        with PromptStore.embedded(tmp_path / f"prompts-{round_}", embedder) as store:
            assert store.count() == PROCESSES
