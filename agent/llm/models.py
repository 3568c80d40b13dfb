"""The one place PromptPilot builds chat models: langchain-openai for every endpoint.

Any OpenAI-compatible server (OpenAI, vLLM, Ollama, llama.cpp, LM Studio) is
reached the same way, through ``base_url`` / ``api_key`` / model name.
"""

from __future__ import annotations

from typing import Any

import httpx
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from agent.llm.settings import ModelSettings
from optimizers.evaluation.chat_calls import ChatBackend, EndpointError
from optimizers.evaluation.concurrency import OVERLOAD_STATUS, ConcurrencyLimit

NO_KEY = "no-key-needed"  # OpenAI clients insist on a key; local servers ignore it


def model_identity(settings: ModelSettings, *, endpoint_id: str | None = None) -> dict[str, Any]:
    """What determines a model's outputs; part of every cache key, never a secret.

    ``endpoint_id`` replaces the URL for endpoints whose address changes between
    runs (the embedded server listens on a fresh port each time) but whose
    answers do not.
    """
    return {
        "base_url": endpoint_id or settings.base_url,
        "model": settings.model,
        "temperature": settings.temperature,
        "max_tokens": settings.max_tokens,
    }


def make_chat_model(
    settings: ModelSettings, *, http_async_client: httpx.AsyncClient | None = None
) -> ChatOpenAI:
    """A ``ChatOpenAI`` for ``settings``, with its output cap really enforced.

    langchain-openai 1.x sends the cap as ``max_completion_tokens``, which
    llama.cpp ignores (an uncapped answer runs to the context limit). The classic
    ``max_tokens`` field, sent in the request body, is honoured by llama.cpp and
    by every other OpenAI-compatible server we know. The OpenAI client retries
    timeouts, 429 (honouring Retry-After) and 5xx with exponential backoff.
    """
    if settings.base_url is None:
        raise ValueError("resolve the embedded server's URL before building its model")
    return ChatOpenAI(
        model=settings.model,
        base_url=settings.base_url,
        api_key=SecretStr(settings.api_key or NO_KEY),
        temperature=settings.temperature,
        timeout=settings.timeout_s,
        max_retries=settings.max_retries,
        extra_body={"max_tokens": settings.max_tokens},
        http_async_client=http_async_client,
    )


def make_backend(
    settings: ModelSettings,
    *,
    endpoint_id: str | None = None,
    http_async_client: httpx.AsyncClient | None = None,
) -> ChatBackend:
    """A cache-aware backend: the chat model plus its identity and concurrency limit.

    Without an explicit ``http_async_client`` each model gets its own, so a model
    rebuilt for a new event loop never inherits connections of a closed one
    (langchain-openai otherwise shares one pool per URL across instances). That
    client shows the limit every 429/503, including those the openai client then
    retries by itself and the caller never sees.
    """
    limit = ConcurrencyLimit(settings.limit_policy())

    async def on_response(response: httpx.Response) -> None:
        if response.status_code in OVERLOAD_STATUS:
            limit.overloaded()

    def build() -> ChatOpenAI:
        client = http_async_client or httpx.AsyncClient(
            timeout=settings.timeout_s, event_hooks={"response": [on_response]}
        )
        return make_chat_model(settings, http_async_client=client)

    return ChatBackend(
        model=build(),
        identity=model_identity(settings, endpoint_id=endpoint_id),
        limit=limit,
        rebuild=build,
    )


def check_reachable(base_url: str, *, timeout_s: float = 5.0) -> None:
    """Fail fast, naming the URL, when nothing answers at ``base_url``.

    Only a failed connection is an error: a server without ``/models`` (404), one
    that wants a key for it (401), and one too busy to answer in time (a
    llama.cpp server holds ``/models`` behind the completions it is working
    through) are all still there.
    """
    url = base_url.rstrip("/") + "/models"
    try:
        httpx.get(url, timeout=timeout_s)
    except (httpx.ReadTimeout, httpx.WriteTimeout):
        return
    except httpx.HTTPError as exc:
        raise EndpointError(
            f"cannot reach the LLM endpoint at {base_url} ({type(exc).__name__}: {exc}); "
            "check the URL and that the server is running"
        ) from exc
