"""Faults of the LLM endpoint: a run still ends with the fault-free result, paying nothing twice.

Transient faults (each kind four times during a run, then all kinds mixed at
random) are retried and leave no trace in the result. A lasting outage stops
the run cleanly (checkpointed, status "stopped: endpoint unavailable", nothing
scored from the failures), and resuming it once the endpoint is back completes
it. Every case is compared with the fault-free run of the same seed, and
repeated paid calls are counted by the stub at the HTTP level.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time

import pytest

from memory.run_registry import FolderRegistry
from optimizers.evaluation.chat_calls import EndpointUnavailable
from tests.reliability.fault_stub import FaultPlan, FaultStub, Outage
from tests.reliability.scenario import (
    ROOT,
    cli_args,
    command,
    environment,
    essentials,
    run_in_process,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

TRANSIENT = ("500", "429", "stall", "truncate", "non_json", "reset", "down")
LASTING = ("500", "429", "stall", "non_json", "down")
OUTAGE_S = {"stall": 7.0}  # three timed-out tries take about 4.5 s; the others 1.5-2.5 s
OUTAGE_DEFAULT_S = 4.0  # a margin of 2.5 s for a loaded machine
PER_RUN = 4
RANDOM_P, RANDOM_SEED = 0.15, 283  # each kind drawn at least twice in requests 1-100


def settle(stub: FaultStub, count: int, timeout: float = 5.0) -> None:
    """Wait until ``count`` exchanges are recorded (a stalled one ends after the run may)."""
    deadline = time.monotonic() + timeout
    while len(stub.ledger.exchanges()) < count and time.monotonic() < deadline:
        time.sleep(0.05)


def paid_bodies(stub: FaultStub) -> set[str]:
    return {e.body_sha for e in stub.ledger.exchanges() if e.ok}


def show(case: str, stub: FaultStub, **more: object) -> None:
    """The figures of a case (``pytest -s`` prints them; docs/RELIABILITY.md quotes them)."""
    ledger = stub.ledger
    figures = {"faults": dict(ledger.faults()), "requests": ledger.received}
    figures |= {"answers": ledger.delivered, "repeated": len(ledger.repeated()), **more}
    print(f"\n{case}: {figures}")


@pytest.mark.parametrize("kind", TRANSIENT)
def test_transient_faults_are_retried_and_change_nothing(
    kind, make_stub, reference, bundled_embedder, tmp_path
):
    expected = reference("auto")
    stub = make_stub(FaultPlan.every([kind] * PER_RUN, start=3, gap=23))
    report = asyncio.run(
        run_in_process(stub, tmp_path, "r", "auto", bundled_embedder, resume=False)
    )
    settle(stub, stub.ledger.received)

    assert essentials(report) == essentials(expected.report)
    assert stub.ledger.faults() == {kind: PER_RUN}
    assert stub.ledger.repeated() == []
    assert paid_bodies(stub) == expected.bodies  # the same calls, each paid once
    assert FolderRegistry(tmp_path).load("r")["status"] == "finished"
    show(f"transient {kind}", stub)
    if kind == "429":  # the retry honoured Retry-After (1 s)
        exchanges = stub.ledger.exchanges()
        for limited in (e for e in exchanges if e.fault == "429"):
            retry = min(
                (
                    e
                    for e in exchanges
                    if e.body_sha == limited.body_sha and e.received > limited.received
                ),
                key=lambda e: e.received,
            )
            assert retry.received - limited.finished >= 0.95


def test_random_faults_of_every_kind_change_nothing(
    make_stub, reference, bundled_embedder, tmp_path
):
    """Faults drawn at random (seeded, about one request in seven), every kind mixed.

    A body that failed once is spared after (``spare_retries``; its fault goes
    to the next request): three draws failing one request would be an outage,
    which the tests below cover.
    """
    expected = reference("auto")
    plan = FaultPlan(probability=RANDOM_P, kinds=TRANSIENT, seed=RANDOM_SEED, spare_retries=True)
    stub = make_stub(plan)
    report = asyncio.run(
        run_in_process(stub, tmp_path, "r", "auto", bundled_embedder, resume=False)
    )
    settle(stub, stub.ledger.received)

    assert essentials(report) == essentials(expected.report)
    assert set(stub.ledger.faults()) == set(TRANSIENT)  # the seed draws each kind twice or more
    assert stub.ledger.repeated() == []
    assert paid_bodies(stub) == expected.bodies
    assert FolderRegistry(tmp_path).load("r")["status"] == "finished"
    show(f"random, p={RANDOM_P}, seed {RANDOM_SEED}", stub)


@pytest.mark.parametrize("kind", LASTING)
def test_a_lasting_outage_stops_the_run_cleanly_and_resume_completes_it(
    kind, make_stub, reference, bundled_embedder, tmp_path
):
    expected = reference("auto")
    outage = Outage(start=40, seconds=OUTAGE_S.get(kind, OUTAGE_DEFAULT_S), kind=kind)
    stub = make_stub(FaultPlan(outage=outage))

    with pytest.raises(EndpointUnavailable, match=r"127\.0\.0\.1") as stopped:
        asyncio.run(run_in_process(stub, tmp_path, "r", "auto", bundled_embedder, resume=False))
    record = FolderRegistry(tmp_path).load("r")
    assert record["status"] == "stopped: endpoint unavailable"
    assert record["error"] == str(stopped.value)
    assert "promptpilot runs resume r" in "\n".join(stopped.value.__notes__)
    if kind == "429":
        assert "retry after 1 s" in str(stopped.value)

    deadline = time.monotonic() + 30
    while not stub.outage_over and time.monotonic() < deadline:
        time.sleep(0.1)
    report = asyncio.run(run_in_process(stub, tmp_path, "r", "auto", bundled_embedder, resume=True))

    assert essentials(report) == essentials(expected.report)
    assert stub.ledger.faults()[kind] >= 1
    assert stub.ledger.repeated() == []
    assert paid_bodies(stub) == expected.bodies
    assert FolderRegistry(tmp_path).load("r")["status"] == "finished"
    show(f"lasting {kind}", stub, stopped=1, resumed=1)


def test_a_single_optimizer_run_stopped_by_an_outage_resumes_too(
    make_stub, reference, bundled_embedder, tmp_path
):
    expected = reference("gpo")
    stub = make_stub(FaultPlan(outage=Outage(start=30, seconds=OUTAGE_DEFAULT_S, kind="500")))
    with pytest.raises(EndpointUnavailable):
        asyncio.run(run_in_process(stub, tmp_path, "g", "gpo", bundled_embedder, resume=False))
    assert FolderRegistry(tmp_path).load("g")["status"] == "stopped: endpoint unavailable"
    while not stub.outage_over:
        time.sleep(0.1)
    report = asyncio.run(run_in_process(stub, tmp_path, "g", "gpo", bundled_embedder, resume=True))
    assert essentials(report) == essentials(expected.report)
    assert stub.ledger.repeated() == []
    assert paid_bodies(stub) == expected.bodies
    show("lasting 500, gpo", stub, stopped=1, resumed=1)


def test_cli_endpoint_killed_mid_run_exits_3_and_runs_resume_completes_it(
    make_stub, reference, tmp_path
):
    """The endpoint dies (killed, not flaky) mid-run; brought back later, the run resumes."""
    expected = reference("auto")
    stub = make_stub()
    env = environment(stub)
    home = str(tmp_path)
    victim = subprocess.Popen(
        command(*cli_args("auto"), "--home", home, "--run-id", "k"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while stub.ledger.delivered < 50 and time.monotonic() < deadline:
        assert victim.poll() is None, victim.communicate()[1][-2000:]
        time.sleep(0.01)
    stub.kill()
    _, stderr = victim.communicate(timeout=120)
    assert victim.returncode == 3, stderr[-2000:]
    assert "is unavailable" in stderr
    assert "promptpilot runs resume k" in stderr
    assert FolderRegistry(tmp_path).load("k")["status"] == "stopped: endpoint unavailable"

    stub.revive()
    resumed = subprocess.run(
        command("runs", "resume", "k", "--home", home, "--json"),
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert essentials(json.loads(resumed.stdout)) == essentials(expected.report)
    assert stub.ledger.repeated() == []
    assert paid_bodies(stub) == expected.bodies
    assert FolderRegistry(tmp_path).load("k")["status"] == "finished"
    show("endpoint killed, CLI", stub, stopped=1, resumed=1)
