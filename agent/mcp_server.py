"""PromptPilot as an MCP server, so other agents can optimize and score prompts over stdio.

    promptpilot mcp --home ~/.promptpilot

Tools: ``optimize``, ``evaluate``, ``get_run``, ``list_runs``; their arguments and
compact results are the LangChain tools' (:mod:`agent.langchain_tool`). Models come
from the environment (``PROMPTPILOT_TASK_BASE_URL`` …) as for every command; with
none, the embedded llama.cpp server starts for a call and stops after it.

stdout is the protocol channel. While it serves, the SDK's stdio transport points
file descriptor 1 at stderr, so a stray print, a progress bar or a child process
can only reach stderr; the SDK's logging goes to stderr at WARNING. Failures the
caller can act on (bad data, bad argument, endpoint down) come back as tool errors
carrying their message; anything else as a tool error naming only the tool, with the
traceback on stderr. The server itself keeps running either way.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
from pathlib import Path
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import Field

from agent.api import OptimizationResult, aevaluate, aoptimize, stores
from agent.api import get_run as _get_run
from agent.api import list_runs as _list_runs
from agent.llm.environment import runtime_settings
from agent.llm.runtime import RuntimeSettings
from agent.run.workspace import StoreSettings
from agent.tool_contract import (
    EVALUATE_DESCRIPTION,
    OPTIMIZE_DESCRIPTION,
    BudgetArg,
    ConstraintsArg,
    DataArg,
    DevArg,
    EvalSplitArg,
    EvaluatePromptsArgs,
    LimitArg,
    MaxSecondsArg,
    MetricArg,
    OptimizePromptArgs,
    OptimizerArg,
    PromptArg,
    PromptsArg,
    TestArg,
    TrainArg,
    evaluation_summary,
    expected_errors_as,
    optimization_summary,
    optimize_options,
)
from optimizers.events import CandidateScored, EventFn, RunEvent

INSTRUCTIONS = (
    "PromptPilot measures and improves prompts against an LLM endpoint. `evaluate` scores "
    "prompts on eval data (a file or a built-in task) with 95% intervals and paired "
    "differences; `optimize` searches for a better prompt on train/dev and reports the gain on "
    "a held-out test split (slow: minutes); `list_runs` and `get_run` show recorded runs and "
    "their full reports."
)

RunArg = Annotated[
    str,
    Field(min_length=1, description="A run id, as returned by optimize or listed by list_runs."),
]
ListLimitArg = Annotated[int, Field(ge=1, le=500, description="Newest runs to list.")]


def _version() -> str:
    try:
        return importlib.metadata.version("promptpilot")
    except importlib.metadata.PackageNotFoundError:
        return "0"


def _run_entry(record: dict[str, Any]) -> dict[str, Any]:
    request = record.get("request") or {}
    entry = {
        "run": record.get("run"),
        "status": record.get("status"),
        "optimizer": record.get("optimizer"),
        "data": request.get("data"),
        "prompt": request.get("prompt"),
        "created": record.get("created"),
        "updated": record.get("updated"),
    }
    if record.get("question"):
        entry["question"] = record["question"]
    return entry


def _progress_reporter(ctx: Context | None, budget: int) -> tuple[EventFn, set[asyncio.Task]]:
    """An ``on_event`` sending MCP progress per scored prompt (a no-op unless asked for)."""
    sending: set[asyncio.Task] = set()

    def on_event(event: RunEvent) -> None:
        if ctx is None or not isinstance(event, CandidateScored):
            return
        message = f"dev query {event.queries}/{budget}: best dev score {event.best:.3f}"
        task = asyncio.get_running_loop().create_task(
            ctx.report_progress(event.queries, budget, message)
        )
        sending.add(task)
        task.add_done_callback(sending.discard)

    return on_event, sending


def build_server(
    *,
    home: str | Path | None = None,
    store: str | None = None,
    memory: str | None = None,
    settings: RuntimeSettings | None = None,
) -> MCPServer:
    """The MCP server with its four tools; ``settings`` default to the environment."""
    root = stores(home, store, memory)
    settings = settings or runtime_settings(home=root.home, store_url=root.store_url)
    server = MCPServer(
        "promptpilot",
        title="PromptPilot",
        instructions=INSTRUCTIONS,
        version=_version(),
        log_level="WARNING",
    )
    _add_model_tools(server, root, settings)
    _add_record_tools(server, root)
    return server


def _add_model_tools(server: MCPServer, root: StoreSettings, settings: RuntimeSettings) -> None:
    """``optimize`` and ``evaluate``: the tools that call the models."""

    @server.tool(
        name="optimize",
        title="Optimize a prompt",
        description=OPTIMIZE_DESCRIPTION,
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=False,
            open_world_hint=True,
        ),
    )  # fmt: skip
    async def optimize(
        data: DataArg,
        prompt: PromptArg,
        optimizer: OptimizerArg = "auto",
        budget: BudgetArg = 20,
        constraints: ConstraintsArg = [],  # noqa: B006 - pydantic hands each call a copy
        metric: MetricArg = "exact",
        train: TrainArg = None,
        dev: DevArg = None,
        test: TestArg = None,
        max_seconds: MaxSecondsArg = None,
        ctx: Context | None = None,
    ) -> dict[str, Any]:
        args = OptimizePromptArgs(
            data=data, prompt=prompt, optimizer=optimizer, budget=budget,
            constraints=constraints, metric=metric, train=train, dev=dev, test=test,
            max_seconds=max_seconds,
        )  # fmt: skip
        data, prompt, options = optimize_options(args, {})
        on_event, sending = _progress_reporter(ctx, args.budget)
        with expected_errors_as(ToolError):
            result = await aoptimize(
                data,
                prompt,
                home=root.home,
                store=root.store_url,
                memory=root.memory_url,
                settings=settings,
                on_event=on_event,
                **options,
            )
        if sending:
            await asyncio.gather(*sending, return_exceptions=True)
        return optimization_summary(result)

    @server.tool(
        name="evaluate", title="Score prompts", description=EVALUATE_DESCRIPTION,
        annotations=ToolAnnotations(read_only_hint=True, open_world_hint=True),
    )  # fmt: skip
    async def evaluate(
        data: DataArg,
        prompts: PromptsArg,
        split: EvalSplitArg = "all",
        limit: LimitArg = None,
        metric: MetricArg = "exact",
    ) -> dict[str, Any]:
        args = EvaluatePromptsArgs(
            data=data, prompts=prompts, split=split, limit=limit, metric=metric
        )
        with expected_errors_as(ToolError):
            report = await aevaluate(
                args.data, args.prompts, split=args.split, limit=args.limit,
                metric=args.metric, home=root.home, store=root.store_url, settings=settings,
            )  # fmt: skip
        return evaluation_summary(report)


def _add_record_tools(server: MCPServer, root: StoreSettings) -> None:
    """``get_run`` and ``list_runs``: read the run records, call no model."""
    reads_runs = ToolAnnotations(read_only_hint=True, open_world_hint=False)

    @server.tool(
        name="get_run",
        title="Show a run",
        description="One recorded run: its request, status and, once finished, its full "
        "report (every scored prompt, scores per split with intervals, costs, config) and "
        "a compact summary like optimize returns.",
        annotations=reads_runs,
    )
    def get_run(run: RunArg) -> dict[str, Any]:
        if Path(run).name != run or run in {".", ".."}:
            raise ToolError(f"not a run id: {run!r}")
        with expected_errors_as(ToolError):
            record = _get_run(run, home=root.home, store=root.store_url)
        report = record.get("report")
        if report is not None:
            record["summary"] = optimization_summary(OptimizationResult.from_report(report))
        return record

    @server.tool(
        name="list_runs",
        title="List runs",
        description="Recorded optimization runs, newest first: id, status, optimizer, data, "
        "starting prompt and times. get_run gives one run's report.",
        annotations=reads_runs,
    )
    def list_runs(limit: ListLimitArg = 20) -> dict[str, Any]:
        records = _list_runs(root.home, root.store_url)
        return {"runs": [_run_entry(r) for r in records[:limit]], "total": len(records)}


def serve_stdio(
    *,
    home: str | Path | None = None,
    store: str | None = None,
    memory: str | None = None,
    settings: RuntimeSettings | None = None,
) -> None:
    """Serve over stdin/stdout until the client closes the connection."""
    build_server(home=home, store=store, memory=memory, settings=settings).run("stdio")
