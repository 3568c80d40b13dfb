"""A real ``chroma run`` server for tests, on 127.0.0.1, restartable on its port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest


def chroma_command() -> list[str]:
    """``chroma`` next to this Python (the venv's console script)."""
    script = Path(sys.executable).with_name("chroma")
    if not script.exists():  # pragma: no cover - chromadb always installs the script
        pytest.fail(f"chromadb's `chroma` script is missing next to {sys.executable}")
    # `python -m chromadb.cli.cli` does nothing: the module has no __main__ guard.
    return [str(script)]


class ChromaServer:
    """``chroma run --path DIR`` in a child process; restartable on the same port."""

    def __init__(self, path: Path, port: int, log: Path) -> None:
        self.path = path
        self.port = port
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> None:
        command = [
            *chroma_command(),
            "run", "--path", str(self.path), "--host", "127.0.0.1", "--port", str(self.port),
        ]  # fmt: skip
        env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"chroma exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        pytest.fail(f"chroma did not answer its heartbeat in {timeout_s} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]
