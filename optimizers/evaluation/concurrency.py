"""How many requests to keep in flight: what the endpoint sustains, learnt as it answers.

No fixed number suits every endpoint. A serving engine that batches (vLLM, llama.cpp's
``llama-server --parallel N``) answers N requests nearly as fast as one, up to its slots;
a server that answers one at a time only queues what it is sent; a hosted API answers
429 past its rate limit. :class:`ConcurrencyLimit` follows the endpoint, additive
increase and multiplicative decrease as TCP does:

- while the limit is in use and answers come as fast as at the best load seen, it grows
  by about one per round of calls;
- when answers slow down (seconds per answer token, smoothed, above
  ``LimitPolicy.slowdown`` times the best seen) the endpoint is queueing: it shrinks
  by a quarter;
- on 429 or 503 (``overloaded``) it halves, once per round.

:class:`LimitGate` is the per-event-loop side that makes callers wait for a slot.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from dataclasses import dataclass

OVERLOAD_STATUS = (429, 503)
"""HTTP answers that mean "too many requests": the limit halves on each round of them."""


@dataclass(frozen=True, kw_only=True)
class LimitPolicy:
    """Bounds and sensitivity of a :class:`ConcurrencyLimit`."""

    initial: int = 2
    floor: int = 1
    ceiling: int = 16
    adaptive: bool = True
    """False: stay at ``initial`` unless the endpoint says it is overloaded (429/503)."""
    slowdown: float = 2.0
    """Smoothed seconds per answer token above this multiple of the best seen: shrink."""
    smoothing: float = 0.2
    """Weight of the newest call in the smoothed latency."""

    def __post_init__(self) -> None:
        if not 1 <= self.floor <= self.initial <= self.ceiling:
            raise ValueError(
                f"need 1 <= floor <= initial <= ceiling, got {self.floor}, {self.initial}, "
                f"{self.ceiling}"
            )
        if self.slowdown <= 1.0:
            raise ValueError(f"slowdown must be > 1, got {self.slowdown}")
        if not 0.0 < self.smoothing <= 1.0:
            raise ValueError(f"smoothing must be in (0, 1], got {self.smoothing}")

    @classmethod
    def fixed(cls, requests: int) -> LimitPolicy:
        """At most ``requests`` in flight; fewer only while the endpoint answers 429/503."""
        return cls(initial=requests, floor=1, ceiling=requests, adaptive=False)

    @classmethod
    def auto(cls) -> LimitPolicy:
        """Start at 2 and follow the endpoint between 1 and 16."""
        return cls()


class ConcurrencyLimit:
    """The number of requests one endpoint may have in flight; shared by every event loop.

    Thread-safe: the app drives runs from several threads against one endpoint.
    """

    def __init__(self, policy: LimitPolicy | None = None) -> None:
        self.policy = policy or LimitPolicy.auto()
        self._lock = threading.Lock()
        self._limit = float(self.policy.initial)
        self._smoothed: float | None = None
        self._best: float | None = None
        self._since_cut = 0
        self.history: deque[int] = deque(maxlen=1000)
        """The limit after each change, oldest first (for reports and benchmarks)."""

    @property
    def current(self) -> int:
        """Requests that may be in flight now."""
        return int(self._limit)

    def completed(self, latency_s: float, answer_tokens: int, in_flight: int) -> None:
        """A paid call took ``latency_s`` while ``in_flight`` calls (itself included) ran."""
        with self._lock:
            self._since_cut += 1
            if not self.policy.adaptive:
                self._grow(in_flight)  # back towards the fixed number after a 429
                return
            cost = latency_s / (1 + max(answer_tokens, 0))
            a = self.policy.smoothing
            self._smoothed = cost if self._smoothed is None else a * cost + (1 - a) * self._smoothed
            self._best = self._smoothed if self._best is None else min(self._best, self._smoothed)
            if self._smoothed > self.policy.slowdown * self._best:
                self._cut(0.75)
            else:
                self._grow(in_flight)

    def overloaded(self) -> None:
        """The endpoint answered 429 or 503: halve, once per round of calls."""
        with self._lock:
            self._cut(0.5)

    def _grow(self, in_flight: int) -> None:
        # Only a limit that binds is evidence the endpoint could take more.
        if in_flight >= self.current and self._limit < self.policy.ceiling:
            self._set(min(self.policy.ceiling, self._limit + 1 / self._limit))

    def _cut(self, factor: float) -> None:
        if self._since_cut < self.current:  # one cut per round: a burst is one signal
            return
        self._since_cut = 0
        self._set(max(float(self.policy.floor), self._limit * factor))

    def _set(self, limit: float) -> None:
        before = self.current
        self._limit = limit
        if self.current != before:
            self.history.append(self.current)


class LimitGate:
    """Callers of one event loop wait here until the shared limit has room for them."""

    def __init__(self, limit: ConcurrencyLimit) -> None:
        self.limit = limit
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    async def acquire(self) -> int:
        """Wait for a slot; returns the calls in flight with this one."""
        while self.in_flight >= self.limit.current:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter
            except asyncio.CancelledError:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
                elif waiter.done() and not waiter.cancelled():
                    self._wake()  # woken, then cancelled: pass the slot on
                raise
        self.in_flight += 1
        return self.in_flight

    def release(self) -> None:
        """Free a slot and wake as many waiters as the (possibly changed) limit admits."""
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        room = self.limit.current - self.in_flight
        while room > 0 and self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                room -= 1
