"""Network exposure: loopback by default, an explicit flag and a key for anything else.

* ``serve-llm`` / the embedded llama.cpp server bind 127.0.0.1 unless ``--host`` says
  otherwise, and then refuse to start without an API key, which every request must
  carry. The environment variables llama-cpp-python would obey over its command line
  (``HOST``, ``PORT``, ``API_KEY``, ``CONFIG_FILE``) are neutralised.
* ``promptpilot mcp`` speaks stdio only: no listening socket at all.
* User Python metrics (``module:function``) come only from the command line: the tool
  schemas an LLM or a web form fills cannot name one, and only two call sites build a
  metric from a request.

Listening sockets are read from /proc/net/tcp{,6} (the sockets the kernel really
holds), not from what the code says it asked for. Tests bind 127.0.0.1 only.
"""

from __future__ import annotations

import ast
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from agent.cli.app import app
from agent.cli.output import EXIT_BAD_INPUT
from agent.llm.local_server import LocalLLMServer, ServerSettings, free_port, is_loopback
from agent.tool_contract import EvaluatePromptsArgs, OptimizePromptArgs

ROOT = Path(__file__).resolve().parents[2]
KEY = "pp-serve-key-0123456789abcdef"
HOSTILE_ENV = {"HOST": "0.0.0.0", "PORT": "1", "API_KEY": "from-the-env", "CONFIG_FILE": "/nope"}

linux_only = pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs /proc/net")


def listening() -> dict[int, list[tuple[str, int]]]:
    """Socket inode -> (address, port) of every TCP socket in LISTEN state."""
    found: dict[int, list[tuple[str, int]]] = {}
    for table, width in (("/proc/net/tcp", 4), ("/proc/net/tcp6", 16)):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], int(fields[9])
            if state != "0A":  # TCP_LISTEN
                continue
            address, port = local.split(":")
            raw = bytes.fromhex(address)
            if width == 4:
                text = ".".join(str(b) for b in reversed(raw))
            else:  # four little-endian 32-bit words
                words = [raw[i : i + 4][::-1] for i in range(0, 16, 4)]
                text = ":".join(b"".join(words)[i : i + 2].hex() for i in range(0, 16, 2))
            found.setdefault(inode, []).append((text, int(port, 16)))
    return found


def bound_to(port: int) -> list[str]:
    """Every address something listens on at ``port``."""
    return sorted(addr for entries in listening().values() for addr, p in entries if p == port)


