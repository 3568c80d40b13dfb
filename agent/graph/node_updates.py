"""Partial state updates that the graph's nodes and steering both write."""

from __future__ import annotations

from typing import Any

from langchain_core.messages import AIMessage

from agent.run.session import RunSession

NAMED = "named"
"""A message's ``kind`` when its text already names the method ("GPO: 7 new prompts…"):
the CLI prints it without the node's name in front."""
ROUTINE = "routine"
"""A message's ``kind`` when it only says what comes next (the policy's choice): logs
and the CLI show it, the chat leaves it out (the step's own message follows)."""


def say(text: str, node: str, *, kind: str = "") -> AIMessage:
    """A message from PromptPilot to the person, tagged with the node that wrote it."""
    extra = {"kind": kind} if kind else {}
    return AIMessage(content=text, name=node, additional_kwargs=extra)


def progress(session: RunSession) -> dict[str, Any]:
    """The fields to refresh after anything touched the search (a step, a rollback, a rule)."""
    search = session.search
    outcome = search.outcome
    update: dict[str, Any] = {
        "search": search.snapshot(),
        "used": {
            "queries": outcome.queries if outcome else 0,
            "calls": search.calls,
            "seconds": round(search.seconds, 1),
        },
    }
    if outcome is not None:
        update["best_prompt"] = outcome.best.candidate.text
        update["best_dev"] = outcome.best.score
    return update
