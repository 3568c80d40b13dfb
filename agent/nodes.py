"""The graph's nodes: small functions from state to a partial update.

The planner node reads steering messages, then decides. Tool nodes each do one
thing (one optimizer step, the seed evaluation, the test report, a question to
the person) through the run's :class:`~agent.session.RunSession`, which
LangGraph passes as the run-time context.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agent.planner import decide
from agent.policy import EXHAUSTED
from agent.session import RunSession
from agent.state import PilotState
from agent.steering import read_steering
from optimizers.runner import Budget


def say(text: str, node: str) -> AIMessage:
    """A message from PromptPilot to the person, tagged with the node that wrote it."""
    return AIMessage(content=text, name=node)


def progress(session: RunSession, state: PilotState) -> dict[str, Any]:
    """The fields every tool node refreshes after touching the search."""
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


def apply_steering(state: PilotState, session: RunSession, texts: list[str]) -> dict[str, Any]:
    """Turn the person's new messages into changes of directives, budget, method or stop."""
    directives = list(state.directives)
    update: dict[str, Any] = {"messages": [HumanMessage(content=text) for text in texts]}
    request = dict(state.request)
    for text in texts:
        steering = read_steering(text, directives)
        directives = [d for d in directives if d not in steering.remove_directives]
        directives += [d for d in steering.add_directives if d not in directives]
        if steering.stop:
            update["stop_requested"] = True
        if steering.optimizer:
            update["preferred"] = steering.optimizer
        if steering.budget_queries:
            budget = {**request["budget"], "max_queries": steering.budget_queries}
            request["budget"] = budget
            session.set_budget(Budget(**budget))
            update["request"] = request
    if directives != state.directives:
        update["directives"] = directives
        session.set_directives(tuple(directives))
    return update


async def planner(state: PilotState, runtime: Runtime[RunSession]) -> dict[str, Any]:
    """Read steering, then choose the next action (model first, policy as fallback)."""
    session = runtime.context
    update = apply_steering(state, session, session.drain_inbox())
    decision, source = await decide(replace(state, **update), session.planner)
    note = decision.message or f"Next: {decision.action}."
    messages = [*update["messages"], say(f"{note} ({source}: {decision.reason})", "planner")]
    return {**update, "action": decision.action, "messages": messages}


async def evaluate_seed(state: PilotState, runtime: Runtime[RunSession]) -> dict[str, Any]:
    """Score the starting prompt on dev: the baseline every step is compared to."""
    session = runtime.context
    outcome = await session.search.start()
    seed = outcome.seed.dev
    line = f"seed: dev {seed.mean:.3f} [{seed.interval.low:.3f}, {seed.interval.high:.3f}]"
    return {
        **progress(session, state),
        "summary": [*state.summary, line],
        "messages": [say(f"The starting prompt scores {line.split(': ')[1]} on dev.", "evaluate")],
    }


def optimizer_step(name: str):
    """The node running one step of optimizer ``name``."""

    async def step(state: PilotState, runtime: Runtime[RunSession]) -> dict[str, Any]:
        session = runtime.context
        optimizer = session.optimizer(name, state.optimizer_states.get(name))
        before = state.best_dev if state.best_dev is not None else float("-inf")
        scored = await session.search.step(optimizer)
        update = progress(session, state)
        improved = update.get("best_dev", before) > before
        stagnant = dict(state.stagnant)
        if scored is None:  # nothing left to try with this method
            stagnant[name] = EXHAUSTED
            line = f"{name}: nothing left to try ({session.search.outcome.stop_detail or 'done'})"
        else:
            stagnant[name] = 0 if improved else stagnant.get(name, 0) + 1
            top = max((s.score for s in scored), default=None)
            found = "no admissible candidate" if top is None else f"best new {top:.3f}"
            line = f"{name}: {len(scored)} scored, {found}, best so far {update['best_dev']:.3f}"
        return {
            **update,
            "optimizer_states": {**state.optimizer_states, name: optimizer.state_dict()},
            "stagnant": stagnant,
            "preferred": "" if state.preferred == name else state.preferred,
            "summary": [*state.summary, line],
            "messages": [say(line + (" (improved)" if improved else ""), name)],
        }

    step.__name__ = f"{name}_step"
    return step


async def report(state: PilotState, runtime: Runtime[RunSession]) -> dict[str, Any]:
    """Stop searching; score the initial and the best prompt on the held-out test split."""
    from agent.optimization import build_report  # the report format lives with the API

    session = runtime.context
    outcome = await session.search.start()
    outcome.stopped = "stop requested" if state.stop_requested else (
        session.search.exhausted() or "converged"
    )  # fmt: skip
    tested = await session.report()
    result = build_report(session, outcome, tested, started=session.started)
    payload = result.to_dict()
    difference = result.test_difference
    text = (
        f"Best prompt: {result.best_prompt!r}. Test: {result.seed_test.mean:.3f} → "
        f"{result.best_test.mean:.3f} ({difference.diff:+.3f}, 95% CI "
        f"[{difference.interval.low:+.3f}, {difference.interval.high:+.3f}], n={difference.n})."
        if difference is not None and result.seed_test and result.best_test
        else f"Best prompt: {result.best_prompt!r} (test not scored)."
    )
    return {**progress(session, state), "report": payload, "messages": [say(text, "report")]}


async def ask_user(state: PilotState, runtime: Runtime[RunSession]) -> dict[str, Any]:
    """Pause the run with a question; the answer arrives as steering when it resumes."""
    question = (
        f"The best prompt so far scores {state.best_dev:.3f} on dev: {state.best_prompt!r}. "
        "Keep searching, change something, or stop?"
        if state.best_dev is not None
        else "How should I proceed?"
    )
    answer = interrupt({"question": question})
    update = apply_steering(state, runtime.context, [str(answer)])
    return {**update, "messages": [say(question, "ask_user"), *update["messages"]]}


async def finish(state: PilotState, runtime: Runtime[RunSession]) -> dict[str, Any]:
    """Mark the run finished."""
    return {"finished": True}


def initial_state(
    request_config: dict[str, Any], run: str, directives: list[str]
) -> dict[str, Any]:
    """The input that starts a new run."""
    return asdict(PilotState(request=request_config, run=run, directives=directives))
