"""The deterministic planner: what to do next when no model answer can be used.

Small models often return an invalid decision; the run must go on regardless.
The policy is also the yardstick the LLM planner is checked against: it runs
structured search until it stagnates, then GPO, ZOPO and textual gradients in turn,
and reports when
every method has stagnated or the budget is spent.
"""

from __future__ import annotations

from agent.graph.state import PilotState
from optimizers.registry import ROTATION

PATIENCE = 2  # steps without improvement before a method counts as stagnant
EXHAUSTED = 99  # the stagnation count of a method with nothing left to try


def budget_left(state: PilotState) -> bool:
    """True while every limit of the request's budget still has room."""
    budget = state.request.get("budget", {})
    used = state.used
    for limit, spent in (
        ("max_queries", "queries"),
        ("max_calls", "calls"),
        ("max_seconds", "seconds"),
    ):
        if budget.get(limit) is not None and used.get(spent, 0) >= budget[limit]:
            return False
    return True


def next_action(state: PilotState) -> str:
    """The policy's choice for ``state``."""
    if state.finished or state.report is not None:
        return "finish"
    if state.stop_requested or not budget_left(state):
        return "report"
    if not state.search:
        return "evaluate"
    if state.preferred:
        return state.preferred
    for method in ROTATION:
        if state.stagnant.get(method, 0) < PATIENCE:
            return method
    return "report"
