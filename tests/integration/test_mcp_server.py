"""`promptpilot mcp` over stdio, driven by a real MCP client, on the real embedded model.

The server runs as a subprocess (`python -m agent mcp`) pointed at the session's
llama.cpp server through the environment, exactly as an MCP client would start it.
Every await is bounded, so a hung server fails the test instead of stalling the suite.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.types import CallToolResult

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
PROMPTS = [
    "Is this review positive or negative?",
    "Read the review. Reply with exactly one word, positive or negative.",
]


def payload(result: CallToolResult) -> dict[str, Any]:
    """The structured result, checked against the JSON text every client can read."""
    assert not result.is_error, result.content
    assert result.structured_content is not None
    assert json.loads(result.content[0].text) == result.structured_content
    return result.structured_content


def error_text(result: CallToolResult) -> str:
    assert result.is_error
    return " ".join(block.text for block in result.content)


async def call(
    session: ClientSession, tool: str, arguments: dict[str, Any], *, timeout: float, **kwargs: Any
) -> CallToolResult:
    with anyio.fail_after(timeout):
        return await session.call_tool(tool, arguments, **kwargs)


async def test_mcp_server_over_stdio(llm_server, tmp_path):
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "agent", "mcp", "--home", str(tmp_path / "home")],
        env={
            "PROMPTPILOT_TASK_BASE_URL": llm_server.base_url,
            "PROMPTPILOT_TASK_MODEL": "smollm2",
            "PROMPTPILOT_OPTIMIZER_BASE_URL": llm_server.base_url,
            "PROMPTPILOT_OPTIMIZER_MODEL": "smollm2",
        },
        cwd=REPO,
    )
    not_protocol: list[Exception] = []  # anything on the server's stdout that is not JSON-RPC

    async def on_message(message: Any) -> None:
        if isinstance(message, Exception):
            not_protocol.append(message)

    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    stderr_log = tmp_path / "server-stderr.log"
    try:
        with stderr_log.open("w") as errlog:
            async with (
                stdio_client(params, errlog=errlog) as (read, write),
                ClientSession(read, write, message_handler=on_message) as session,
            ):
                with anyio.fail_after(60):  # interpreter start and imports
                    info = await session.initialize()
                assert info.server_info.name == "promptpilot"

                with anyio.fail_after(10):
                    listed = await session.list_tools()
                tools = {tool.name: tool for tool in listed.tools}
                assert set(tools) == {"optimize", "evaluate", "get_run", "list_runs"}
                optimize_schema = tools["optimize"].input_schema
                assert optimize_schema["required"] == ["data", "prompt"]
                assert "random" in optimize_schema["properties"]["optimizer"]["enum"]
                assert optimize_schema["properties"]["budget"]["default"] == 20
                assert tools["evaluate"].input_schema["required"] == ["data", "prompts"]
                assert tools["get_run"].input_schema["required"] == ["run"]
                assert all(tool.description for tool in listed.tools)
                assert tools["evaluate"].annotations.read_only_hint is True

                # evaluate: two prompts, paired
                evaluated = payload(
                    await call(
                        session, "evaluate",
                        {"data": "review_sentiment", "prompts": PROMPTS, "limit": 5},
                        timeout=60,
                    )
                )  # fmt: skip
                assert evaluated["task"] == "review_sentiment"
                assert evaluated["n"] == 5
                assert [r["prompt"] for r in evaluated["results"]] == PROMPTS
                for result in evaluated["results"]:
                    low, high = result["ci95"]
                    assert 0.0 <= low <= result["mean"] <= high <= 1.0
                    assert result["n"] == 5
                    assert len(result["misses"]) <= 3
                (paired,) = evaluated["comparisons_to_first"]
                assert paired["prompt"] == PROMPTS[1]
                assert paired["n"] == 5
                assert paired["ci95"][0] <= paired["diff"] <= paired["ci95"][1]
                assert 0.0 <= paired["p_value"] <= 1.0
                assert paired["wins"] + paired["losses"] + paired["ties"] == 5

                # optimize: tiny budget and splits, with progress notifications
                optimized = payload(
                    await call(
                        session, "optimize",
                        {"data": "review_sentiment", "prompt": PROMPTS[0], "optimizer": "random",
                         "budget": 3, "train": 6, "dev": 4, "test": 6},
                        timeout=150, progress_callback=on_progress,
                    )
                )  # fmt: skip
                assert optimized["optimizer"] == "random"
                assert optimized["splits"] == {"train": 6, "dev": 4, "test": 6}
                assert optimized["initial_prompt"] == PROMPTS[0]
                assert optimized["best_prompt"]
                assert optimized["dev_queries"] <= 3
                for key in ("initial_test", "best_test"):
                    assert optimized[key]["n"] == 6
                gain = optimized["test_gain"]
                assert gain["n"] == 6
                assert gain["ci95"][0] <= gain["diff"] <= gain["ci95"][1]
                assert gain["diff"] == pytest.approx(
                    optimized["best_test"]["mean"] - optimized["initial_test"]["mean"]
                )
                assert "trajectory" not in optimized  # compact: the report stays on disk
                assert progress
                assert all(total == 3 for _, total, _ in progress)

                # the run is recorded
                runs = payload(await call(session, "list_runs", {}, timeout=10))
                assert [r["run"] for r in runs["runs"]] == [optimized["run"]]
                assert runs["runs"][0]["status"] == "finished"
                record = payload(
                    await call(session, "get_run", {"run": optimized["run"]}, timeout=10)
                )
                assert record["report"]["run"] == optimized["run"]
                assert record["report"]["best_prompt"] == optimized["best_prompt"]
                assert record["report"]["trajectory"][0]["source"] == "seed"
                assert record["summary"] == optimized

                # expected failures are tool errors with the reason; the session lives on
                missing = str(tmp_path / "no-such-file.csv")
                failed = await call(
                    session, "evaluate", {"data": missing, "prompts": PROMPTS}, timeout=30
                )
                assert missing in error_text(failed)
                assert "no such file" in error_text(failed)
                unknown = await call(session, "get_run", {"run": "nope"}, timeout=10)
                assert "no run 'nope'" in error_text(unknown)
                invalid = await call(
                    session, "optimize", {"data": "review_sentiment", "prompt": "x",
                                          "budget": 0}, timeout=10,
                )  # fmt: skip
                assert "budget" in error_text(invalid)
                bad_metric = await call(
                    session, "evaluate",
                    {"data": "review_sentiment", "prompts": PROMPTS, "metric": "os:system"},
                    timeout=10,
                )  # fmt: skip
                assert bad_metric.is_error  # no code named by a caller is ever imported

                runs = payload(await call(session, "list_runs", {"limit": 5}, timeout=10))
                assert runs["total"] == 1
        assert not not_protocol, f"non-protocol output on stdout: {not_protocol}"
    finally:
        print(stderr_log.read_text(encoding="utf-8", errors="replace")[-6000:])
