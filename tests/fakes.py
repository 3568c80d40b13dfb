"""Fakes for the model boundaries only: chat models whose answers tests script, and an
embedder with no model to load."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import numpy as np
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
    )


class HashEmbedder:
    """A deterministic bag-of-words embedder: no model to load."""

    name = "test-hash-16"
    dim = 16

    def embed(self, texts):
        out = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            out[row, 0] = 1.0
            for word in text.lower().split():
                out[row, 1 + zlib.crc32(word.encode()) % (self.dim - 1)] += 1.0
        return out / np.linalg.norm(out, axis=1, keepdims=True)
