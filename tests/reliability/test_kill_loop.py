"""kill -9 of the PromptPilot process at random points; every run resumes to the same result.

A *chain* is one run (``promptpilot optimize --run-id k``) killed with SIGKILL at a
series of seeded random points, each kill followed by ``promptpilot runs resume
k`` (or, if the run was killed before it was even registered, the same
``optimize`` command again), until a process finishes. Kill points are of three
kinds, from very early to late in the run:

- ``startup``: at a random moment of the process's start (imports, loading the
  embedder, restoring the checkpoint), before it pays for anything new;
- ``response``: 0-20 ms after the process got an answer, once the run has N
  distinct answers (while answers are stored, scores recorded and steps
  checkpointed);
- ``checkpoint``: once the run has N distinct answers, the instant the
  checkpoint file changes (during or right after a checkpoint write).

A point whose moment does not come (the process got an answer before the
start-up moment; no checkpoint was written where the reference run wrote
one) lands as a ``response`` kill instead, so that the planned points land.

Checked against the fault-free run of the same seed: the same best prompt,
scores and trajectory; the same set of paid request bodies; no repeated call
but those in flight at a kill, and so no completed evaluation lost. A
*repeated paid call* is a request body the stub answered successfully twice.
A call is *in flight* at a kill when its process sent it shortly before being
killed and died before storing the answer (so paid, on a real endpoint, and
asked again by the resumed process): no process can keep an answer it never
got. Those are counted and reported, with the evaluations they cut.

CI runs two chains side by side (13 planned points for ``--optimizer auto``, 9
for ``gpo``; at least 20 must land). The soak mode runs more chains, two at a
time, until N points landed:

    PROMPTPILOT_SOAK=100 nice -n 10 .venv/bin/python -m pytest \\
        tests/reliability/test_kill_loop.py -s -p no:cacheprovider
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from memory.run_registry import FolderRegistry
from tests.reliability.fault_stub import Exchange, FaultStub
from tests.reliability.scenario import (
    ROOT,
    Reference,
    checkpoint_signature,
    cli_args,
    command,
    environment,
    essentials,
    split_inputs,
)

SOAK = int(os.environ.get("PROMPTPILOT_SOAK") or 0)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.timeout(0 if SOAK else 900),  # CI: about 3.3 CPU-minutes, 5-6 min when loaded
]
CHAIN_POINTS = {"auto": 13, "gpo": 9}
CI_MIN_KILLS = 20
IN_FLIGHT_S = 2.0
"""A repeated call must have reached the server this shortly before a kill (in flight)."""
PROCESS_TIMEOUT_S = 600

KillKind = Literal["startup", "response", "checkpoint"]


@dataclass(frozen=True)
class KillPoint:
    """When to kill the next process of a chain."""

    kind: KillKind
    target: int  # distinct answers of the run delivered before the trigger arms
    fraction: float  # of the previous process's start-up time (``startup``)
    delay_s: float  # after the delivery (``response``)
    writes: tuple[int, ...] = ()  # the reference run's distinct answers at each checkpoint write

    def fallback(self, paid: int) -> int:
        """Distinct answers at which a ``checkpoint`` kill armed at ``paid`` lands anyway.

        Three answers after the reference run's next checkpoint write: always
        ahead of ``paid``, so the fallback needs answers this process paid for.
        """
        return next((w for w in self.writes if w >= paid), paid) + 3


@dataclass(frozen=True)
class Kill:
    """A kill that landed."""

    kind: KillKind
    at: float  # time.monotonic()
    paid: int  # distinct answers delivered when it landed
    process_age_s: float


@dataclass
class Chain:
    """One run killed again and again, then finished."""

    optimizer: str
    seed: int
    stub: FaultStub
    points: list[KillPoint] = field(default_factory=list)  # planned; kills[i] came of points[i]
    kills: list[Kill] = field(default_factory=list)  # kills[i] ended process i
    starts: list[float] = field(default_factory=list)  # when process i was started
    processes: int = 0
    restarts: int = 0  # killed before it was registered: `optimize` again
    missed: int = 0  # the process finished before the point's trigger
    report: dict[str, Any] | None = None


def plan(rng: random.Random, n: int, reference: Reference) -> list[KillPoint]:
    """``n`` kill points spread over the reference run's distinct answers, early to late.

    A ``checkpoint`` point is armed at its target and expected at the reference
    run's next checkpoint write (:meth:`KillPoint.fallback`); a target after the
    reference's last write well before the end makes it a ``response`` point.
    """
    answers, writes = len(reference.bodies), reference.checkpoints
    targets = sorted(rng.randint(1, answers - 3) for _ in range(n))
    points = []
    for i, target in enumerate(targets):
        kind: KillKind = "response" if i == 0 else rng.choice(("startup", "response", "checkpoint"))
        if kind == "checkpoint" and not any(target <= w <= answers - 3 for w in writes):
            kind = "response"
        fraction, delay_s = rng.uniform(0.05, 1.0), rng.uniform(0.0, 0.02)
        points.append(KillPoint(kind, target, fraction, delay_s, writes))
    return points


def run_chain(
    optimizer: str,
    seed: int,
    points: list[KillPoint],
    stub: FaultStub,
    home: Path,
    abort: threading.Event,
) -> Chain:
    """Kill the run at each point, resume it, until it finishes; returns the :class:`Chain`."""
    chain = Chain(optimizer, seed, stub, list(points))
    startup_s: float | None = None
    pending = list(points)
    while True:
        point = pending.pop(0) if pending else None
        process, out, err = _start(chain, home)
        try:
            landed, first_answer = _watch(process, point, chain, home, startup_s, abort)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        startup_s = first_answer if first_answer is not None else startup_s
        if landed:
            continue
        assert process.returncode == 0, err.read_text()[-3000:]
        chain.missed += point is not None
        chain.report = json.loads(out.read_text())
        return chain


def _start(chain: Chain, home: Path) -> tuple[subprocess.Popen, Path, Path]:
    """The next process of the chain: resume the run, or start it if it was never registered."""
    if (FolderRegistry(home).folder / "k" / "run.json").exists():
        args = command("runs", "resume", "k", "--home", str(home), "--json")
    else:  # killed before it was registered: what a person would do is run it again
        args = command(*cli_args(chain.optimizer), "--home", str(home), "--run-id", "k")
        chain.restarts += chain.processes > 0
    out = home.parent / f"{home.name}-{chain.processes}.out"
    err = home.parent / f"{home.name}-{chain.processes}.err"
    env = environment(chain.stub)
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(args, stdout=stdout, stderr=stderr, env=env, cwd=ROOT)
    chain.starts.append(time.monotonic())
    chain.processes += 1
    return process, out, err


def _watch(
    process: subprocess.Popen,
    point: KillPoint | None,
    chain: Chain,
    home: Path,
    startup_s: float | None,
    abort: threading.Event,
) -> tuple[bool, float | None]:
    """Kill ``process`` at ``point``; (whether the kill landed, its time to a first answer).

    A ``response`` kill needs an answer this process paid for. Fallbacks keep a
    point from missing when its moment does not come: a ``startup`` kill lands
    on the process's first new answer if that comes first, a ``checkpoint`` kill
    at its fallback if no checkpoint was written by then; both are then
    recorded as ``response`` kills.
    """
    stub = chain.stub
    started = time.monotonic()
    delivered_before = stub.ledger.delivered
    first_answer: float | None = None
    armed: tuple[float, tuple[Any, ...], int] | None = None  # when, checkpoint file, fallback
    while process.poll() is None:
        now = time.monotonic()
        if abort.is_set() or now - started > PROCESS_TIMEOUT_S:
            raise RuntimeError(f"chain {chain.optimizer}/{chain.seed} stopped (aborted or hung)")
        new = stub.ledger.delivered - delivered_before
        if first_answer is None and new:
            first_answer = now - started
        kind: KillKind | None = None
        if point is None:
            pass
        elif point.kind == "startup":
            if now - started >= point.fraction * (startup_s or 3.0):
                kind = "startup"
            elif new:
                kind = "response"
        elif stub.ledger.paid >= point.target:
            armed = armed or (now, checkpoint_signature(home), point.fallback(stub.ledger.paid))
            if point.kind == "response":
                kind = "response" if new and now - armed[0] >= point.delay_s else None
            elif checkpoint_signature(home) != armed[1]:
                kind = "checkpoint"
            elif stub.ledger.paid >= armed[2]:
                kind = "response"
        if kind is not None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            chain.kills.append(Kill(kind, now, stub.ledger.paid, now - started))
            return True, first_answer
        time.sleep(0.001)
    return False, first_answer


def _answers(chain: Chain) -> list[Exchange]:
    return sorted((e for e in chain.stub.ledger.exchanges() if e.ok), key=lambda e: e.finished)


@dataclass(frozen=True)
class Repeat:
    """An answer paid for twice, and whether a kill excuses it."""

    body_sha: str
    sent: float  # when the server received the first request
    again: float  # ... and the repeat
    window: float  # from the first request to its sender's kill (inf: not killed in between)

    @property
    def in_flight(self) -> bool:
        """The call was under way when its process was killed (the one excusable repeat)."""
        return self.window <= IN_FLIGHT_S


def _sender(chain: Chain) -> Callable[[float], int]:
    """Which process of the chain sent a request the server received at a given time.

    Every process starts with ``GET /models`` (checking the endpoint) before any
    chat request, so a chat request received after a kill but before the next
    process's ``GET`` was sent by the killed process (it arrived late).
    """
    listings = chain.stub.ledger.listings()
    greeted = [
        min((t for t in listings if t >= start), default=float("inf")) for start in chain.starts
    ]

    def sender(received: float) -> int:
        return max((i for i, t in enumerate(greeted) if t <= received), default=0)

    return sender


def repeats(chain: Chain) -> list[Repeat]:
    """Every answer paid for again, with how long before its sender's kill it was sent.

    A call is *in flight* at a kill when its process sent it shortly before it
    was killed and died before storing the answer: still being answered, or
    answered an instant before. A body asked again by the same process, or
    long after it was answered, is not excused.
    """
    sender = _sender(chain)
    first: dict[str, Exchange] = {}
    found = []
    for exchange in _answers(chain):
        if exchange.body_sha not in first:
            first[exchange.body_sha] = exchange
            continue
        sent = first[exchange.body_sha].received
        by, again_by = sender(sent), sender(exchange.received)
        killed = again_by > by and by < len(chain.kills)
        window = max(0.0, chain.kills[by].at - sent) if killed else float("inf")
        found.append(Repeat(exchange.body_sha, sent, exchange.received, window))
    return found


def evaluations(chain: Chain) -> list[dict[str, float]]:
    """Each complete dev or test evaluation of a prompt: its answers' first deliveries."""
    splits = split_inputs()
    groups: dict[tuple[str, str], dict[str, float]] = {}
    for exchange in _answers(chain):
        if exchange.task is None:
            continue
        prompt, text = exchange.task
        for name, inputs in splits.items():
            if text in inputs:
                answered = groups.setdefault((prompt, name), {})
                answered.setdefault(exchange.body_sha, exchange.finished)
    return [a for (_, name), a in groups.items() if len(a) == len(splits[name])]


