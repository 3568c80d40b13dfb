"""What a steering message does to a running run, and the answer the person sees.

:func:`~agent.graph.model_reading.read_with_model` says what a message asks for (the
deterministic reader, and the run's planner model for what it is unsure of); here it is
carried out on the state and the live session, and every message gets a short
reply in the chat saying what was applied, or why nothing was ("I did not
understand …", "there is no candidate #12 …"). A message that is not
understood changes nothing but stays in the conversation as a note for the
planner model.

While the run is paused, any message that asks for something (resume, a method,
a rule, a budget, a rollback, accept, stop) ends the pause; one that is not
understood, or asks to pause again, keeps it. No answer at all (headless
callers answer ``""``) means "carry on".
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from langchain_core.messages import HumanMessage

from agent.graph.candidates import CandidateNotFound, describe_candidate, resolve_candidate
from agent.graph.model_reading import read_with_model
from agent.graph.node_updates import progress, say
from agent.graph.policy import EXHAUSTED
from agent.graph.reading import Reading, Situation, read_message
from agent.graph.state import PilotState
from agent.graph.steering import Steering
from agent.run.session import RunSession
from optimizers.budget import Budget
from optimizers.propose.constraints import hard_checks
from optimizers.registry import NAMES

Effect = tuple[dict[str, Any], str]
"""A partial state update and the reply sentence ("" when the message did not ask for it)."""

COMMANDS = (
    "stop, pause, resume, try " + "/".join(NAMES) + ", budget N, accept N, "
    "roll back to N, or a rule such as 'keep it under 30 words'"
)


async def apply_steering(
    state: PilotState, session: RunSession, texts: list[str]
) -> dict[str, Any]:
    """Apply the person's messages in order; returns the state update with every reply."""
    update: dict[str, Any] = {}
    messages = []
    for text in texts:
        current = replace(state, **update)
        change, reply = _apply_one(current, session, text, await _read(current, session, text))
        update.update(change)
        if text.strip():
            messages.append(HumanMessage(content=text))
        messages.append(say(reply, "steering"))
    return {**update, "messages": messages}


async def _read(state: PilotState, session: RunSession, text: str) -> Reading:
    situation = Situation(live=True, directives=tuple(state.directives))
    if session.planner is None or not text.strip():
        return read_message(text, situation)
    return await read_with_model(text, situation, session.planner)


def _apply_one(
    state: PilotState, session: RunSession, text: str, reading: Reading
) -> tuple[dict[str, Any], str]:
    if not text.strip():  # headless callers answer "" for "carry on"
        if state.paused:
            return {"paused": False}, "No answer: resuming."
        return {}, "No answer: carrying on."
    steering = reading.steering or Steering()
    if not steering.understood:
        return {}, _not_understood(state, reading)
    if state.report is not None:
        return {}, "The run is already reported; nothing changed."
    change: dict[str, Any] = {}
    replies: list[str] = []
    for effect in (_stop, _pause, _accept, _roll_back, _rules, _optimizer, _budget):
        part, reply = effect(replace(state, **change), session, steering)
        change.update(part)
        if reply:
            replies.append(reply)
    if state.paused and not steering.pause and "paused" not in change:
        change["paused"] = False
        replies.append("Resuming.")
    return change, " ".join(replies)


def _not_understood(state: PilotState, reading: Reading) -> str:
    if reading.intent == "greeting":
        reply = "Hello! The run goes on; say 'stop' or 'pause' at any time."
    else:
        reply = (
            f"I read {reading.text!r} as {reading.understood}, not a command; the planner "
            f"sees it. Commands: {COMMANDS}."
        )
    return reply + (" Still paused: say 'resume' to go on." if state.paused else "")


def _stop(state: PilotState, session: RunSession, steering: Steering) -> Effect:
    if not steering.stop:
        return {}, ""
    return {"stop_requested": True, "paused": False}, "Stopping: the best prompt goes to test next."


