"""The checkpointed state of one optimization run (one LangGraph thread).

Only what must survive a crash lives here, and all of it is JSON: the request,
the budget spent, the user's directives, the chat, a compact trajectory
summary, and the optimizers' own state dicts. The full history of prompts is
in the prompt memory and every model answer in the response cache; on resume
both are read back, so nothing is paid for twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages

from optimizers.registry import NAMES

PLANNER_ACTIONS = (*NAMES, "evaluate", "report", "ask_user", "finish")
"""What the planner may choose: a step of one optimizer, or one of the run's own moves."""
ACTIONS = (*PLANNER_ACTIONS, "pause")
"""Every value of :attr:`PilotState.action` (a pause comes from the person, not the planner)."""


@dataclass
class PilotState:
    """What the planner reads and the tool nodes update."""

    request: dict[str, Any] = field(default_factory=dict)
    """The :class:`~agent.run.request.OptimizeRequest` as JSON (task, seed prompt, budget…)."""

    run: str = ""
    """The run id (also the LangGraph thread id)."""

    messages: Annotated[list[AnyMessage], add_messages] = field(default_factory=list)
    """The conversation: user steering, planner decisions, tool results."""

    directives: list[str] = field(default_factory=list)
    """The user's standing constraints, in their words ("at most 40 words")."""

    action: str = ""
    """The planner's latest decision (one of ``ACTIONS``)."""

    preferred: str = ""
    """An optimizer the user asked for ("try GPO now"); the planner honours it next."""

    used: dict[str, float] = field(default_factory=dict)
    """Budget spent: ``queries``, ``calls``, ``seconds``."""

    best_prompt: str = ""
    best_dev: float | None = None

    summary: list[str] = field(default_factory=list)
    """One short line per step, newest last (the full history is in the prompt memory)."""

    stagnant: dict[str, int] = field(default_factory=dict)
    """Steps in a row each optimizer ran without improving the best dev score."""

    search: dict[str, Any] = field(default_factory=dict)
    """The :class:`~optimizers.search.Search` snapshot."""

    optimizer_states: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Each used optimizer's ``state_dict()``."""

    stop_requested: bool = False
    """The person asked to stop (or accepted a candidate): report next."""

    paused: bool = False
    """The person asked to pause: the run holds at the next planner turn until answered."""

    finished: bool = False
    report: dict[str, Any] | None = None
    """The final report (test scores included), once written."""