def lost_evaluations(chain: Chain) -> int:
    """Evaluations whose answers were all delivered, then one paid again though not in flight.

    An answer in flight at a kill was never stored, so the evaluation it belongs
    to was not complete for the process: finishing it after the resume costs
    that answer again (a repeated call), not the evaluation.
    """
    unexplained = {r.body_sha: r.again for r in repeats(chain) if not r.in_flight}
    return sum(
        any(unexplained.get(body, 0.0) > max(answered.values()) for body in answered)
        for answered in evaluations(chain)
    )


def cut_evaluations(chain: Chain) -> int:
    """Evaluations with answers in flight at a kill (finished after the resume)."""
    in_flight = {r.body_sha for r in repeats(chain) if r.in_flight}
    return sum(bool(in_flight & answered.keys()) for answered in evaluations(chain))


def figures(chains: list[Chain]) -> dict[str, Any]:
    """What the loop measured, for the reliability doc."""
    found = [r for chain in chains for r in repeats(chain)]
    return {
        "chains": len(chains),
        "kills": sum(len(c.kills) for c in chains),
        "planned_by_kind": dict(Counter(p.kind for c in chains for p in c.points)),
        "kills_by_kind": dict(Counter(k.kind for c in chains for k in c.kills)),
        "landed_as_planned_by_kind": dict(
            Counter(
                p.kind
                for c in chains
                for p, k in zip(c.points, c.kills, strict=False)
                if p.kind == k.kind
            )
        ),
        "processes": sum(c.processes for c in chains),
        "restarted_unregistered": sum(c.restarts for c in chains),
        "missed_points": sum(c.missed for c in chains),
        "answers_delivered": sum(c.stub.ledger.delivered for c in chains),
        "distinct_answers": sum(c.stub.ledger.paid for c in chains),
        "repeated_calls": len(found),
        "repeated_in_flight": sum(r.in_flight for r in found),
        "repeat_window_max_s": round(max(r.window for r in found), 3) if found else None,
        "evaluations_cut_by_a_kill": sum(cut_evaluations(c) for c in chains),
        "evaluations_lost": sum(lost_evaluations(c) for c in chains),
    }


