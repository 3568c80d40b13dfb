"""A capable model reads only what the deterministic reader is unsure of, and is checked."""

from __future__ import annotations

import socket

from agent.graph.model_reading import MessageKind, read_with_endpoint, read_with_model
from agent.graph.reading import Situation
from agent.llm.runtime import RuntimeSettings
from agent.llm.settings import DEFAULT_OPTIMIZER_SETTINGS, ModelSettings
from tests.reliability.fault_stub import OPTIMIZER_MODEL, FaultStub

LIVE = Situation(has_data=True, live=True)
FINISHED = Situation(has_data=True, finished=True)
IDLE = Situation(has_data=True)


class Model:
    """Answers with the kinds it is given; counts the calls."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = 0

    async def structured(self, messages, schema, *, sample=0):
        self.calls += 1
        assert schema is MessageKind
        answer = self.answers.pop(0)
        return (answer, "raw") if answer is not None else (None, "not json")


async def test_a_message_the_reader_is_sure_of_costs_no_call():
    model = Model()
    reading = await read_with_model("stop", LIVE, model)
    assert reading.steering.stop
    assert model.calls == 0


async def test_free_words_during_a_run_become_a_rule():
    model = Model(
        MessageKind(kind="steer", rule="shorter prompts", meaning="wants shorter prompts")
    )
    reading = await read_with_model("the prompts look too long to me", LIVE, model)
    assert reading.intent == "steer"
    assert not reading.unsure
    assert reading.steering.add_directives == ["shorter prompts"]
    assert reading.understood == "wants shorter prompts"


async def test_feedback_after_a_run_carries_the_models_rule():
    model = Model(MessageKind(kind="feedback", rule="sound warmer", meaning="a warmer tone"))
    reading = await read_with_model("honestly I expected it to feel warmer", FINISHED, model)
    assert reading.intent == "feedback"
    assert reading.follow_up == "refine"
    assert reading.rule == "sound warmer"


async def test_an_answer_that_does_not_fit_the_situation_falls_back():
    model = Model(MessageKind(kind="confirm", meaning="yes"))  # nothing waits for a yes
    reading = await read_with_model("hmm", IDLE, model)
    assert reading.intent == "unclear"
    assert reading.unsure


async def test_an_unusable_answer_falls_back():
    reading = await read_with_model("hmm", IDLE, Model(None))
    assert reading.intent == "unclear"


# ----------------------------------------------------------- the chat's endpoint reader


def _settings(optimizer: ModelSettings) -> RuntimeSettings:
    return RuntimeSettings(optimizer=optimizer)


def test_the_embedded_model_is_never_asked():
    reading = read_with_endpoint("hmm", IDLE, _settings(DEFAULT_OPTIMIZER_SETTINGS))
    assert reading.intent == "unclear"
    assert reading.unsure


def test_an_endpoint_reads_what_the_reader_is_unsure_of():
    stub = FaultStub({}).start()
    try:
        settings = _settings(ModelSettings(base_url=stub.base_url, model=OPTIMIZER_MODEL))
        reading = read_with_endpoint("the prompts look too long to me", LIVE, settings)
        assert reading.intent == "steer"
        assert not reading.unsure
        assert reading.steering.add_directives == ["keep it under 6 words"]
        assert read_with_endpoint("stop", LIVE, settings).steering.stop
        assert stub.ledger.paid == 1  # "stop" was sure: no call
    finally:
        stub.stop()


def test_an_endpoint_that_is_down_leaves_the_readers_own_reading():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings = _settings(ModelSettings(base_url=f"http://127.0.0.1:{port}/v1", model="m"))
    reading = read_with_endpoint("the prompts look too long to me", LIVE, settings)
    assert reading.intent == "steer"
    assert reading.unsure
