"""LangChain tools over :mod:`agent.api`, so another agent can optimize or score its prompts.

    from agent.langchain_tool import evaluate_prompts_tool, optimize_prompt_tool
    tools = [optimize_prompt_tool(train=12, dev=8, test=12), evaluate_prompts_tool()]

The argument schemas, their descriptions and the compact results are shared with the
MCP server (:mod:`agent.mcp_server`) in :mod:`agent.tool_contract`.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from langchain_core.tools import StructuredTool, ToolException
from pydantic import BaseModel, ValidationError

from agent.api import aevaluate, aoptimize, evaluate, optimize
from agent.llm.runtime import RuntimeSettings
from agent.tool_contract import (
    EVALUATE_DESCRIPTION,
    OPTIMIZE_DESCRIPTION,
    EvaluatePromptsArgs,
    OptimizePromptArgs,
    evaluation_summary,
    expected_errors_as,
    optimization_summary,
    optimize_options,
)

_FILLABLE = ("train", "dev", "test", "max_seconds")  # schema fields whose default is "unset"


def _check_defaults(defaults: dict[str, Any], api: Any, schema: type[BaseModel]) -> None:
    """Fail at construction on a misspelt default, or one the LLM's arguments would override."""
    accepted = set(inspect.signature(api).parameters) - {"home", "settings", "on_event"}
    accepted -= set(schema.model_fields) - set(_FILLABLE)
    unknown = sorted(set(defaults) - accepted)
    if unknown:
        raise TypeError(
            f"unknown or LLM-controlled default(s) {', '.join(unknown)}; "
            f"accepted: {', '.join(sorted(accepted))}"
        )


def _invalid_arguments(error: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in error.errors()
    )
    return f"invalid arguments: {problems}"


def _tool(
    name: str,
    description: str,
    schema: type[BaseModel],
    run: Callable[..., dict[str, Any]],
    arun: Callable[..., Awaitable[dict[str, Any]]],
    *,
    handle_errors: bool,
) -> StructuredTool:
    """The tool over ``run``/``arun``; with ``handle_errors`` bad arguments come back as text."""
    return StructuredTool.from_function(
        func=run,
        coroutine=arun,
        name=name,
        description=description,
        args_schema=schema,
        handle_tool_error=handle_errors,
        handle_validation_error=_invalid_arguments if handle_errors else False,
    )


def optimize_prompt_tool(
    *,
    home: str | Path | None = None,
    settings: RuntimeSettings | None = None,
    handle_errors: bool = True,
    **defaults: Any,
) -> StructuredTool:
    """A LangChain tool ``optimize_prompt`` over :func:`agent.api.aoptimize`.

    ``home`` and ``settings`` are as in the API (``None``: ``PROMPTPILOT_HOME`` and the
    ``PROMPTPILOT_*`` environment). ``defaults`` fix other API keywords for every call
    (``template``, ``seed``, ``max_calls``, ``test_data``…) or fill the optional split sizes
    and ``max_seconds`` when the LLM leaves them out. With ``handle_errors`` a bad argument
    or data file comes back to the agent as text instead of raising.
    """
    _check_defaults(defaults, aoptimize, OptimizePromptArgs)
    fixed = {"home": home, "settings": settings}

    def run(**arguments: Any) -> dict[str, Any]:
        data, prompt, options = optimize_options(
            OptimizePromptArgs.model_validate(arguments), defaults
        )
        with expected_errors_as(ToolException):
            return optimization_summary(optimize(data, prompt, **options, **fixed))

    async def arun(**arguments: Any) -> dict[str, Any]:
        data, prompt, options = optimize_options(
            OptimizePromptArgs.model_validate(arguments), defaults
        )
        with expected_errors_as(ToolException):
            return optimization_summary(await aoptimize(data, prompt, **options, **fixed))

    return _tool(
        "optimize_prompt",
        OPTIMIZE_DESCRIPTION,
        OptimizePromptArgs,
        run,
        arun,
        handle_errors=handle_errors,
    )


def evaluate_prompts_tool(
    *,
    home: str | Path | None = None,
    settings: RuntimeSettings | None = None,
    handle_errors: bool = True,
    **defaults: Any,
) -> StructuredTool:
    """A LangChain tool ``evaluate_prompts`` over :func:`agent.api.aevaluate`.

    ``defaults`` fix other API keywords for every call (``template``).
    """
    _check_defaults(defaults, aevaluate, EvaluatePromptsArgs)
    fixed = {"home": home, "settings": settings, **defaults}

    def options(arguments: dict[str, Any]) -> tuple[str, list[str], dict[str, Any]]:
        args = EvaluatePromptsArgs.model_validate(arguments)
        return args.data, args.prompts, args.model_dump(exclude={"data", "prompts"}) | fixed

    def run(**arguments: Any) -> dict[str, Any]:
        data, prompts, kwargs = options(arguments)
        with expected_errors_as(ToolException):
            return evaluation_summary(evaluate(data, prompts, **kwargs))

    async def arun(**arguments: Any) -> dict[str, Any]:
        data, prompts, kwargs = options(arguments)
        with expected_errors_as(ToolException):
            return evaluation_summary(await aevaluate(data, prompts, **kwargs))

    return _tool(
        "evaluate_prompts",
        EVALUATE_DESCRIPTION,
        EvaluatePromptsArgs,
        run,
        arun,
        handle_errors=handle_errors,
    )
