"""Secrets: an API key never reaches a log, a checkpoint, the prompt memory, a report.

A real llama.cpp server on 127.0.0.1 is started with an API key (``sk-pp-SECRET-`` and
24 random hex digits): every request without it gets 401, so a run that finishes
proves the key was sent, for both the task and the optimizer role. Then real runs
(an eval with the key as a flag, an optimization with it in the environment, a resume
with it as ``OPENAI_API_KEY``, the LangChain tool, the MCP tool, and failing runs with a
wrong URL and a wrong key) are made with every logger at DEBUG (and ``OPENAI_LOG=debug``),
and every byte they leave is searched for the key: each file under the run home
(checkpoints.sqlite and its WAL, runs/*.json, reports, the response cache, the Chroma
prompt store, the debug log), stdout and stderr, tool results, logged records and
exception messages. The key is searched as text, as UTF-16 and as base64.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from mcp.server.mcpserver.exceptions import ToolError

from agent.llm.local_server import LocalLLMServer, ServerSettings
from agent.llm.runtime import RuntimeSettings
from agent.llm.settings import ModelSettings, settings_from_env

ROOT = Path(__file__).resolve().parents[2]
KEY = f"sk-pp-SECRET-{secrets.token_hex(12)}"
PROMPTS = ["Is this review positive or negative?", "Reply with one word: positive or negative."]
FRESH = "A prompt no run has asked yet, so no cached answer can hide a refused key."

# The CLI with every logger at DEBUG, to a file in the home and to stderr.
DEBUG_CLI = """
import logging, sys
log = sys.argv.pop(1)
handlers = [logging.FileHandler(log), logging.StreamHandler()]
logging.basicConfig(level=logging.DEBUG, handlers=handlers)
sys.argv[0] = "promptpilot"
from agent.cli.app import main
main()
"""


def forms(key: str) -> list[bytes]:
    """The ways a key could be written down: text, UTF-16, base64 (alone and as user:key)."""
    raw = key.encode()
    return [
        raw,
        key.encode("utf-16-le"),
        base64.b64encode(raw),
        base64.b64encode(b":" + raw)[4:],
        key.split("-")[-1].encode(),  # the random part alone
    ]


def leaks(blob: bytes, key: str = KEY) -> list[str]:
    return [form.decode("latin-1")[:24] for form in forms(key) if form in blob]


@pytest.fixture(scope="module")
def keyed_server() -> Iterator[LocalLLMServer]:
    with LocalLLMServer(ServerSettings(api_key=KEY)) as server:
        yield server


class Runs:
    """Runs the CLI in a subprocess against one home; keeps everything it printed."""

    def __init__(self, home: Path, base_url: str) -> None:
        self.home = home
        self.outputs: dict[str, bytes] = {}
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("PROMPTPILOT_", "OPENAI_"))
        }
        self.env |= {
            "PROMPTPILOT_HOME": str(home),
            "PROMPTPILOT_TASK_BASE_URL": base_url,
            "PROMPTPILOT_TASK_MODEL": "smollm2",
            "PROMPTPILOT_OPTIMIZER_BASE_URL": base_url,
            "PROMPTPILOT_OPTIMIZER_MODEL": "smollm2",
            "OPENAI_LOG": "debug",
            "PROMPTPILOT_TASK_MAX_TOKENS": "8",  # short answers: the test is about bytes
            "PROMPTPILOT_OPTIMIZER_MAX_TOKENS": "48",
        }

    def __call__(
        self, name: str, *args: str, env: dict[str, str] | None = None, code: int = 0
    ) -> subprocess.CompletedProcess[bytes]:
        log = self.home / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            [sys.executable, "-c", DEBUG_CLI, str(log), *args],
            env={**self.env, **(env or {})},
            cwd=ROOT,
            capture_output=True,
            timeout=300,
        )
        self.outputs[f"{name} stdout"] = done.stdout
        self.outputs[f"{name} stderr"] = done.stderr
        assert done.returncode == code, done.stderr.decode(errors="replace")[-3000:]
        return done


@pytest.mark.parametrize(
    "bad", [f"{KEY}\nX-Injected: 1", f"{KEY[:10]} {KEY[10:]}", f"{KEY}\x00", f"{KEY}é"]
)
def test_a_key_an_http_header_cannot_carry_is_refused_without_showing_it(bad: str) -> None:
    with pytest.raises(ValueError, match="the key is not shown") as info:
        ModelSettings(api_key=bad)
    assert not leaks(str(info.value).encode())


def test_a_key_read_from_a_file_loses_its_line_break_and_stays_out_of_records() -> None:
    settings = settings_from_env("task", {"PROMPTPILOT_TASK_API_KEY": f"  {KEY}\r\n"})
    assert settings.api_key == KEY
    assert not leaks(
        f"{settings!r} {settings.public()} {RuntimeSettings(task=settings)!r}".encode()
    )
    assert settings_from_env("task", {"PROMPTPILOT_TASK_API_KEY": " \n"}).api_key is None


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_key_is_required_and_sent_but_never_written(
    keyed_server: LocalLLMServer, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    run = Runs(home, keyed_server.base_url)

    # The server really demands the key: a run that finishes has sent it.
    assert httpx.get(f"{keyed_server.base_url}/models", timeout=30).status_code == 401

    # 1. eval, key given as flags (the form most likely to be echoed somewhere)
    run(
        "eval", "eval", "review_sentiment", "-p", PROMPTS[0], "-p", PROMPTS[1], "--limit", "4",
        "--task-api-key", KEY, "--optimizer-api-key", KEY, "--out", str(home / "eval.json"),
    )  # fmt: skip
    # 2. an optimization (GPO: the agent's planner would ask SmolLM2 for tool calls,
    #    minutes on this model), key in the environment, both roles
    keys = {"PROMPTPILOT_TASK_API_KEY": KEY, "PROMPTPILOT_OPTIMIZER_API_KEY": KEY}
    run(
        "optimize", "optimize", "review_sentiment", "-p", PROMPTS[0], "--budget", "2",
        "--optimizer", "gpo", "--train", "4", "--dev", "4", "--test", "4", "--run-id", "secret-run",
        "--out", str(home / "report.json"), env=keys,
    )  # fmt: skip
    report = json.loads((home / "report.json").read_text(encoding="utf-8"))
    assert report["scores"]["best"]["test"]["n"] == 4
    assert report["usage"]["optimizer"]["calls"] + report["usage"]["task"]["calls"] > 0
    # 3. resume it (key from OPENAI_API_KEY this time)
    run("resume", "runs", "resume", "secret-run", "--json", env={"OPENAI_API_KEY": KEY})
    # 4. failing runs: a wrong URL, and a wrong key (both exit 3 with a message)
    wrong_url = run(
        "wrong url", "eval", "review_sentiment", "-p", PROMPTS[0], "--limit", "2",
        "--task-base-url", "http://127.0.0.1:9/v1", "--task-api-key", KEY, code=3,
    )  # fmt: skip
    assert b"127.0.0.1:9" in wrong_url.stderr
    other = f"sk-pp-SECRET-{secrets.token_hex(12)}"
    wrong_key = run(  # a prompt not asked before: the cache cannot answer it
        "wrong key", "eval", "review_sentiment", "-p", FRESH, "--limit", "2",
        env={"PROMPTPILOT_TASK_API_KEY": other}, code=3,
    )  # fmt: skip
    assert not leaks(wrong_key.stderr + wrong_key.stdout, other)

    artefacts = {str(p.relative_to(home)): p.read_bytes() for p in home.rglob("*") if p.is_file()}
    names = set(artefacts)
    assert {"checkpoints.sqlite", "cache.sqlite", "eval.json", "report.json"} <= names, names
    assert any(n.startswith("runs/") for n in names), names
    assert any(n.startswith("prompts/") for n in names), names
    logs = b"".join(v for n, v in artefacts.items() if n.startswith("logs/"))
    assert b"DEBUG" in logs, "the debug logging did not reach the log files"
    print(f"searched {len(artefacts)} files ({sum(map(len, artefacts.values())):,} bytes) and "
          f"{len(run.outputs)} outputs of {len(run.outputs) // 2} runs")  # fmt: skip
    found = {name: leaks(blob) for name, blob in {**artefacts, **run.outputs}.items()}
    assert {name: hit for name, hit in found.items() if hit} == {}, (
        f"the key leaked; searched {len(artefacts)} files and {len(run.outputs)} outputs"
    )


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.timeout(900)
async def test_the_tool_paths_and_their_errors_never_carry_the_key(
    keyed_server: LocalLLMServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from agent.langchain_tool import evaluate_prompts_tool
    from agent.mcp_server import build_server

    for role in ("TASK", "OPTIMIZER"):
        monkeypatch.setenv(f"PROMPTPILOT_{role}_BASE_URL", keyed_server.base_url)
        monkeypatch.setenv(f"PROMPTPILOT_{role}_MODEL", "smollm2")
        monkeypatch.setenv(f"PROMPTPILOT_{role}_API_KEY", KEY)
    monkeypatch.setenv("PROMPTPILOT_TASK_MAX_TOKENS", "8")
    home = tmp_path / "home"
    caplog.set_level(logging.DEBUG)

    tool = evaluate_prompts_tool(home=home)
    langchain_out = await tool.ainvoke({"data": "review_sentiment", "prompts": PROMPTS, "limit": 4})
    server = build_server(home=home)
    mcp_out = await server.call_tool(
        "evaluate", {"data": "review_sentiment", "prompts": PROMPTS, "limit": 4}
    )
    assert [r["n"] for r in langchain_out["results"]] == [4, 4]
    assert not mcp_out.is_error, mcp_out

    # A failing call: the key is wrong for this endpoint. In process the tool raises
    # (the protocol layer turns that into an error result); its whole chain is searched.
    other = f"sk-pp-SECRET-{secrets.token_hex(12)}"
    monkeypatch.setenv("PROMPTPILOT_TASK_API_KEY", other)
    with pytest.raises(ToolError) as info:
        await build_server(home=home).call_tool(
            "evaluate", {"data": "review_sentiment", "prompts": [FRESH], "limit": 2}
        )
    failure = "".join(traceback.format_exception(info.value))
    assert "401" in str(info.value)

    logged = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records
    )
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    blobs = {
        "langchain tool result": json.dumps(langchain_out, default=str).encode(),
        "mcp tool result": mcp_out.model_dump_json().encode(),
        "mcp tool error and its traceback": failure.encode(),
        "log records": logged.encode(),
        **{str(p.relative_to(home)): p.read_bytes() for p in home.rglob("*") if p.is_file()},
    }
    found = {name: leaks(blob) + leaks(blob, other) for name, blob in blobs.items()}
    assert {name: hit for name, hit in found.items() if hit} == {}
