"""The endpoint check fails only when nothing is there, never on a busy server."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from agent.llm.models import check_reachable
from optimizers.evaluation.chat_calls import EndpointError


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections and never answers, like a llama.cpp
    server whose ``/models`` waits behind the completions in progress."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


def test_a_busy_server_that_does_not_answer_in_time_is_reachable(silent_server: str) -> None:
    check_reachable(silent_server, timeout_s=0.2)


def test_a_port_nobody_listens_on_is_an_error_naming_the_url() -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{probe.getsockname()[1]}/v1"
    probe.close()
    with pytest.raises(EndpointError, match="cannot reach the LLM endpoint at " + url):
        check_reachable(url, timeout_s=0.2)
