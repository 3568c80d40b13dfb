"""Real servers for integration tests, started on 127.0.0.1 and stopped after."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator

import pytest

from agent.llm.local_server import LocalLLMServer
from tests.integration.counting_proxy import CountingProxy
from tests.integration.postgres_server import PostgresServer


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


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster on 127.0.0.1, for the whole session."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    server = PostgresServer(port).start()
    yield server
    server.stop()


@pytest.fixture
def store_url(postgres: PostgresServer) -> str:
    """The URL of a new, empty database for one test."""
    return postgres.create_database(f"t_{uuid.uuid4().hex[:12]}")
