"""Everything a command needs to talk to models, set up once and torn down once.

A :class:`ModelRuntime` starts the embedded llama.cpp server when a role has no
endpoint (once, shared by both roles), checks that configured endpoints
answer, and hands out cached callers for the task and optimizer models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import httpx

from agent.llm.local_server import LocalLLMServer, ServerSettings, bundled_model_path
from agent.llm.models import check_reachable, make_backend
from agent.llm.settings import (
    DEFAULT_OPTIMIZER_SETTINGS,
    DEFAULT_TASK_SETTINGS,
    ModelSettings,
    Role,
)
from memory.postgres.database import Database
from memory.postgres.responses import PostgresResponseCache
from memory.response_cache import ResponseCache, ResponseStore
from optimizers.evaluation.chat_calls import ChatCaller


def default_home() -> Path:
    """Where PromptPilot keeps its cache, prompt memory and runs by default."""
    return Path.home() / ".promptpilot"


@dataclass(frozen=True, kw_only=True)
class RuntimeSettings:
    """Both model roles, the embedded server, and where the response cache lives."""

    task: ModelSettings = DEFAULT_TASK_SETTINGS
    optimizer: ModelSettings = DEFAULT_OPTIMIZER_SETTINGS
    server: ServerSettings = field(default_factory=ServerSettings)
    cache_path: Path | None = None  # None: no persistent cache
    store_url: str | None = None  # postgresql://…: the cache is in that shared store instead


def _open_cache(settings: RuntimeSettings, database: Database | None) -> ResponseStore | None:
    """The response cache the settings name: none, a SQLite file, or a shared PostgreSQL.

    With ``database`` (the workspace's pool on the same store) the cache uses it rather
    than opening a second pool of its own.
    """
    if settings.cache_path is None:
        return None
    if settings.store_url:
        if database is not None:
            return PostgresResponseCache(database)
        return PostgresResponseCache.open(settings.store_url)
    return ResponseCache(settings.cache_path)


class ModelRuntime:
    """Context manager giving ``task`` and ``optimizer`` callers on live endpoints.

    ``roles`` limits set-up to the models a command uses, so ``eval`` does not
    fail because an optimizer endpoint it never calls is down.
    """

    def __init__(
        self,
        settings: RuntimeSettings,
        *,
        roles: tuple[Role, ...] = ("task", "optimizer"),
        http_async_client: httpx.AsyncClient | None = None,
        database: Database | None = None,
    ) -> None:
        self.settings = settings
        self.roles = roles
        self._http_async_client = http_async_client
        self._server: LocalLLMServer | None = None
        self.cache = _open_cache(settings, database)
        self.task: ChatCaller | None = None
        self.optimizer: ChatCaller | None = None

    @property
    def server(self) -> LocalLLMServer | None:
        """The embedded server, when one was started."""
        return self._server

    def _resolve(self, settings: ModelSettings) -> tuple[ModelSettings, str | None]:
        if not settings.embedded:
            assert settings.base_url is not None
            check_reachable(settings.base_url)
            return settings, None
        if self._server is None:
            self._server = LocalLLMServer(self.settings.server).start()
        model_file = (self.settings.server.model_path or bundled_model_path()).name
        resolved = settings.with_base_url(self._server.base_url)
        return resolved, f"embedded:{model_file}"

    def start(self) -> ModelRuntime:
        """Start or check the endpoints and build both callers."""
        try:
            for role in self.roles:
                resolved, endpoint_id = self._resolve(getattr(self.settings, role))
                backend = make_backend(
                    resolved, endpoint_id=endpoint_id, http_async_client=self._http_async_client
                )
                setattr(self, role, ChatCaller(backend, self.cache))
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the embedded server, if any, and close the cache."""
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self.cache is not None:
            self.cache.close()

    def __enter__(self) -> ModelRuntime:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
