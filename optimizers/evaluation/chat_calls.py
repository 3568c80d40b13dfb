"""Calling a chat model through the persistent response cache.

Every LLM call PromptPilot makes goes through :class:`ChatCaller`: it looks the
request up in the :class:`~memory.response_cache.ResponseCache` first, bounds
concurrency for the endpoint, records usage, and sorts failures into the ones
that doom the whole run (the endpoint is unreachable, the key is wrong) and the
ones that only cost one example (a request the server rejects).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import openai
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from pydantic import BaseModel

from memory.response_cache import CachedResponse, ResponseCache, cache_key

BaseModelT = TypeVar("BaseModelT", bound=BaseModel)


class EndpointError(RuntimeError):
    """The endpoint cannot serve any request: unreachable, unauthorised, unknown model."""


class CallFailed(RuntimeError):
    """One request failed; the caller decides what that costs (an evaluator scores 0)."""


_FATAL_ERRORS = (
    openai.APIConnectionError,  # includes timeouts, after the client's own retries
    openai.AuthenticationError,
    openai.PermissionDeniedError,
    openai.NotFoundError,
)


@dataclass(frozen=True, kw_only=True)
class ChatBackend:
    """A chat model together with what determines its outputs.

    ``identity`` (endpoint, model name, decoding settings; never a key) is part
    of every cache key, so changing any of them never returns a stale answer.
    ``rebuild`` makes a fresh model for another event loop: HTTP connection pools
    belong to the loop that opened them, and reusing one from a closed loop fails
    with "Event loop is closed".
    """

    model: BaseChatModel
    identity: Mapping[str, Any]
    concurrency: int = 4
    rebuild: Callable[[], BaseChatModel] | None = None

    @property
    def endpoint(self) -> str:
        """Where requests go, for error messages."""
        return str(self.identity.get("base_url", "the configured endpoint"))


@dataclass(frozen=True, slots=True)
class Completion:
    """One model answer, from the endpoint or from the cache."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    cached: bool


@dataclass(slots=True)
class Usage:
    """What a role has spent: paid calls, free cache hits, tokens, failures."""

    calls: int = 0
    cache_hits: int = 0
    failures: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def add(self, completion: Completion) -> None:
        """Count a completion: tokens are only spent on paid calls."""
        if completion.cached:
            self.cache_hits += 1
            return
        self.calls += 1
        self.prompt_tokens += completion.prompt_tokens
        self.completion_tokens += completion.completion_tokens

    def since(self, before: Usage) -> Usage:
        """The usage accrued after the snapshot ``before``."""
        return Usage(
            calls=self.calls - before.calls,
            cache_hits=self.cache_hits - before.cache_hits,
            failures=self.failures - before.failures,
            prompt_tokens=self.prompt_tokens - before.prompt_tokens,
            completion_tokens=self.completion_tokens - before.completion_tokens,
        )

    def snapshot(self) -> Usage:
        """A frozen copy of the counters."""
        return Usage(
            self.calls, self.cache_hits, self.failures, self.prompt_tokens, self.completion_tokens
        )


def message_payload(messages: Sequence[BaseMessage]) -> list[list[str]]:
    """The cacheable content of a message list: role and text of each message."""
    return [[message.type, str(message.content)] for message in messages]


