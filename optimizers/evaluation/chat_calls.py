"""Calling a chat model through the persistent response cache.

Every LLM call PromptPilot makes goes through :class:`ChatCaller`: it looks the
request up in the :class:`~memory.response_cache.ResponseCache` first, bounds
concurrency for the endpoint, records usage, retries what is worth retrying,
and sorts what still fails by whose fault it is (:func:`failure_kind`):

- the endpoint's: it is down, overloaded or broken (connection refused or reset,
  timeouts, 5xx, 429, a reply that is not a chat completion) and kept failing
  after the retries. :class:`EndpointUnavailable`: the run stops, checkpointed,
  and resumes later; such a failure is never scored, since a zero would steer
  the search with an outage;
- the configuration's: wrong key, no such model (:class:`EndpointError`);
- the request's: the server refuses this one request (400, 422, context too
  long). :class:`CallFailed`: the caller decides what that costs (the evaluator
  scores the example 0, as it scores a model answer the metric cannot read).
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import openai
from langchain_core.exceptions import ContextOverflowError
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage
from pydantic import BaseModel

from memory.response_cache import CachedResponse, ResponseStore, cache_key
from optimizers.evaluation.concurrency import ConcurrencyLimit, LimitGate, LimitPolicy

BaseModelT = TypeVar("BaseModelT", bound=BaseModel)


class EndpointError(RuntimeError):
    """The endpoint cannot serve any request: unreachable, unauthorised, unknown model."""


class EndpointUnavailable(EndpointError):
    """The endpoint kept failing after retries: down, overloaded, or answering garbage.

    An outage, not a verdict on the prompt: nothing is scored from it, and a run
    that meets it stops where it is and can be resumed once the endpoint is back.
    """


class CallFailed(RuntimeError):
    """The server refused this one request; the caller decides what it costs (evaluators: 0)."""


FailureKind = Literal["endpoint", "outage", "unreadable", "request"]

_CONFIG_ERRORS = (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError)
_REQUEST_ERRORS = (openai.BadRequestError, openai.UnprocessableEntityError, ContextOverflowError)
_RETRIED_STATUS = (408, 409, 429)  # and every 5xx: what the openai client retries itself
_UNREADABLE_ERRORS = (openai.APIResponseValidationError, ValueError, KeyError, TypeError)
"""What langchain-openai raises for a 200 whose body is no chat completion (an HTML
error page, cut or foreign JSON, ``"choices": null``)."""


def failure_kind(exc: BaseException) -> FailureKind:
    """Whose fault a failed call is.

    ``endpoint``: the configuration (key, model name); ``outage``: the endpoint
    is down or overloaded; ``unreadable``: the reply is no chat completion;
    ``request``: the server refused this one request.

    Checked after the openai client's own retries (``ModelSettings.max_retries``),
    which cover connection errors, timeouts, 408, 409, 429 (honouring
    Retry-After) and 5xx; so a failure of those kinds here is a lasting outage.
    Anything else is the request's (a fake model's ``RuntimeError`` included).
    """
    if isinstance(exc, _CONFIG_ERRORS):
        return "endpoint"
    if isinstance(exc, _REQUEST_ERRORS):
        return "request"
    if isinstance(exc, openai.APIConnectionError):  # refused, reset, cut body, timeout
        return "outage"
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        return "outage" if status >= 500 or status in _RETRIED_STATUS else "request"
    if isinstance(exc, _UNREADABLE_ERRORS):
        return "unreadable"
    return "request"


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """Retries on top of the HTTP client's, for replies it accepts but nobody can read.

    The openai client retries what fails at the HTTP level (see
    :func:`failure_kind`); a 200 whose body is not a chat completion (a proxy's
    HTML error page, a cut JSON) comes back as is, and is worth asking again.
    """

    attempts: int = 3
    """Tries in all for an unreadable reply before the endpoint counts as unavailable."""
    backoff_s: float = 0.5
    """Wait before the second try; doubled for each further one."""
    max_backoff_s: float = 8.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError(f"attempts must be >= 1, got {self.attempts}")
        if self.backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError(f"backoffs must be >= 0, got {self.backoff_s}, {self.max_backoff_s}")

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (1-based)."""
        return min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s)