def sockets_of(pid: int) -> set[int]:
    """Inodes of the sockets ``pid`` holds open."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


# --- the rule, without starting anything ----------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_loopback_needs_no_key(host: str) -> None:
    assert is_loopback(host)
    ServerSettings(host=host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "10.0.0.1", "myhost.lan", ""])
def test_any_other_address_needs_a_key(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(ValueError, match="without an API key"):
        ServerSettings(host=host)
    assert ServerSettings(host=host, api_key=KEY).api_key == KEY


def test_the_key_is_kept_out_of_repr_and_argv() -> None:
    settings = ServerSettings(api_key=KEY, model_path=Path("/m.gguf"))
    assert KEY not in repr(settings)
    server = LocalLLMServer(settings)
    assert KEY not in " ".join(server.command())
    assert server.environment()["API_KEY"] == KEY


@pytest.mark.parametrize("key", ["short", "has space inside ok", "newline\n0123456789abcdef"])
def test_a_weak_or_malformed_key_is_refused_without_showing_it(key: str) -> None:
    with pytest.raises(ValueError, match="key") as info:
        ServerSettings(host="0.0.0.0", api_key=key)
    assert key.strip() not in str(info.value)


def test_the_child_environment_cannot_override_host_port_or_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in {**HOSTILE_ENV, "api_key": "lower-case-too"}.items():
        monkeypatch.setenv(name, value)
    server = LocalLLMServer(ServerSettings(port=4321, model_path=Path("/m.gguf")))
    env = server.environment()
    assert env["HOST"] == "127.0.0.1"
    assert env["PORT"] == "4321"
    assert not {"API_KEY", "api_key", "CONFIG_FILE"} & set(env)


def test_serve_llm_refuses_a_public_host_without_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PROMPTPILOT_SERVE_API_KEY", raising=False)
    result = CliRunner().invoke(app, ["serve-llm", "--host", "0.0.0.0"])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "refusing to serve on 0.0.0.0 without an API key" in " ".join(result.output.split())


def test_serve_llm_does_not_echo_a_refused_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMPTPILOT_SERVE_API_KEY", "tiny-secret")
    result = CliRunner().invoke(app, ["serve-llm", "--host", "0.0.0.0"])
    assert result.exit_code == EXIT_BAD_INPUT
    assert "tiny-secret" not in result.output


def test_mcp_has_no_network_options() -> None:
    result = CliRunner().invoke(app, ["mcp", "--help"])
    assert result.exit_code == 0
    assert "--host" not in result.output
    assert "--port" not in result.output


# --- user metrics: only from the command line -------------------------------------------


@pytest.mark.parametrize("metric", ["os:system", "evil.py:run", "builtins:eval"])
def test_tool_arguments_cannot_name_python_code(metric: str) -> None:
    with pytest.raises(ValidationError):
        OptimizePromptArgs(data="review_sentiment", prompt="Classify.", metric=metric)
    with pytest.raises(ValidationError):
        EvaluatePromptsArgs(data="review_sentiment", prompts=["Classify."], metric=metric)


def test_only_the_command_line_request_paths_build_a_metric() -> None:
    """``get_metric`` imports user code for ``module:function``; who may call it."""
    allowed = {"agent/run/evaluate.py", "agent/run/session.py", "optimizers/evaluation/metrics.py"}
    callers = set()
    for folder in ("agent", "optimizers", "memory", "ui"):
        for path in (ROOT / folder).rglob("*.py"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.Call):
                    func = node.func
                    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                    if name in ("get_metric", "_load_function", "_import_file"):
                        callers.add(str(path.relative_to(ROOT)))
    assert callers <= allowed, (
        f"{sorted(callers - allowed)} build metrics: a metric named by data, an upload or a "
        "tool argument must never reach get_metric"
    )


def test_a_data_file_naming_a_metric_is_just_data(tmp_path: Path) -> None:
    from optimizers.tasks import load_task

    marker = tmp_path / "imported"
    module = tmp_path / "evil_metric.py"
    module.write_text(f"open({str(marker)!r}, 'w').write('x')\ndef score(p, t):\n    return 1.0\n")
    data = tmp_path / "data.jsonl"
    rows = [{"input": "q", "output": "a", "metric": f"{module}:score"}]
    data.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    task = load_task(data)
    assert task.examples[0].meta == {"metric": f"{module}:score"}
    assert not marker.exists()


# --- real servers: what the kernel says is listening -------------------------------------


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(180)
@linux_only
def test_serve_llm_listens_on_loopback_only_despite_the_environment(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, **HOSTILE_ENV}
    env.pop("PROMPTPILOT_SERVE_API_KEY", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "agent", "serve-llm", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
        start_new_session=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 150)
        assert ready, "serve-llm printed nothing in 150 s"
        line = process.stdout.readline().decode()
        assert f"http://127.0.0.1:{port}/v1" in line, line
        assert bound_to(port) == ["127.0.0.1"], bound_to(port)
        assert bound_to(1) == []  # $PORT was not obeyed either
        # $API_KEY was not obeyed: a request without a key is served
        assert httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=10).status_code == 200
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while bound_to(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert bound_to(port) == [], "the llama.cpp server outlived serve-llm"


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(180)
def test_a_server_with_a_key_serves_only_requests_that_carry_it() -> None:
    with LocalLLMServer(ServerSettings(api_key=KEY)) as server:
        url = f"{server.base_url}/models"
        assert httpx.get(url, timeout=10).status_code == 401
        wrong = {"Authorization": "Bearer not-the-key-0123456789"}
        assert httpx.get(url, headers=wrong, timeout=10).status_code == 401
        right = {"Authorization": f"Bearer {KEY}"}
        assert httpx.get(url, headers=right, timeout=10).status_code == 200
        assert KEY not in server.log_path.read_text(encoding="utf-8", errors="replace")


@pytest.mark.integration
@pytest.mark.timeout(120)
@linux_only
def test_the_mcp_server_opens_no_listening_socket(tmp_path: Path) -> None:
    before = set(listening())
    process = subprocess.Popen(
        [sys.executable, "-m", "agent", "mcp", "--home", str(tmp_path / "home")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        assert process.stdin is not None
        assert process.stdout is not None
        hello = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "exposure-test", "version": "0"},
            },
        }
        process.stdin.write((json.dumps(hello) + "\n").encode())
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], 90)
        assert ready, "no answer to initialize in 90 s"
        answer = json.loads(process.stdout.readline())
        assert answer["result"]["serverInfo"]["name"] == "promptpilot"
        opened = set(listening()) - before
        assert not (sockets_of(process.pid) & opened), "the MCP server listens on a port"
    finally:
        process.kill()
        process.wait(timeout=10)
