"""Fault stubs started on 127.0.0.1 and stopped after; fault-free reference runs, once."""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from memory.embeddings import SentenceTransformerEmbedder
from tests.reliability.fault_stub import FaultPlan, FaultStub
from tests.reliability.scenario import (
    Reference,
    checkpoint_signature,
    run_in_process,
    targets,
)


@pytest.fixture(scope="session")
def stub_targets() -> dict[str, str]:
    """The task's inputs and answers, for the stub's task role."""
    return targets()


@pytest.fixture
def make_stub(stub_targets: dict[str, str]) -> Iterator[Callable[..., FaultStub]]:
    """Start stubs with a fault plan; all are stopped when the test ends."""
    started: list[FaultStub] = []

    def make(plan: FaultPlan | None = None, **options: Any) -> FaultStub:
        stub = FaultStub(stub_targets, plan=plan, **options).start()
        started.append(stub)
        return stub

    yield make
    for stub in started:
        stub.stop()


@pytest.fixture(scope="session")
def reference(
    stub_targets: dict[str, str], bundled_embedder: SentenceTransformerEmbedder
) -> Iterator[Callable[[str], Reference]]:
    """``reference(optimizer)``: the fault-free run of the scenario, made once per session."""
    made: dict[str, Reference] = {}
    with tempfile.TemporaryDirectory() as tmp:

        def get(optimizer: str) -> Reference:
            if optimizer not in made:
                stub = FaultStub(stub_targets).start()
                home = Path(tmp) / optimizer
                done = threading.Event()
                writes: list[int] = []
                watcher = threading.Thread(target=_watch_writes, args=(home, stub, done, writes))
                watcher.start()
                try:
                    report = asyncio.run(
                        run_in_process(stub, home, "ref", optimizer, bundled_embedder, resume=False)
                    )
                finally:
                    done.set()
                    watcher.join()
                    stub.stop()
                assert not stub.ledger.faults()
                assert not stub.ledger.repeated()
                bodies = frozenset(e.body_sha for e in stub.ledger.exchanges() if e.ok)
                made[optimizer] = Reference(report, bodies, tuple(writes))
            return made[optimizer]

        yield get


def _watch_writes(home: Path, stub: FaultStub, done: threading.Event, writes: list[int]) -> None:
    """Note the run's distinct answers at every checkpoint write (kill loop targets)."""
    last = checkpoint_signature(home)
    while not done.is_set():
        if (now := checkpoint_signature(home)) != last:
            writes.append(stub.ledger.paid)
            last = now
        time.sleep(0.001)
