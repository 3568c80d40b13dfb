"""The prompt store against a real ``chroma run`` server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from memory.prompt_store import PromptStore
from tests.integration.chroma_server import ChromaServer
from tests.unit.memory.test_prompt_store import check_round_trip

pytestmark = pytest.mark.integration


@pytest.fixture
def chroma_server(tmp_path, free_port) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path / "chroma", free_port, tmp_path / "chroma.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_round_trip_server(chroma_server, bundled_embedder):
    # The restart between writing and reopening shows the data is on the server's disk.
    check_round_trip(
        lambda embedder: PromptStore.remote(chroma_server.url, embedder),
        bundled_embedder,
        between=chroma_server.restart,
    )
    assert (chroma_server.path / "chroma.sqlite3").is_file()
