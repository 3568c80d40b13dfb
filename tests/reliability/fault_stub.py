"""A fault-injecting OpenAI-compatible stub server on loopback, counting at the HTTP level.

It serves ``GET /v1/models`` and non-streaming ``POST /v1/chat/completions``, and
answers deterministically so that optimization means something without a real
model:

- the *task* role (model name ``stub-task``) answers an inline-template request
  ``{prompt}\\n\\nInput: {input}\\nOutput:`` correctly with a probability that grows
  with the number of :data:`KEYWORDS` in the prompt (decided by a hash of prompt
  and input, so the same request always gets the same answer);
- the *optimizer* role (``stub-optimizer``) answers a planner request (one with
  ``tools``) with a tool call choosing an action (a chat-reading request, with a
  fixed reading from :data:`_MESSAGE_KINDS`), a critique request with reasons,
  and any other request with a new instruction between ``<START>`` and ``<END>``,
  picked from :data:`PROPOSALS` by a hash of the request body.

A :class:`FaultPlan` decides which chat requests fail and how: HTTP 500, 429 with
Retry-After, a stall longer than the client's timeout, a truncated body, a
non-JSON body, a connection reset, or the whole endpoint going down (it stops
listening and resets every connection) for a while.

The :class:`Ledger` counts what crossed the wire: requests received, responses
fully delivered, and per request-body hash how many successful (200, complete)
responses were delivered. A *repeated paid call* is the same body answered
successfully twice. A response counts as delivered once it is written to the
socket and drained; a client killed in that very instant may never read it,
so the count of repeated calls errs on the side of too many.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Fault = Literal["500", "429", "stall", "truncate", "non_json", "reset", "down"]
FAULTS: tuple[Fault, ...] = ("500", "429", "stall", "truncate", "non_json", "reset", "down")

TASK_MODEL = "stub-task"
OPTIMIZER_MODEL = "stub-optimizer"

KEYWORDS = ("sentiment", "positive", "negative", "one word", "review")
"""Each one in a prompt makes the task role answer correctly more often."""

_VERBS = ("Classify", "Label", "Decide on", "Identify", "Judge", "Determine")
_OBJECTS = (
    "the review",
    "the sentiment of the review",
    "the text",
    "the sentiment",
    "the tone of the review",
    "the opinion in the text",
)
_FORMATS = (
    "",
    " as positive or negative",
    " in one word",
    " with one word: positive or negative",
    ", answering positive or negative",
)
PROPOSALS = tuple(f"{v} {o}{f}." for v in _VERBS for o in _OBJECTS for f in _FORMATS)
"""180 instructions with 0 to 5 keywords: what the optimizer role proposes."""

PLANNER_CHOICES = ("gpo", "gpo", "textgrad", "zopo", "ape", "random")
CRITIQUE = "The instruction does not name the labels.\nIt does not ask for one word."
WRONG_ANSWER = "neutral"
_TASK_REQUEST = re.compile(r"^(?P<prompt>.*)\n\nInput: (?P<input>.*)\nOutput:$", re.DOTALL)


def _hash(*parts: str) -> int:
    return int(hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:12], 16)


def keyword_count(prompt: str) -> int:
    """How many :data:`KEYWORDS` the prompt contains."""
    lowered = prompt.lower()
    return sum(word in lowered for word in KEYWORDS)


def task_answer(prompt: str, text: str, targets: Mapping[str, str]) -> str:
    """The task role's deterministic answer: right with probability 0.1 + 0.18 per keyword."""
    target = targets.get(text)
    if target is None:
        return WRONG_ANSWER
    chance = 0.1 + 0.18 * keyword_count(prompt)
    return target if _hash(prompt, text) % 1000 < chance * 1000 else WRONG_ANSWER


@dataclass(frozen=True, kw_only=True)
class Outage:
    """A lasting fault: from chat request ``start`` on, every request fails with ``kind``
    for ``seconds`` (``"down"``: the endpoint stops listening that long)."""

    start: int
    seconds: float
    kind: Fault


