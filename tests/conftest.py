"""Shared fixtures for every test directory: keep them small and generic.

Shared file: several people add fixtures here. Put fixtures for one area in that
area's test module (or tests/integration/conftest.py for servers) instead.
"""

from __future__ import annotations

import socket

import pytest

from memory.embeddings import SentenceTransformerEmbedder


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def bundled_embedder() -> SentenceTransformerEmbedder:
    """The bundled all-MiniLM-L6-v2 embedder, loaded once per test session."""
    embedder = SentenceTransformerEmbedder.bundled()
    assert embedder.dim == 384  # loads the model here rather than inside a timed test
    return embedder