@dataclass
class ChatCaller:
    """Cached, concurrency-bounded access to one chat backend."""

    backend: ChatBackend
    cache: ResponseCache | None = None
    usage: Usage = field(default_factory=Usage)
    _per_loop: weakref.WeakKeyDictionary[
        asyncio.AbstractEventLoop, tuple[BaseChatModel, asyncio.Semaphore]
    ] = field(default_factory=weakref.WeakKeyDictionary, repr=False)

    def _for_this_loop(self) -> tuple[BaseChatModel, asyncio.Semaphore]:
        # Semaphores and connection pools belong to one event loop; a caller may
        # outlive several (one per CLI step, one per UI worker thread).
        loop = asyncio.get_running_loop()
        if loop not in self._per_loop:
            first = not self._per_loop
            rebuild = self.backend.rebuild
            model = self.backend.model if first or rebuild is None else rebuild()
            self._per_loop[loop] = (model, asyncio.Semaphore(self.backend.concurrency))
        return self._per_loop[loop]

    def key(self, messages: Sequence[BaseMessage], sample: int = 0) -> str:
        """The cache key of a request; ``sample`` tells independent samples apart."""
        return cache_key(
            {
                "model": dict(self.backend.identity),
                "messages": message_payload(messages),
                "sample": sample,
            }
        )

    async def complete(self, messages: Sequence[BaseMessage], *, sample: int = 0) -> Completion:
        """Answer ``messages``, from the cache when this exact request was paid for before."""
        return await self._cached(
            self.key(messages, sample), lambda model: self._invoke(model, messages, sample)
        )

    async def structured(
        self, messages: Sequence[BaseMessage], schema: type[BaseModelT], *, sample: int = 0
    ) -> tuple[BaseModelT | None, str]:
        """Ask for an answer shaped like ``schema`` (tool calling), cached like any call.

        Returns the parsed object, or None with the raw reply when the model's
        answer does not fit the schema: callers decide what to do instead.
        """
        key = cache_key(
            {
                "model": dict(self.backend.identity),
                "messages": message_payload(messages),
                "schema": schema.model_json_schema(),
                "sample": sample,
            }
        )
        try:
            completion = await self._cached(
                key, lambda model: self._invoke_structured(model, messages, schema, sample)
            )
        except CallFailed as exc:
            return None, str(exc)
        try:
            return schema.model_validate_json(completion.text), completion.text
        except ValueError:
            return None, completion.text

    async def _cached(
        self, key: str, invoke: Callable[[BaseChatModel], Awaitable[Completion]]
    ) -> Completion:
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            completion = Completion(hit.text, hit.prompt_tokens, hit.completion_tokens, True)
        else:
            model, semaphore = self._for_this_loop()
            async with semaphore:
                try:
                    completion = await invoke(model)
                except _FATAL_ERRORS as exc:
                    raise EndpointError(
                        f"the LLM endpoint at {self.backend.endpoint} cannot serve requests "
                        f"({type(exc).__name__}: {exc})"
                    ) from exc
                except Exception as exc:
                    self.usage.failures += 1
                    raise CallFailed(f"{type(exc).__name__}: {exc}") from exc
            if self.cache is not None:
                self.cache.put(
                    key,
                    CachedResponse(
                        completion.text, completion.prompt_tokens, completion.completion_tokens
                    ),
                )
        self.usage.add(completion)
        return completion

    # The sample index doubles as the sampling seed: a sampled answer is then
    # reproducible (llama.cpp honours it; OpenAI on a best-effort basis), so a
    # re-run or a resumed run proposes the same candidates.

    @staticmethod
    async def _invoke(
        model: BaseChatModel, messages: Sequence[BaseMessage], sample: int
    ) -> Completion:
        reply = await model.ainvoke(list(messages), seed=sample)
        return _completion(str(reply.text), reply)

    @staticmethod
    async def _invoke_structured(
        model: BaseChatModel, messages: Sequence[BaseMessage], schema: type[BaseModel], sample: int
    ) -> Completion:
        bound = model.with_structured_output(schema, method="function_calling", include_raw=True)
        reply = await bound.ainvoke(list(messages), seed=sample)
        parsed = reply.get("parsed")
        raw = parsed.model_dump_json() if parsed is not None else str(reply["raw"].content)
        return _completion(raw, reply["raw"])


def _completion(text: str, reply: Any) -> Completion:
    """A paid completion with the token usage the endpoint reported."""
    usage = getattr(reply, "usage_metadata", None) or {}
    return Completion(
        text=text,
        prompt_tokens=int(usage.get("input_tokens", 0)),
        completion_tokens=int(usage.get("output_tokens", 0)),
        cached=False,
    )