@dataclass(frozen=True, kw_only=True)
class FaultPlan:
    """Which chat requests fail and how: by ordinal (1-based), at random with a seed,
    or all of them for a while (``outage``).

    ``at`` wins over ``probability``; ``"down"`` is only injected where ``at`` or
    ``kinds`` names it. With ``spare_retries``, a request body whose exchange
    already failed is not faulted again (the outage aside): random faults then
    stay transient, as the client's three tries cannot all be drawn to fail. A
    fault drawn for such a request goes to the next one that may fail instead,
    so that every fault drawn is injected whatever the timing.
    """

    at: Mapping[int, Fault] = field(default_factory=dict)
    outage: Outage | None = None
    probability: float = 0.0
    kinds: tuple[Fault, ...] = ("500", "429", "stall", "truncate", "non_json", "reset")
    seed: int = 0
    retry_after_s: float = 1.0
    stall_s: float = 1.5  # longer than the tests' client timeout (1 s)
    down_s: float = 0.5  # shorter than the client's retries (about 1.1 to 1.5 s)
    spare_retries: bool = False

    def __post_init__(self) -> None:
        outage = (self.outage.kind,) if self.outage else ()
        unknown = {*self.at.values(), *self.kinds, *outage} - set(FAULTS)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; expected some of {FAULTS}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"probability must be in [0, 1], got {self.probability}")

    def fault_for(self, ordinal: int) -> Fault | None:
        """The fault injected into chat request number ``ordinal``, if any."""
        if ordinal in self.at:
            return self.at[ordinal]
        if self.probability:
            rng = random.Random(f"{self.seed}:{ordinal}")
            if rng.random() < self.probability:
                return rng.choice(self.kinds)
        return None

    @classmethod
    def every(cls, kinds: Iterable[Fault], *, start: int, gap: int, **options: Any) -> FaultPlan:
        """Each fault of ``kinds`` once, on requests ``start``, ``start + gap``, ..."""
        return cls(at={start + i * gap: kind for i, kind in enumerate(kinds)}, **options)


@dataclass(frozen=True, slots=True)
class Exchange:
    """One chat request and what became of it."""

    ordinal: int
    received: float  # time.monotonic()
    finished: float
    body_sha: str
    role: str
    fault: Fault | None
    ok: bool  # a complete 200 with a chat completion was delivered
    task: tuple[str, str] | None = None  # (prompt, input) of a task-role request


class Ledger:
    """Thread-safe record of every chat exchange (the server thread writes, tests read)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._exchanges: list[Exchange] = []
        self._received = 0
        self._paid: set[str] = set()
        self._delivered = 0
        self._listings: list[float] = []

    def next_ordinal(self) -> int:
        """Count a received chat request; returns its 1-based ordinal."""
        with self._lock:
            self._received += 1
            return self._received

    def record(self, exchange: Exchange) -> None:
        """Store a finished exchange."""
        with self._lock:
            self._exchanges.append(exchange)
            if exchange.ok:
                self._paid.add(exchange.body_sha)
                self._delivered += 1

    def listed(self) -> None:
        """Count a ``GET /models``: every PromptPilot process sends one when it starts."""
        with self._lock:
            self._listings.append(time.monotonic())

    def listings(self) -> list[float]:
        """When each ``GET /models`` arrived (``time.monotonic()``)."""
        with self._lock:
            return list(self._listings)

    @property
    def received(self) -> int:
        """Chat requests received."""
        with self._lock:
            return self._received

    def exchanges(self) -> list[Exchange]:
        """Every finished exchange, in the order they finished."""
        with self._lock:
            return list(self._exchanges)

    @property
    def paid(self) -> int:
        """Distinct request bodies answered successfully: the work done so far."""
        with self._lock:
            return len(self._paid)

    @property
    def delivered(self) -> int:
        """Successful responses fully delivered."""
        with self._lock:
            return self._delivered

    def faults(self) -> Counter[str]:
        """Faults injected, by kind."""
        return Counter(e.fault for e in self.exchanges() if e.fault is not None)

    def repeated(self, since: float = 0.0) -> list[Exchange]:
        """Successful deliveries of a body that had already been answered successfully.

        Only deliveries after ``since`` (a ``time.monotonic()`` value) are
        returned; earlier ones still count as the first answer.
        """
        seen: set[str] = set()
        repeats = []
        for exchange in sorted(self.exchanges(), key=lambda e: e.finished):
            if not exchange.ok:
                continue
            if exchange.body_sha in seen and exchange.finished >= since:
                repeats.append(exchange)
            seen.add(exchange.body_sha)
        return repeats


def _completion(model: str, message: dict[str, Any], ordinal: int, usage_in: int) -> bytes:
    content = message.get("content") or ""
    return json.dumps(
        {
            "id": f"chatcmpl-stub-{ordinal}",
            "object": "chat.completion",
            "created": 0,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if message.get("tool_calls") else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": usage_in,
                "completion_tokens": len(content.split()) + 1,
                "total_tokens": usage_in + len(content.split()) + 1,
            },
        }
    ).encode()


_MESSAGE_KINDS = {
    "finished": {"kind": "feedback", "rule": "sound warmer", "meaning": "a warmer tone"},
    "live": {"kind": "steer", "rule": "keep it under 6 words", "meaning": "shorter prompts"},
}
"""The optimizer role's reading of an unsure chat message, after a run and during one."""