def _pause(state: PilotState, session: RunSession, steering: Steering) -> Effect:
    if steering.pause:
        if state.paused:
            return {}, "Still paused: say 'resume' to go on."
        return {"paused": True}, "Paused: nothing is spent until you say 'resume'."
    if steering.resume:
        return ({"paused": False}, "Resumed.") if state.paused else ({}, "Not paused; carrying on.")
    return {}, ""


def _accept(state: PilotState, session: RunSession, steering: Steering) -> Effect:
    if not steering.accept:
        return {}, ""
    outcome = session.search.outcome
    try:
        number = resolve_candidate(outcome, steering.accept)
        assert outcome is not None  # resolve_candidate raised otherwise
        outcome.accept(number)
    except (CandidateNotFound, ValueError) as error:
        return {}, f"I cannot accept {steering.accept!r}: {error}. Nothing changed."
    line = describe_candidate(outcome, number)
    update = {**_refreshed(session), "stop_requested": True, "paused": False}
    return update, f"Accepted {line}. It is the final answer: scoring it on test next."


def _roll_back(state: PilotState, session: RunSession, steering: Steering) -> Effect:
    if not steering.roll_back:
        return {}, ""
    outcome = session.search.outcome
    try:
        number = resolve_candidate(outcome, steering.roll_back)
    except CandidateNotFound as error:
        return {}, f"I cannot roll back to {steering.roll_back!r}: {error}. Nothing changed."
    assert outcome is not None  # resolve_candidate raised otherwise
    outcome.roll_back(number)
    # A lower best is a new baseline: every method may improve on it again.
    stagnant = {name: n if n >= EXHAUSTED else 0 for name, n in state.stagnant.items()}
    reply = (
        f"Rolled back to #{number} (dev {outcome.candidate(number).score:.3f}); "
        "later candidates no longer count as best."
    )
    best = outcome.best_number
    if best != number:
        why = "breaks a rule" if not outcome.counts(number) else "does not beat an earlier one"
        reply += f" #{number} {why}, so the best is {describe_candidate(outcome, best)}."
    return {**_refreshed(session), "stagnant": stagnant}, reply


def _rules(state: PilotState, session: RunSession, steering: Steering) -> Effect:
    directives = [d for d in state.directives if d not in steering.remove_directives]
    added = [d for d in steering.add_directives if d not in directives]
    directives += added
    replies = []
    if steering.remove_asked is not None:
        removed = [d for d in state.directives if d in steering.remove_directives]
        replies.append(
            f"Removed the rule {' and '.join(map(repr, removed))}."
            if removed
            else f"No standing rule matches {steering.remove_asked!r} (rules: "
            f"{'; '.join(map(repr, state.directives)) or 'none'}); nothing changed."
        )
    for directive in added:
        hard = hard_checks(directive)
        replies.append(
            f"New rule {directive!r}: candidates that break it are never scored nor chosen."
            if hard
            else f"Noted {directive!r} for the prompts I write."
        )
    if directives == list(state.directives):
        return {}, " ".join(replies)
    session.set_directives(tuple(directives))  # new rules may change which prompt is best
    return {**_refreshed(session), "directives": directives}, " ".join(replies)


def _optimizer(state: PilotState, session: RunSession, steering: Steering) -> Effect:
    if not steering.optimizer:
        return {}, ""
    return {"preferred": steering.optimizer}, f"Next step: {steering.optimizer}."


def _budget(state: PilotState, session: RunSession, steering: Steering) -> Effect:
    if not steering.budget_queries:
        return {}, ""
    budget = {**state.request["budget"], "max_queries": steering.budget_queries}
    session.set_budget(Budget(**budget))
    used = int(state.used.get("queries", 0))
    return (
        {"request": {**state.request, "budget": budget}},
        f"Budget set to {steering.budget_queries} dev queries ({used} used).",
    )


def _refreshed(session: RunSession) -> dict[str, Any]:
    """The search's progress fields once the seed is scored (before, the state must say none)."""
    return progress(session) if session.search.outcome is not None else {}
