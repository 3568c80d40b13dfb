"""The service commands: ``metrics``, ``serve-llm``, ``mcp`` and ``demo``."""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer

from agent.cli import options as opt
from agent.cli.console import stdout_console
from agent.cli.demo import run_demo
from agent.cli.output import friendly_errors, stderr
from agent.llm.local_server import LocalLLMServer, ServerSettings
from agent.llm.runtime import ModelRuntime
from optimizers.evaluation.metrics import BUILTIN_METRICS


def metrics_command() -> None:
    """List the built-in metrics."""
    for name, description in BUILTIN_METRICS.items():
        typer.echo(f"{name:10} {description}")
    typer.echo(f"{'judge':10} LLM-as-judge with --rubric, graded by the optimizer model")
    typer.echo(f"{'mod:fn':10} your own Python function fn(prediction, targets) -> float")


def serve_llm_command(
    port: Annotated[int | None, typer.Option(help="Port [default: a free one].")] = None,
    host: opt.ServeHost = "127.0.0.1",
    n_ctx: Annotated[int, typer.Option(help="Context window in tokens.")] = 2048,
    api_key: opt.ServeApiKey = None,
) -> None:
    """Run the embedded llama.cpp server (SmolLM2-135M) for other tools, until Ctrl-C.

    It listens on 127.0.0.1 only, unless --host says otherwise (then --api-key is required).
    """
    with friendly_errors():
        settings = ServerSettings(host=host, port=port, n_ctx=n_ctx, api_key=api_key)
        server = LocalLLMServer(settings)
        with server:
            typer.echo(f"OpenAI-compatible endpoint: {server.base_url}  (model: smollm2)")
            if api_key is not None:
                typer.echo("Requests must carry the API key (Authorization: Bearer <key>).")
            typer.echo("Ctrl-C to stop.")
            signal.sigwait({signal.SIGINT, signal.SIGTERM})


@opt.with_flag_groups
def mcp_command(
    models: opt.ModelFlags = opt.DEFAULT_MODELS,
) -> None:
    """Serve optimize, evaluate, get_run and list_runs to other agents over MCP (stdio).

    Client config: command `promptpilot`, args `["mcp", "--home", DIR]`.
    Models come from the environment (PROMPTPILOT_TASK_BASE_URL …) or the flags.
    stdout carries only the protocol; logs go to stderr.
    """
    from agent.mcp_server import serve_stdio  # on use: the MCP package costs a second

    with friendly_errors():
        settings = models.settings()
        where = models.stores()
        serve_stdio(
            home=where.home, store=where.store_url, memory=where.memory_url, settings=settings
        )


@opt.with_flag_groups
def demo_command(models: opt.ModelFlags = opt.DEFAULT_MODELS) -> None:
    """Score a few prompts on the built-in review task, pick the best on dev, report test."""
    with friendly_errors():
        settings = models.settings()
        with ModelRuntime(settings, roles=("task",)) as runtime:
            asyncio.run(run_demo(runtime, stdout_console(), stderr))