def _tool_call(name: str, arguments: dict[str, Any], body_sha: str) -> dict[str, Any]:
    call = {
        "id": f"call_{body_sha[:12]}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }
    return {"role": "assistant", "content": None, "tool_calls": [call]}


def answer(request: dict[str, Any], targets: Mapping[str, str], body_sha: str) -> dict[str, Any]:
    """The assistant message for a chat request (see the module docstring)."""
    messages = request.get("messages") or []
    last = str(messages[-1].get("content", "")) if messages else ""
    if request.get("model") == TASK_MODEL:
        match = _TASK_REQUEST.match(last)
        text = WRONG_ANSWER
        if match is not None:
            text = task_answer(match.group("prompt"), match.group("input"), targets)
        return {"role": "assistant", "content": text}
    if request.get("tools"):
        name = request["tools"][0]["function"]["name"]
        if name == "MessageKind":  # the chat's reader: one reading per situation
            arguments = _MESSAGE_KINDS["finished" if "has finished" in last else "live"]
            return _tool_call(name, arguments, body_sha)
        action = PLANNER_CHOICES[int(body_sha[:8], 16) % len(PLANNER_CHOICES)]
        arguments = {"action": action, "reason": "the stub planner's choice", "message": ""}
        return _tool_call(name, arguments, body_sha)
    if "reasons why" in last:
        return {"role": "assistant", "content": CRITIQUE}
    proposal = PROPOSALS[int(body_sha[8:16], 16) % len(PROPOSALS)]
    return {"role": "assistant", "content": f"<START>{proposal}<END>"}


def _response(
    status: int,
    body: bytes,
    *,
    content_type: str = "application/json",
    extra: Mapping[str, str] | None = None,
    length: int | None = None,
) -> bytes:
    reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error"}
    headers = {
        "Content-Type": content_type,
        "Content-Length": str(len(body) if length is None else length),
        **(extra or {}),
    }
    head = f"HTTP/1.1 {status} {reason.get(status, 'Error')}\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in headers.items()
    )
    return (head + "\r\n").encode() + body


