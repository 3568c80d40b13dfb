"""Real servers for integration tests, started on 127.0.0.1 and stopped after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.llm.local_server import LocalLLMServer


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LocalLLMServer]:
    """The embedded llama.cpp server with the bundled SmolLM2 model."""
    with LocalLLMServer() as server:
        yield server
