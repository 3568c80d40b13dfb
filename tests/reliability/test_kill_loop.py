"""kill -9 of the PromptPilot process at random points; every run resumes to the same result.

A *chain* is one run (``promptpilot optimize --run-id k``) killed with SIGKILL at a
series of seeded random points, each kill followed by ``promptpilot runs resume
k`` (or, if the run was killed before it was even registered, the same
``optimize`` command again), until a process finishes. Kill points are of three
kinds, from very early to late in the run:

- ``startup``: at a random moment of the process's start (imports, loading the
  embedder, restoring the checkpoint), before it pays for anything new;
- ``response``: 0-20 ms after the stub delivered the N-th distinct answer of the
  run (while answers are stored, scores recorded and steps checkpointed);
- ``checkpoint``: once N distinct answers are in, the instant the checkpoint
  file changes (during or right after a checkpoint write).

Checked against the fault-free run of the same seed: the same best prompt,
scores and trajectory; the same set of paid request bodies; no completed
evaluation lost (a prompt's dev or test evaluation whose every answer was
delivered before a kill, with any of them paid again after it). A *repeated
paid call* is a request body the stub answered successfully twice. The only
repeats allowed are calls in flight at a kill: received by the server before
the kill (so paid, on a real endpoint), but not yet stored by the process when
it died. No process can keep an answer it never got; they are counted and
reported.

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
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pytest

from agent.runs import checkpoint_path, runs_dir
from tests.reliability.fault_stub import Exchange, FaultStub
from tests.reliability.scenario import (
    ROOT,
    Reference,
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
    pytest.mark.timeout(0 if SOAK else 900),  # CI: about 2 minutes on an idle 2-core machine
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
    kills: list[Kill] = field(default_factory=list)
    processes: int = 0
    restarts: int = 0  # killed before it was registered: `optimize` again
    missed: int = 0  # the process finished before the point's trigger
    report: dict[str, Any] | None = None


def plan(rng: random.Random, n: int, answers: int) -> list[KillPoint]:
    """``n`` kill points spread over a run of ``answers`` distinct answers, early to late."""
    targets = sorted(rng.randint(1, answers - 2) for _ in range(n))
    points = []
    for i, target in enumerate(targets):
        kind: KillKind = "response" if i == 0 else rng.choice(("startup", "response", "checkpoint"))
        points.append(KillPoint(kind, target, rng.uniform(0.05, 1.0), rng.uniform(0.0, 0.02)))
    return points


def _checkpoint_signature(home: Path) -> tuple:
    base = checkpoint_path(home)
    paths = [base, *(base.with_name(base.name + s) for s in ("-wal", "-journal"))]
    signature = []
    for path in paths:
        try:
            stat = path.stat()
        except FileNotFoundError:
            signature.append(None)
            continue
        signature.append((stat.st_mtime_ns, stat.st_size))
    return tuple(signature)


def run_chain(
    optimizer: str,
    seed: int,
    points: list[KillPoint],
    stub: FaultStub,
    home: Path,
    abort: threading.Event,
) -> Chain:
    """Kill the run at each point, resume it, until it finishes; returns the :class:`Chain`."""
    chain = Chain(optimizer, seed, stub)
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
    if (runs_dir(home) / "k" / "run.json").exists():
        args = command("runs", "resume", "k", "--home", str(home), "--json")
    else:  # killed before it was registered: what a person would do is run it again
        args = command(*cli_args(chain.optimizer), "--home", str(home), "--run-id", "k")
        chain.restarts += chain.processes > 0
    out = home.parent / f"{home.name}-{chain.processes}.out"
    err = home.parent / f"{home.name}-{chain.processes}.err"
    env = environment(chain.stub)
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(args, stdout=stdout, stderr=stderr, env=env, cwd=ROOT)
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
    """Kill ``process`` at ``point``; (whether the kill landed, its time to a first answer)."""
    stub = chain.stub
    started = time.monotonic()
    delivered_before = stub.ledger.delivered
    first_answer: float | None = None
    armed_at: float | None = None
    signature = _checkpoint_signature(home)
    while process.poll() is None:
        now = time.monotonic()
        if abort.is_set() or now - started > PROCESS_TIMEOUT_S:
            raise RuntimeError(f"chain {chain.optimizer}/{chain.seed} stopped (aborted or hung)")
        if first_answer is None and stub.ledger.delivered > delivered_before:
            first_answer = now - started
        if point is not None and _due(point, stub, home, now - started, startup_s, signature):
            armed_at = armed_at or now
            if point.kind != "response" or now - armed_at >= point.delay_s:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
                chain.kills.append(Kill(point.kind, now, stub.ledger.paid, now - started))
                return True, first_answer
        time.sleep(0.001)
    return False, first_answer


def _due(
    point: KillPoint,
    stub: FaultStub,
    home: Path,
    age_s: float,
    startup_s: float | None,
    signature: tuple,
) -> bool:
    if point.kind == "startup":
        return age_s >= point.fraction * (startup_s if startup_s is not None else 3.0)
    if stub.ledger.paid < point.target:
        return False
    return point.kind == "response" or _checkpoint_signature(home) != signature


def _answers(chain: Chain) -> list[Exchange]:
    return sorted((e for e in chain.stub.ledger.exchanges() if e.ok), key=lambda e: e.finished)


def repeats(chain: Chain) -> list[tuple[float, Kill | None]]:
    """Each repeated answer: the kill it was in flight at, and how long it had been.

    A call is *in flight* at a kill when the server received it before the kill
    and the process died before storing the answer: still being answered, or
    answered an instant before. The window is from the server receiving the
    first request to the kill (``inf`` when no kill explains the repeat).
    """
    first: dict[str, Exchange] = {}
    found = []
    for exchange in _answers(chain):
        if exchange.body_sha not in first:
            first[exchange.body_sha] = exchange
            continue
        sent = first[exchange.body_sha].received
        kills = [k for k in chain.kills if sent <= k.at <= exchange.received]
        kill = min(kills, key=lambda k: k.at) if kills else None
        found.append((kill.at - sent if kill else float("inf"), kill))
    return found


def lost_evaluations(chain: Chain) -> int:
    """Evaluations complete before a kill with an answer paid again after it."""
    splits = split_inputs()
    bodies: dict[tuple[str, str], dict[str, float]] = {}  # (prompt, split) -> body -> first
    for exchange in _answers(chain):
        if exchange.task is None:
            continue
        prompt, text = exchange.task
        for name, inputs in splits.items():
            if text in inputs:
                answered = bodies.setdefault((prompt, name), {})
                answered.setdefault(exchange.body_sha, exchange.finished)
    repeated_at = {e.body_sha: e.finished for e in chain.stub.ledger.repeated()}
    lost = 0
    for (_, name), answered in bodies.items():
        if len(answered) < len(splits[name]):
            continue
        complete = max(answered.values())
        kills_after = [k.at for k in chain.kills if k.at >= complete]
        if kills_after and any(repeated_at.get(b, 0.0) > min(kills_after) for b in answered):
            lost += 1
    return lost


def figures(chains: list[Chain]) -> dict[str, Any]:
    """What the loop measured, for the reliability doc."""
    found = [item for chain in chains for item in repeats(chain)]
    windows = [window for window, _ in found]
    return {
        "chains": len(chains),
        "kills": sum(len(c.kills) for c in chains),
        "kills_by_kind": dict(Counter(k.kind for c in chains for k in c.kills)),
        "processes": sum(c.processes for c in chains),
        "restarted_unregistered": sum(c.restarts for c in chains),
        "missed_points": sum(c.missed for c in chains),
        "answers_delivered": sum(c.stub.ledger.delivered for c in chains),
        "distinct_answers": sum(c.stub.ledger.paid for c in chains),
        "repeated_calls": len(found),
        "kills_followed_by_a_repeat": len({id(kill) for _, kill in found if kill is not None}),
        "repeat_sent_before_kill_max_s": round(max(windows), 3) if windows else None,
        "lost_evaluations": sum(lost_evaluations(c) for c in chains),
    }


def check(chain: Chain, expected: Reference) -> dict[str, Any]:
    """Assert what a finished chain must show; returns its figures."""
    where = f"chain {chain.optimizer}/{chain.seed}"
    assert chain.report is not None, where
    assert essentials(chain.report) == essentials(expected.report), where
    paid = {e.body_sha for e in chain.stub.ledger.exchanges() if e.ok}
    assert paid == expected.bodies, where  # the same calls, none missing, none extra
    assert lost_evaluations(chain) == 0, where
    windows = [window for window, _ in repeats(chain)]
    assert all(w <= IN_FLIGHT_S for w in windows), (where, windows)  # only calls in flight
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
                    points = plan(rng, n, len(expected[optimizer].bodies))
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