class FaultStub:
    """The stub server, on its own event loop in a daemon thread; bind 127.0.0.1 only.

    ``targets`` maps each task input to its correct answer. ``latency_s`` is how
    long every chat answer takes, like a (very fast) model.
    """

    def __init__(
        self,
        targets: Mapping[str, str],
        *,
        plan: FaultPlan | None = None,
        latency_s: float = 0.01,
        port: int = 0,
    ) -> None:
        self.targets = dict(targets)
        self.plan = plan or FaultPlan()
        self.latency_s = latency_s
        self.port = port
        self.ledger = Ledger()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._revive: asyncio.TimerHandle | None = None
        self._outage_since: float | None = None
        self._failed: set[str] = set()  # bodies of failed exchanges (``spare_retries``)
        self._deferred: list[Fault] = []  # faults drawn for spared requests, to inject next

    # ------------------------------------------------------------------ lifecycle

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def up(self) -> bool:
        """True while the endpoint listens."""
        return self._server is not None

    def start(self) -> FaultStub:
        """Start listening (on a free port unless one was given)."""
        self._thread.start()
        self._call(self._listen())
        return self

    def stop(self) -> None:
        """Stop for good."""
        self._call(self._down(None))
        self._call(self._cancel_all())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    async def _cancel_all(self) -> None:
        tasks = [t for t in asyncio.all_tasks(self._loop) if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def kill(self) -> None:
        """Go down now, as a killed server: stop listening, reset every connection."""
        self._call(self._down(None))

    def revive(self) -> None:
        """Listen again on the same port."""
        self._call(self._listen())

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    async def _listen(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._serve, "127.0.0.1", self.port, reuse_address=True
            )
            self.port = self._server.sockets[0].getsockname()[1]

    async def _down(self, seconds: float | None) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            _reset(writer)
        if seconds is not None:
            if self._revive is not None:
                self._revive.cancel()
            self._revive = self._loop.call_later(
                seconds, lambda: self._loop.create_task(self._listen())
            )

    # ------------------------------------------------------------------ serving

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, path = lines[0].split(" ")[:2]
                headers = {
                    k.strip().lower(): v.strip()
                    for k, v in (line.split(":", 1) for line in lines[1:] if ":" in line)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if method == "GET" and path.rstrip("/").endswith("/models"):
                    self.ledger.listed()
                    listing = {"object": "list", "data": [
                        {"id": m, "object": "model"} for m in (TASK_MODEL, OPTIMIZER_MODEL)
                    ]}  # fmt: skip
                    writer.write(_response(200, json.dumps(listing).encode()))
                    await writer.drain()
                elif method == "POST" and path.endswith("/chat/completions"):
                    if not await self._chat(body, writer):
                        return
                else:
                    writer.write(_response(404, b'{"error": "not found"}'))
                    await writer.drain()
        except (asyncio.IncompleteReadError, OSError):
            return
        finally:
            self._writers.discard(writer)
            if not writer.is_closing():
                writer.close()

    def _outage_fault(self, ordinal: int, now: float) -> Fault | None:
        outage = self.plan.outage
        if outage is None or ordinal < outage.start:
            return None
        if self._outage_since is None:
            self._outage_since = now
        return outage.kind if now < self._outage_since + outage.seconds else None

    @property
    def outage_over(self) -> bool:
        """True once the plan's outage has started and ended (and the endpoint listens)."""
        outage = self.plan.outage
        return (
            outage is not None
            and self._outage_since is not None
            and time.monotonic() >= self._outage_since + outage.seconds
            and self.up
        )

    def _planned_fault(self, ordinal: int, sha: str) -> Fault | None:
        """The plan's fault for this request, sparing (and deferring) retries if asked."""
        fault = self.plan.fault_for(ordinal)
        if not self.plan.spare_retries:
            return fault
        if sha in self._failed:
            if fault is not None:
                self._deferred.append(fault)
            return None
        if fault is None and self._deferred:
            return self._deferred.pop(0)
        return fault

    async def _chat(self, body: bytes, writer: asyncio.StreamWriter) -> bool:
        """Answer one chat request (or fail it); False when the connection is gone."""
        ordinal = self.ledger.next_ordinal()
        received = time.monotonic()
        sha = hashlib.sha256(body).hexdigest()
        fault = self._outage_fault(ordinal, received) or self._planned_fault(ordinal, sha)
        request = json.loads(body)
        role = "task" if request.get("model") == TASK_MODEL else "optimizer"
        task = None
        if role == "task" and request.get("messages"):
            match = _TASK_REQUEST.match(str(request["messages"][-1].get("content", "")))
            task = (match.group("prompt"), match.group("input")) if match else None
        ok = False
        alive = True
        try:
            await asyncio.sleep(self.latency_s)
            if fault is None:
                message = answer(request, self.targets, sha)
                payload = _completion(str(request.get("model")), message, ordinal, len(body) // 4)
                writer.write(_response(200, payload))
                await writer.drain()
                ok = True
            elif fault == "500":
                writer.write(_response(500, b'{"error": {"message": "injected server error"}}'))
                await writer.drain()
            elif fault == "429":
                after = {"Retry-After": f"{self.plan.retry_after_s:g}"}
                error = b'{"error": {"message": "injected rate limit"}}'
                writer.write(_response(429, error, extra=after))
                await writer.drain()
            elif fault == "non_json":
                page = b"<html><body><h1>502 Bad Gateway</h1></body></html>"
                writer.write(_response(200, page, content_type="text/html"))
                await writer.drain()
            elif fault == "truncate":
                message = answer(request, self.targets, sha)
                payload = _completion(str(request.get("model")), message, ordinal, 1)
                writer.write(_response(200, payload[: len(payload) // 2], length=len(payload)))
                await writer.drain()
                alive = False
            elif fault == "stall":
                await asyncio.sleep(self.plan.stall_s)
                alive = False
            elif fault == "reset":
                alive = False
            elif fault == "down":
                alive = False
                outage = self.plan.outage
                lasting = outage is not None and outage.kind == "down" and ordinal >= outage.start
                await self._down(outage.seconds if lasting else self.plan.down_s)
        except OSError:
            ok, alive = False, False
        finally:
            if not ok:
                self._failed.add(sha)
            self.ledger.record(
                Exchange(ordinal, received, time.monotonic(), sha, role, fault, ok, task)
            )
        if not alive:
            _reset(writer)
        return alive


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close a connection with a TCP reset, as a crashed server would."""
    with contextlib.suppress(OSError):
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()