@dataclass(frozen=True, kw_only=True)
class ChatBackend:
    """A chat model together with what determines its outputs.

    ``identity`` (endpoint, model name, decoding settings; never a key) is part
    of every cache key, so changing any of them never returns a stale answer.
    ``rebuild`` makes a fresh model for another event loop: HTTP connection pools
    belong to the loop that opened them, and reusing one from a closed loop fails
    with "Event loop is closed". ``limit`` bounds the requests in flight to the
    endpoint, shared by every caller and event loop that uses this backend.
    """

    model: BaseChatModel
    identity: Mapping[str, Any]
    limit: ConcurrencyLimit = field(default_factory=lambda: ConcurrencyLimit(LimitPolicy.fixed(4)))
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
    cache: ResponseStore | None = None
    usage: Usage = field(default_factory=Usage)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    _per_loop: weakref.WeakKeyDictionary[
        asyncio.AbstractEventLoop, tuple[BaseChatModel, LimitGate]
    ] = field(default_factory=weakref.WeakKeyDictionary, repr=False)

    def _for_this_loop(self) -> tuple[BaseChatModel, LimitGate]:
        # Gates and connection pools belong to one event loop; a caller may
        # outlive several (one per CLI step, one per UI worker thread).
        loop = asyncio.get_running_loop()
        if loop not in self._per_loop:
            first = not self._per_loop
            rebuild = self.backend.rebuild
            model = self.backend.model if first or rebuild is None else rebuild()
            self._per_loop[loop] = (model, LimitGate(self.backend.limit))
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
            model, gate = self._for_this_loop()
            in_flight = await gate.acquire()
            try:
                started = time.monotonic()
                completion = await self._paid(model, invoke)
                self.backend.limit.completed(
                    time.monotonic() - started, completion.completion_tokens, in_flight
                )
            finally:
                gate.release()
            if self.cache is not None:
                self.cache.put(
                    key,
                    CachedResponse(
                        completion.text, completion.prompt_tokens, completion.completion_tokens
                    ),
                )
        self.usage.add(completion)
        return completion

    async def _paid(
        self, model: BaseChatModel, invoke: Callable[[BaseChatModel], Awaitable[Completion]]
    ) -> Completion:
        """One answer from the endpoint, retrying unreadable replies; failures sorted by fault."""
        attempt = 0
        while True:
            attempt += 1
            try:
                return await invoke(model)
            except Exception as exc:
                kind = failure_kind(exc)
                if kind == "unreadable" and attempt < self.retry.attempts:
                    await asyncio.sleep(self.retry.delay(attempt))
                    continue
                if kind == "request":
                    self.usage.failures += 1
                    raise CallFailed(f"{type(exc).__name__}: {exc}") from exc
                raise self._endpoint_error(kind, exc, attempt) from exc

    def _endpoint_error(self, kind: FailureKind, exc: Exception, attempts: int) -> EndpointError:
        where = f"the LLM endpoint at {self.backend.endpoint}"
        what = f"{type(exc).__name__}: {_shorten(str(exc))}"
        if kind == "endpoint":
            return EndpointError(f"{where} cannot serve requests ({what})")
        if kind == "unreadable":
            return EndpointUnavailable(
                f"{where} answered {attempts} times with something that is not a chat "
                f"completion ({what})"
            )
        response = getattr(exc, "response", None)
        after = response.headers.get("retry-after") if response is not None else None
        wait = f"; it asks to retry after {after} s" if after else ""
        return EndpointUnavailable(f"{where} is unavailable after retries ({what}{wait})")

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


def _shorten(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _completion(text: str, reply: Any) -> Completion:
    """A paid completion with the token usage the endpoint reported."""
    usage = getattr(reply, "usage_metadata", None) or {}
    return Completion(
        text=text,
        prompt_tokens=int(usage.get("input_tokens", 0)),
        completion_tokens=int(usage.get("output_tokens", 0)),
        cached=False,
    )
