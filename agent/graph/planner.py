"""The planner node's brain: an LLM decision, checked, with the policy as fallback."""

from __future__ import annotations

from typing import Literal

from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from agent.graph.policy import EXHAUSTED, budget_left, next_action
from agent.graph.prompts import PLANNER_STATE, PLANNER_SYSTEM
from agent.graph.state import PLANNER_ACTIONS, PilotState
from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.registry import NAMES

Action = Literal[PLANNER_ACTIONS]  # type: ignore[valid-type]  # built from the registry


class PlannerDecision(BaseModel):
    """The structured answer the planner model must give."""

    action: Action = Field(description="the next action")
    reason: str = Field(description="why, in one sentence")
    message: str = Field(default="", description="one short sentence for the person")


def invalid_because(decision: PlannerDecision, state: PilotState) -> str | None:
    """Why a decision cannot be carried out in ``state`` (None when it can)."""
    action = decision.action
    if state.report is not None and action != "finish":
        return "the run is already reported; only finish remains"
    if action == "finish" and state.report is None:
        return "finish comes after report"
    if action == "evaluate" and state.search:
        return "the seed prompt is already evaluated"
    tried = _tried_anything(state) or state.stop_requested
    if action == "report" and not tried and budget_left(state):
        return "nothing has been tried yet and the budget is left"
    if action == "ask_user" and state.action == "ask_user":
        return "the person was just asked"
    if action in NAMES:
        if not state.search:
            return "evaluate the seed prompt first"
        if state.stop_requested:
            return "the person asked to stop"
        if not budget_left(state):
            return "the budget is spent"
        if state.preferred and action != state.preferred:
            return f"the person asked for {state.preferred}"
        if state.stagnant.get(action, 0) >= EXHAUSTED:
            return f"{action} has nothing left to try"
    return None


def _tried_anything(state: PilotState) -> bool:
    return bool(state.optimizer_states)


def _other_limits(state: PilotState) -> str:
    # Only limits the request sets: wall time and call counts differ between a run
    # and its resumed twin, and a planner prompt that differs is a decision that may.
    budget, used = state.request.get("budget", {}), state.used
    parts = []
    if budget.get("max_calls"):
        parts.append(f", {int(used.get('calls', 0))}/{budget['max_calls']} LLM calls")
    if budget.get("max_seconds"):
        parts.append(f", {int(used.get('seconds', 0))}/{budget['max_seconds']:.0f} s")
    return "".join(parts)


def describe(state: PilotState) -> str:
    """The run as the planner model sees it."""
    budget = state.request.get("budget", {})
    last_user = next(
        (str(m.content) for m in reversed(state.messages) if isinstance(m, HumanMessage)), "—"
    )
    best = "none yet" if state.best_dev is None else f"{state.best_dev:.3f}"
    return PLANNER_STATE.format(
        task=state.request.get("data", "?"),
        queries_used=int(state.used.get("queries", 0)),
        queries_max=budget.get("max_queries") or "∞",
        other_limits=_other_limits(state),
        best_dev=best,
        best_prompt=state.best_prompt,
        stagnant=state.stagnant or "{}",
        directives="; ".join(state.directives) or "none",
        preferred=state.preferred or "nothing in particular",
        summary="\n".join(state.summary[-6:]) or "(nothing yet)",
        last_user=last_user,
    )


async def decide(state: PilotState, caller: ChatCaller | None) -> tuple[PlannerDecision, str]:
    """The next action and who chose it: ``"llm"``, or ``"policy"`` with the reason why."""
    if caller is not None:
        messages = [SystemMessage(content=PLANNER_SYSTEM), HumanMessage(content=describe(state))]
        decision, raw = await caller.structured(messages, PlannerDecision)
        if decision is None:
            problem = f"the planner's answer did not fit the schema ({raw[:80]!r})"
        else:
            problem = invalid_because(decision, state)
        if problem is None and decision is not None:
            return decision, "llm"
    else:
        problem = "no planner model"
    action = next_action(state)
    return PlannerDecision(action=action, reason=f"policy ({problem})", message=""), "policy"
