"""How ChatCaller sorts endpoint failures: retried, an outage that stops the run, or refused."""

from __future__ import annotations

import httpx
import openai
import pytest
from langchain_core.messages import HumanMessage

from memory.response_cache import ResponseCache
from optimizers.evaluation.chat_calls import (
    CallFailed,
    ChatBackend,
    ChatCaller,
    EndpointError,
    EndpointUnavailable,
    RetryPolicy,
    failure_kind,
)
from optimizers.evaluation.evaluator import Evaluator
from optimizers.evaluation.judge import LLMJudge
from optimizers.evaluation.metrics import get_metric
from optimizers.tasks.example import Example
from tests.fakes import RuleChatModel

URL = "http://127.0.0.1:9/v1"
REQUEST = httpx.Request("POST", f"{URL}/chat/completions")
NO_WAIT = RetryPolicy(attempts=3, backoff_s=0.0)


def status(cls: type[openai.APIStatusError], code: int, **headers: str) -> openai.APIStatusError:
    response = httpx.Response(code, headers=headers, request=REQUEST)
    return cls(f"Error code: {code}", response=response, body=None)


def backend(rule) -> ChatBackend:
    return ChatBackend(model=RuleChatModel(rule=rule), identity={"base_url": URL, "model": "m"})


def failing(*errors: BaseException, then: str = "ok"):
    """A rule raising ``errors`` in turn, then answering ``then``."""
    queue = list(errors)

    def rule(text: str) -> str:
        if queue:
            raise queue.pop(0)
        return then

    return rule


def msgs(text: str = "q") -> list:
    return [HumanMessage(content=text)]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (openai.APIConnectionError(request=REQUEST), "outage"),
        (openai.APITimeoutError(request=REQUEST), "outage"),
        (status(openai.InternalServerError, 500), "outage"),
        (status(openai.InternalServerError, 503), "outage"),
        (status(openai.RateLimitError, 429), "outage"),
        (status(openai.APIStatusError, 408), "outage"),
        (status(openai.AuthenticationError, 401), "endpoint"),
        (status(openai.PermissionDeniedError, 403), "endpoint"),
        (status(openai.NotFoundError, 404), "endpoint"),
        (status(openai.BadRequestError, 400), "request"),
        (status(openai.UnprocessableEntityError, 422), "request"),
        (status(openai.APIStatusError, 413), "request"),
        (ValueError("Unexpected response type ... got str: '<html>'"), "unreadable"),
        (KeyError("choices"), "unreadable"),
        (TypeError("Received response with null value for 'choices'"), "unreadable"),
        (RuntimeError("HTTP 400: rejected"), "request"),
    ],
)
def test_failure_kinds(error, kind):
    assert failure_kind(error) == kind


async def test_an_unreadable_reply_is_asked_again_and_then_paid_once(tmp_path):
    caller = ChatCaller(
        backend(failing(ValueError("not json"), KeyError("choices"))),
        ResponseCache(tmp_path / "c.sqlite"),
        retry=NO_WAIT,
    )
    completion = await caller.complete(msgs())
    assert completion.text == "ok"
    assert len(caller.backend.model.calls) == 3
    assert (caller.usage.calls, caller.usage.failures) == (1, 0)
    assert len(caller.cache) == 1


async def test_replies_that_stay_unreadable_are_an_outage_not_a_failed_example(tmp_path):
    errors = [ValueError("<html>502</html>")] * 5
    caller = ChatCaller(
        backend(failing(*errors)), ResponseCache(tmp_path / "c.sqlite"), retry=NO_WAIT
    )
    with pytest.raises(EndpointUnavailable, match=r"127\.0\.0\.1:9/v1 answered 3 times"):
        await caller.complete(msgs())
    assert len(caller.backend.model.calls) == 3
    assert caller.usage.failures == 0
    assert len(caller.cache) == 0


@pytest.mark.parametrize(
    "error",
    [
        status(openai.InternalServerError, 500),
        openai.APIConnectionError(request=REQUEST),
        openai.APITimeoutError(request=REQUEST),
    ],
)
async def test_an_outage_after_the_clients_retries_is_raised_at_once(error, tmp_path):
    caller = ChatCaller(backend(failing(error)), ResponseCache(tmp_path / "c.sqlite"))
    with pytest.raises(EndpointUnavailable, match="is unavailable after retries"):
        await caller.complete(msgs())
    assert len(caller.backend.model.calls) == 1  # the openai client did the retrying
    assert caller.usage.failures == 0
    assert len(caller.cache) == 0


async def test_a_rate_limit_names_the_wait_the_endpoint_asked_for():
    caller = ChatCaller(
        backend(failing(status(openai.RateLimitError, 429, **{"retry-after": "300"})))
    )
    with pytest.raises(EndpointUnavailable, match="retry after 300 s"):
        await caller.complete(msgs())


async def test_a_refused_request_costs_that_call_only():
    caller = ChatCaller(backend(failing(status(openai.BadRequestError, 400))))
    with pytest.raises(CallFailed, match="BadRequestError"):
        await caller.complete(msgs())
    assert caller.usage.failures == 1
    assert (await caller.complete(msgs())).text == "ok"


async def test_a_wrong_key_is_a_configuration_error_not_an_outage():
    caller = ChatCaller(backend(failing(status(openai.AuthenticationError, 401))))
    with pytest.raises(EndpointError) as raised:
        await caller.complete(msgs())
    assert not isinstance(raised.value, EndpointUnavailable)


EXAMPLES = (
    Example(id="1", input="good", targets=("positive",)),
    Example(id="2", input="bad", targets=("negative",)),
)


async def test_an_evaluation_during_an_outage_raises_instead_of_scoring_zeros():
    def rule(text: str) -> str:
        if "bad" in text:
            raise status(openai.InternalServerError, 500)
        return "positive"

    evaluator = Evaluator(ChatCaller(backend(rule)), metric=get_metric("exact"))
    with pytest.raises(EndpointUnavailable):
        await evaluator.evaluate("Classify.", EXAMPLES, split="dev")


async def test_a_judge_outage_is_not_a_zero_score():
    judge = ChatCaller(backend(failing(*[status(openai.InternalServerError, 500)] * 4)))
    evaluator = Evaluator(ChatCaller(backend(lambda text: "positive")), LLMJudge(judge, "fair"))
    with pytest.raises(EndpointUnavailable):
        await evaluator.evaluate("Classify.", EXAMPLES, split="dev")


def test_retry_policy_backs_off_and_checks_its_settings():
    policy = RetryPolicy(attempts=4, backoff_s=0.5, max_backoff_s=1.5)
    assert [policy.delay(n) for n in (1, 2, 3)] == [0.5, 1.0, 1.5]
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
