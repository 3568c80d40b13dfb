"""Fakes for the LLM boundary only: chat models whose answers tests script."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from langchain_core.language_models import SimpleChatModel
from langchain_core.messages import BaseMessage
from pydantic import Field

from optimizers.evaluation.chat_calls import ChatBackend


class RuleChatModel(SimpleChatModel):
    """Answers with ``rule(last message text)``; counts the calls it really served."""

    rule: Callable[[str], str]
    calls: list[str] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "rule-fake"

    def _call(self, messages: list[BaseMessage], stop: Any = None, **kwargs: Any) -> str:
        text = str(messages[-1].content)
        self.calls.append(text)
        return self.rule(text)


def fake_backend(rule: Callable[[str], str], **identity: Any) -> ChatBackend:
    """A backend around a :class:`RuleChatModel` with a test identity."""
    return ChatBackend(
        model=RuleChatModel(rule=rule),
        identity={"base_url": "fake://", "model": "rule", **identity},
        concurrency=4,
    )
