import httpx
import openai
import pytest
from langchain_core.messages import HumanMessage

from memory.response_cache import ResponseCache
from optimizers.evaluation.chat_calls import CallFailed, ChatBackend, ChatCaller, EndpointError
from tests.fakes import RuleChatModel, fake_backend


def msgs(text: str) -> list:
    return [HumanMessage(content=text)]


async def test_cache_hit_costs_no_call(tmp_path):
    backend = fake_backend(lambda text: text.upper())
    cache = ResponseCache(tmp_path / "c.sqlite")
    caller = ChatCaller(backend, cache)
    first = await caller.complete(msgs("hi"))
    second = await caller.complete(msgs("hi"))
    assert (first.text, first.cached) == ("HI", False)
    assert (second.text, second.cached) == ("HI", True)
    assert len(backend.model.calls) == 1
    assert (caller.usage.calls, caller.usage.cache_hits) == (1, 1)


async def test_cache_survives_a_new_caller(tmp_path):
    path = tmp_path / "c.sqlite"
    await ChatCaller(fake_backend(str.upper), ResponseCache(path)).complete(msgs("a"))
    backend = fake_backend(str.upper)
    again = await ChatCaller(backend, ResponseCache(path)).complete(msgs("a"))
    assert again.cached
    assert backend.model.calls == []


async def test_samples_and_identities_are_separate_entries(tmp_path):
    cache = ResponseCache(tmp_path / "c.sqlite")
    backend = fake_backend(str.upper)
    caller = ChatCaller(backend, cache)
    await caller.complete(msgs("a"), sample=0)
    await caller.complete(msgs("a"), sample=1)
    assert len(backend.model.calls) == 2
    hotter = fake_backend(str.upper, temperature=1.0)
    assert not (await ChatCaller(hotter, cache).complete(msgs("a"))).cached


async def test_no_cache_means_every_call_is_paid():
    backend = fake_backend(str.upper)
    caller = ChatCaller(backend, None)
    await caller.complete(msgs("a"))
    await caller.complete(msgs("a"))
    assert len(backend.model.calls) == 2


async def test_request_errors_are_per_call_and_not_cached(tmp_path):
    def fail(text: str) -> str:
        raise RuntimeError("server rejected the request")

    caller = ChatCaller(fake_backend(fail), ResponseCache(tmp_path / "c.sqlite"))
    with pytest.raises(CallFailed, match="server rejected"):
        await caller.complete(msgs("a"))
    assert caller.usage.failures == 1
    assert len(caller.cache) == 0


async def test_connection_errors_name_the_endpoint():
    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")

    def unreachable(text: str) -> str:
        raise openai.APIConnectionError(request=request)

    backend = ChatBackend(
        model=RuleChatModel(rule=unreachable),
        identity={"base_url": "http://127.0.0.1:9/v1", "model": "m"},
    )
    with pytest.raises(EndpointError, match=r"http://127\.0\.0\.1:9/v1"):
        await ChatCaller(backend).complete(msgs("a"))
