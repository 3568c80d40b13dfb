"""A capable model reads the messages the deterministic reader is unsure of.

"the prompts look too long to me" or "can it be a bit warmer?" carry a wish no word
list can hold. With an optimizer endpoint that follows a schema, the model says
which kind of message it is and the rule it asks for; the answer is validated
against the situation (no "yes" when nothing waits for one, no steering without a
live run) and anything that does not fit falls back to the deterministic reading.
Messages the reader is sure of never reach the model: they cost nothing.

The graph reads steering with the run's planner model (:func:`read_with_model`); the
app's chat, which has no run to borrow a model from, asks the optimizer endpoint of
its Settings (:func:`read_with_endpoint`). With the embedded model neither asks: a
135M model cannot do this reliably, and the deterministic reading says when it is unsure.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Literal, Protocol, TypeVar

from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agent.graph.reading import Reading, Situation, read_message
from agent.graph.steering import Steering
from agent.llm.runtime import ModelRuntime, RuntimeSettings
from optimizers.evaluation.chat_calls import EndpointError

logger = logging.getLogger(__name__)

READ_TIMEOUT_S = 20.0
"""How long the chat waits for the endpoint before it answers with its own reading."""

T = TypeVar("T", bound=BaseModel)


class StructuredCaller(Protocol):
    """What the reader needs of a model: an answer shaped like a schema (a ``ChatCaller``)."""

    async def structured(
        self, messages: list[BaseMessage], schema: type[T], *, sample: int = 0
    ) -> tuple[T | None, str]:
        """The parsed answer, or None with the raw reply."""
        ...


class MessageKind(BaseModel):
    """The model's reading of one chat message."""

    kind: Literal["greeting", "question", "prompt", "steer", "feedback", "confirm", "decline"]
    rule: str | None = Field(
        default=None,
        description="For steer or feedback: the rule the prompts should follow, in the "
        "person's words (e.g. 'sound warmer'); null when the message asks for no rule.",
    )
    meaning: str = Field(description="What the message asks for, in at most twelve words.")


_SYSTEM = (
    "You read one message sent to a prompt-optimization assistant and say what kind it is. "
    "greeting: hello or thanks. question: asks the assistant something. prompt: a new "
    "instruction for a language model that the person wants improved. steer: a request about "
    "the optimization running now. feedback: a wish about the prompt a finished run produced. "
    "confirm / decline: yes or no to starting a run."
)

_ALLOWED = {
    "confirm": lambda s: s.awaiting_start,
    "decline": lambda s: s.awaiting_start,
    "steer": lambda s: s.live,
    "feedback": lambda s: s.finished and not s.live,
    "prompt": lambda s: not s.live,
}


async def read_with_model(text: str, situation: Situation, model: StructuredCaller) -> Reading:
    """:func:`read_message`, with ``model`` deciding the messages the reader is unsure of."""
    reading = read_message(text, situation)
    if not reading.unsure:
        return reading
    state = (
        "A run is going on." if situation.live
        else "A run has finished." if situation.finished
        else "A prompt waits for a yes to start." if situation.awaiting_start
        else "No run is going on."
    )  # fmt: skip
    messages = [SystemMessage(_SYSTEM), HumanMessage(f"{state}\nMessage: {reading.text}")]
    kind, _ = await model.structured(messages, MessageKind)
    if kind is None or not _ALLOWED.get(kind.kind, lambda s: True)(situation):
        return reading
    understood = kind.meaning.strip()[:120] or reading.understood
    if kind.kind == "steer":
        steering = reading.steering or Steering()
        if kind.rule and not steering.understood:
            steering = Steering(add_directives=[kind.rule.strip()])
        return Reading("steer", reading.text, understood, steering=steering)
    if kind.kind == "feedback":
        rule = kind.rule.strip() if kind.rule else None
        follow_up = "refine" if rule else "continue"
        return Reading("feedback", reading.text, understood, follow_up=follow_up, rule=rule)
    if kind.kind == "question":
        return Reading("question", reading.text, understood, topic=reading.topic or "other")
    return Reading(kind.kind, reading.text, understood)


def read_with_endpoint(text: str, situation: Situation, settings: RuntimeSettings) -> Reading:
    """The chat's reader: :func:`read_message`; unsure messages go to a capable endpoint.

    ``settings.optimizer`` is the endpoint (the embedded model is never asked). It is
    called from a worker thread of the app, so it runs its own event loop; an endpoint
    that is down, slow or answers nonsense leaves the deterministic reading.
    """
    reading = read_message(text, situation)
    if not reading.unsure or settings.optimizer.embedded:
        return reading
    try:
        return asyncio.run(_ask_endpoint(text, situation, settings))
    except (EndpointError, TimeoutError) as exc:
        logger.warning("the optimizer endpoint could not read a chat message: %s", exc)
        return reading


async def _ask_endpoint(text: str, situation: Situation, settings: RuntimeSettings) -> Reading:
    with ModelRuntime(settings, roles=("optimizer",)) as runtime:
        assert runtime.optimizer is not None  # started for that role
        return await asyncio.wait_for(
            read_with_model(text, situation, runtime.optimizer), READ_TIMEOUT_S
        )
