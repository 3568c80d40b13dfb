"""One embedded llama.cpp server for every run of a long-lived process (the app).

``promptpilot optimize`` starts the embedded server for its run and stops it after.
The app serves many runs, one after another or side by side, from many browser
sessions: a server per run would load the model each time and compete for the
same two cores. :class:`SharedServer` starts it on first need and keeps it until
the app stops; :class:`SharedServerRuntime` is a per-run
:class:`~agent.runtime.ModelRuntime` (its own callers, usage counters and cache
connection) whose embedded roles use that server and leave it running.
"""

from __future__ import annotations

import threading
from dataclasses import replace

import httpx

from agent.local_server import LocalLLMServer, ServerSettings
from agent.runtime import ModelRuntime, RuntimeSettings
from agent.settings import Role


class SharedServer:
    """The embedded server, started once on first :meth:`get`, stopped by :meth:`stop`."""

    def __init__(self, settings: ServerSettings = ServerSettings()) -> None:
        self.settings = settings
        self._server: LocalLLMServer | None = None
        self._lock = threading.Lock()

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
    ) -> None:
        # The embedded endpoint's identity (cache keys) names the shared server's model file.
        super().__init__(
            replace(settings, server=shared.settings),
            roles=roles,
            http_async_client=http_async_client,
        )
        self._shared = shared

    def start(self) -> SharedServerRuntime:
        """Start (or join) the shared server if a role needs it, then build the callers."""
        if any(getattr(self.settings, role).embedded for role in self.roles):
            self._server = self._shared.get()  # ModelRuntime uses the server it finds here
        super().start()
        return self

    def stop(self) -> None:
        """Close the cache; the shared server keeps running for other runs."""
        self._server = None
        super().stop()
