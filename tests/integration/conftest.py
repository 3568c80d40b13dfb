"""Real servers for integration tests, started on 127.0.0.1 and stopped after."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent.llm.local_server import LocalLLMServer
from tests.integration.counting_proxy import CountingProxy


@pytest.fixture(scope="session")
def llm_server() -> Iterator[LocalLLMServer]:
    """The embedded llama.cpp server with the bundled SmolLM2 model."""
    with LocalLLMServer() as server:
        yield server


@pytest.fixture
def proxy(llm_server: LocalLLMServer) -> Iterator[CountingProxy]:
    """A :class:`CountingProxy` in front of ``llm_server``, counting every request."""
    proxy = CountingProxy(f"http://127.0.0.1:{llm_server.port}").start()
    yield proxy
    proxy.stop()
