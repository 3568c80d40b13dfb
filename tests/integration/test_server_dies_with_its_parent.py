"""The embedded server does not outlive a PromptPilot killed with SIGKILL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Started from a worker thread, as the app's runs start it: a death signal tied to the
# starting thread would stop the server as soon as that thread ends.
PARENT = """
import sys, threading, time
from agent.llm.local_server import LocalLLMServer, ServerSettings

server = LocalLLMServer(ServerSettings(n_threads=1))
starter = threading.Thread(target=server.start)
starter.start()
starter.join()
print(server._process.pid, server.base_url, flush=True)
time.sleep(600)
"""


def gone(pid: int) -> bool:
    """True once ``pid`` has exited (a zombie nobody reaps counts as exited)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in status


def test_a_killed_parent_takes_its_server_with_it():
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True, cwd=os.getcwd()
    )
    try:
        line = parent.stdout.readline()  # type: ignore[union-attr]
        server_pid, base_url = int(line.split()[0]), line.split()[1]
        time.sleep(2)  # the starting thread has ended: the server must still be up
        assert httpx.get(f"{base_url}/models", timeout=10).status_code == 200
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 20
        while not gone(server_pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert gone(server_pid), "the server outlived its parent"
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{base_url}/models", timeout=5)
    finally:
        parent.kill()
        parent.wait()
        if "server_pid" in locals() and not gone(server_pid):
            os.kill(server_pid, signal.SIGKILL)
