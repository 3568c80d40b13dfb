"""One embedded llama.cpp server for every run of a long-lived process (the app).

``promptpilot optimize`` starts the embedded server for its run and stops it after.
The app serves many runs, one after another or side by side, from many browser
sessions: a server per run would load the model each time and compete for the
same two cores. :class:`SharedServer` starts it on first need and keeps it until
the app stops; :class:`SharedServerRuntime` is a per-run
:class:`~agent.llm.runtime.ModelRuntime` (its own callers, usage counters and cache
connection) whose embedded roles use that server and leave it running.

The embedded server answers one request at a time; the others wait in its queue,
and the client's timeout runs while they wait. Ten sessions with four requests in
flight each queued 40 requests there, and runs stopped with "endpoint unavailable"
(timeouts) although the server was answering. So the runs of the app share a few
:class:`Slots` for the embedded server, taken before a request is sent: a request
waits for a slot without a clock, and once sent it waits at most one answer.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from types import TracebackType

import httpx
from langchain_core.language_models import BaseChatModel

from agent.llm.local_server import LocalLLMServer, ServerSettings
from agent.llm.runtime import ModelRuntime, RuntimeSettings
from agent.llm.settings import Role
from memory.postgres.database import Database
from optimizers.evaluation.chat_calls import ChatCaller, Completion

EMBEDDED_SLOTS = 2
"""Requests in flight to the shared embedded server: one answered, one ready next."""


class Slots:
    """A semaphore shared by runs on different threads and event loops.

    ``asyncio.Semaphore`` belongs to one loop; each run of the app has its own. A
    waiter polls (every 20 ms) rather than blocking its loop, and a cancelled waiter
    holds nothing.
    """

    def __init__(self, n: int) -> None:
        self._free = threading.BoundedSemaphore(n)

    async def __aenter__(self) -> None:
        while not self._free.acquire(blocking=False):
            await asyncio.sleep(0.02)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._free.release()


@dataclass
class SlotCaller(ChatCaller):
    """A :class:`ChatCaller` whose paid calls each hold one of ``slots`` (cache hits none)."""

    slots: Slots = field(default_factory=lambda: Slots(EMBEDDED_SLOTS))

    async def _paid(
        self, model: BaseChatModel, invoke: Callable[[BaseChatModel], Awaitable[Completion]]
    ) -> Completion:
        async with self.slots:
            return await super()._paid(model, invoke)


class SharedServer:
    """The embedded server, started once on first :meth:`get`, stopped by :meth:`stop`."""

    def __init__(self, settings: ServerSettings = ServerSettings()) -> None:
        self.settings = settings
        self._server: LocalLLMServer | None = None
        self._lock = threading.Lock()
        self.slots = Slots(EMBEDDED_SLOTS)

    @property
    def running(self) -> bool:
        """True once started (and not stopped)."""
        return self._server is not None

    def get(self) -> LocalLLMServer:
        """The running server; the first caller starts it, the others wait for it."""
        with self._lock:
            if self._server is None:
                self._server = LocalLLMServer(self.settings).start()
            return self._server

    def stop(self) -> None:
        """Stop the server if it was started."""
        with self._lock:
            server, self._server = self._server, None
        if server is not None:
            server.stop()


class SharedServerRuntime(ModelRuntime):
    """A :class:`ModelRuntime` whose embedded roles use a :class:`SharedServer`."""

    def __init__(
        self,
        settings: RuntimeSettings,
        shared: SharedServer,
        *,
        roles: tuple[Role, ...] = ("task", "optimizer"),
        http_async_client: httpx.AsyncClient | None = None,
        database: Database | None = None,
    ) -> None:
        # The embedded endpoint's identity (cache keys) names the shared server's model file.
        super().__init__(
            replace(settings, server=shared.settings),
            roles=roles,
            http_async_client=http_async_client,
            database=database,
        )
        self._shared = shared

    def start(self) -> SharedServerRuntime:
        """Start (or join) the shared server if a role needs it, then build the callers."""
        if any(getattr(self.settings, role).embedded for role in self.roles):
            self._server = self._shared.get()  # ModelRuntime uses the server it finds here
        super().start()
        slots = getattr(self._shared, "slots", None)  # None: a stand-in server without slots
        for role in self.roles:
            caller = getattr(self, role)
            if slots is not None and caller is not None and getattr(self.settings, role).embedded:
                setattr(self, role, SlotCaller(caller.backend, caller.cache, slots=slots))
        return self

    def stop(self) -> None:
        """Close the cache; the shared server keeps running for other runs."""
        self._server = None
        super().stop()
