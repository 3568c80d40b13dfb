"""The concurrency limit follows the endpoint: grows while answers keep pace, backs off."""

from __future__ import annotations

import asyncio
import statistics
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from langchain_core.messages import HumanMessage

from agent.llm.models import make_backend
from agent.llm.settings import ModelSettings
from optimizers.evaluation.chat_calls import ChatBackend, ChatCaller
from optimizers.evaluation.concurrency import ConcurrencyLimit, LimitGate, LimitPolicy
from tests.fakes import RuleChatModel

SERVICE_S = 0.05  # one answer token's time on an idle endpoint


def settle(limit: ConcurrencyLimit, latency_at, calls: int = 2000) -> list[int]:
    """Drive ``limit`` with calls whose latency depends on the load; the limits seen."""
    seen = []
    for _ in range(calls):
        in_flight = limit.current  # a busy caller: the limit always binds
        limit.completed(latency_at(in_flight), answer_tokens=4, in_flight=in_flight)
        seen.append(limit.current)
    return seen[calls // 2 :]


def serial(in_flight: int) -> float:
    """A server that answers one request at a time: the others wait their turn."""
    return 5 * SERVICE_S * in_flight


def batching(slots: int):
    """A server with ``slots`` parallel slots: as fast as alone until they are full."""
    return lambda in_flight: 5 * SERVICE_S * max(1.0, in_flight / slots)


def test_a_serial_server_keeps_only_a_short_queue():
    seen = settle(ConcurrencyLimit(LimitPolicy.auto()), serial)
    assert min(seen) >= 2
    assert max(seen) <= 5


def test_a_batching_server_gets_at_least_its_slots():
    seen = settle(ConcurrencyLimit(LimitPolicy.auto()), batching(8))
    assert min(seen) >= 8
    assert statistics.mean(seen) > statistics.mean(
        settle(ConcurrencyLimit(LimitPolicy.auto()), batching(2))
    )


def test_the_ceiling_holds_when_the_endpoint_never_slows():
    seen = settle(ConcurrencyLimit(LimitPolicy.auto()), lambda _: SERVICE_S)
    assert max(seen) == LimitPolicy.auto().ceiling == 16


def test_an_idle_limit_does_not_grow():
    limit = ConcurrencyLimit(LimitPolicy.auto())
    for _ in range(500):
        limit.completed(SERVICE_S, answer_tokens=4, in_flight=1)
    assert limit.current == LimitPolicy.auto().initial


def test_429_halves_once_per_round_and_a_fixed_limit_recovers_to_its_number():
    limit = ConcurrencyLimit(LimitPolicy.fixed(8))
    for _ in range(8):
        limit.completed(SERVICE_S, answer_tokens=4, in_flight=8)
    for _ in range(5):  # a burst of 429s is one signal
        limit.overloaded()
    assert limit.current == 4
    for _ in range(500):
        limit.completed(SERVICE_S, answer_tokens=4, in_flight=limit.current)
    assert limit.current == 8  # back to the number asked for, never beyond


def test_policies_refuse_nonsense():
    with pytest.raises(ValueError, match="floor <= initial <= ceiling"):
        LimitPolicy(initial=20, ceiling=16)
    with pytest.raises(ValueError, match="slowdown"):
        LimitPolicy(slowdown=1.0)


async def test_the_gate_never_admits_more_than_the_limit_and_survives_cancellation():
    gate = LimitGate(ConcurrencyLimit(LimitPolicy.fixed(2)))
    peak = 0

    async def call():
        nonlocal peak
        await gate.acquire()
        try:
            peak = max(peak, gate.in_flight)
            await asyncio.sleep(0.01)
        finally:
            gate.release()

    tasks = [asyncio.create_task(call()) for _ in range(12)]
    await asyncio.sleep(0)
    tasks[5].cancel()  # a waiter leaves: the others still get through
    done = await asyncio.gather(*tasks, return_exceptions=True)
    assert peak == 2
    assert sum(isinstance(d, asyncio.CancelledError) for d in done) == 1
    assert gate.in_flight == 0


async def test_the_caller_reports_each_paid_call_to_the_limit():
    limit = ConcurrencyLimit(LimitPolicy.auto())
    backend = ChatBackend(model=RuleChatModel(rule=str.upper), identity={"model": "m"}, limit=limit)
    caller = ChatCaller(backend)
    await asyncio.gather(*(caller.complete([HumanMessage(f"q{i}")]) for i in range(40)))
    assert limit.current > LimitPolicy.auto().initial  # instant answers: it grew


class _RateLimited(BaseHTTPRequestHandler):
    """Answers the first two chat requests 429 (retry at once), then a completion."""

    refusals = 2

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        if _RateLimited.refusals > 0:
            _RateLimited.refusals -= 1
            self._send(429, b'{"error": {"message": "slow down"}}', {"Retry-After": "0"})
            return
        body = (
            b'{"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": '
            b'[{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", '
            b'"content": "ok"}}], "usage": {"prompt_tokens": 1, "completion_tokens": 1, '
            b'"total_tokens": 2}}'
        )
        self._send(200, body, {})

    def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


async def test_429s_the_client_retries_by_itself_still_halve_the_limit():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _RateLimited)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        settings = ModelSettings(
            base_url=f"http://127.0.0.1:{server.server_port}/v1", concurrency=8
        )
        backend = make_backend(settings)
        for _ in range(8):  # a round of calls since the last cut
            backend.limit.completed(SERVICE_S, answer_tokens=1, in_flight=8)
        completion = await ChatCaller(backend).complete([HumanMessage("hi")])
    finally:
        server.shutdown()
    assert completion.text == "ok"  # the client retried past both 429s
    assert backend.limit.current == 4  # and the limit saw them (one cut per round)