def check(chain: Chain, expected: Reference) -> dict[str, Any]:
    """Assert what a finished chain must show; returns its figures."""
    where = f"chain {chain.optimizer}/{chain.seed}"
    assert chain.report is not None, where
    assert essentials(chain.report) == essentials(expected.report), where
    paid = {e.body_sha for e in chain.stub.ledger.exchanges() if e.ok}
    assert paid == expected.bodies, where  # the same calls, none missing, none extra
    unexplained = [r for r in repeats(chain) if not r.in_flight]
    assert unexplained == [], (where, unexplained)  # only calls in flight at a kill
    assert lost_evaluations(chain) == 0, where
    return figures([chain])


def test_kill_9_at_random_points_loses_nothing(make_stub, reference, tmp_path):
    expected = {name: reference(name) for name in CHAIN_POINTS}  # made before the threads
    wanted = SOAK or CI_MIN_KILLS
    chains: list[Chain] = []
    abort = threading.Event()
    with ThreadPoolExecutor(max_workers=2) as pool:
        try:
            seed = 0
            while sum(len(c.kills) for c in chains) < wanted:
                jobs = {}
                for optimizer, n in CHAIN_POINTS.items():
                    rng = random.Random(f"kill-loop:{optimizer}:{seed}")
                    points = plan(rng, n, expected[optimizer])
                    home = tmp_path / f"{optimizer}-{seed}"
                    args = (optimizer, seed, points, make_stub(), home, abort)
                    jobs[pool.submit(run_chain, *args)] = optimizer
                for job in as_completed(jobs):
                    chain = job.result()
                    print(
                        f"\n{chain.optimizer}/{chain.seed}:",
                        json.dumps(check(chain, expected[chain.optimizer])),
                        flush=True,
                    )
                    chains.append(chain)
                seed += 1
                if not SOAK:
                    break
        finally:
            abort.set()  # a failed chain or a timeout stops the other one at once

    measured = figures(chains)
    print("\nkill loop:", json.dumps(measured))
    if path := os.environ.get("PROMPTPILOT_SOAK_REPORT"):
        Path(path).write_text(json.dumps(measured, indent=2) + "\n")
    assert measured["kills"] >= wanted
