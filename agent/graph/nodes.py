"""The graph's nodes: small functions from state to a partial update.

The planner node reads steering messages, then decides. Tool nodes each do one
thing (one optimizer step, the seed evaluation, the test report, a question to
the person) through the run's :class:`~agent.run.session.RunSession`, which
LangGraph passes as the run-time context.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from typing import Any

from langgraph.runtime import Runtime
from langgraph.types import interrupt

from agent.graph.node_updates import NAMED, ROUTINE, progress, say
from agent.graph.planner import decide
from agent.graph.policy import EXHAUSTED
from agent.graph.state import PilotState
from agent.graph.steering_effects import apply_steering
from agent.run.report import build_report
from agent.run.session import RunSession
from optimizers.registry import info
from optimizers.selection.guard import too_few_dev_examples


async def planner(state: PilotState, runtime: Runtime[RunSession]) -> dict[str, Any]:
    """Read steering, then choose the next action (model first, policy as fallback)."""
    session = runtime.context
    update = await apply_steering(state, session, session.drain_inbox())
    steered = replace(state, **update)
    if steered.paused and steered.report is None:  # no model call: a paused run spends nothing
        return {**update, "action": "pause"}
    decision, source = await decide(steered, session.planner)
    note = decision.message or f"Next: {decision.action}."
    kind = ROUTINE if source == "policy" else ""
    messages = [
        *update["messages"],
        say(f"{note} ({source}: {decision.reason})", "planner", kind=kind),
    ]
    return {**update, "action": decision.action, "messages": messages}


async def evaluate_seed(state: PilotState, runtime: Runtime[RunSession]) -> dict[str, Any]:
    """Score the starting prompt on dev: the baseline every step is compared to."""
    session = runtime.context
    outcome = await session.search.start()
    seed = outcome.seed.dev
    line = f"seed: dev {seed.mean:.3f} [{seed.interval.low:.3f}, {seed.interval.high:.3f}]"
    said = f"Your prompt scores {line.split(': dev ')[1]} on the dev examples."
    if (why := too_few_dev_examples(len(session.splits.dev))) is not None:
        said += f" Note: {why}."
    return {
        **progress(session),
        "summary": [*state.summary, line],
        "messages": [say(said, "evaluate")],
    }


def optimizer_step(name: str):
    """The node running one step of optimizer ``name``."""

    async def step(state: PilotState, runtime: Runtime[RunSession]) -> dict[str, Any]:
        session = runtime.context
        optimizer = session.optimizer(name, state.optimizer_states.get(name))
        before = state.best_dev if state.best_dev is not None else float("-inf")
        scored = await session.search.step(optimizer)
        update = progress(session)
        improved = update.get("best_dev", before) > before
        stagnant = dict(state.stagnant)
        if scored is None:  # nothing left to try with this method
            stagnant[name] = EXHAUSTED
            line = f"{name}: nothing left to try ({session.search.outcome.stop_detail or 'done'})"
            said = f"{info(name).title}: nothing new left to try."
        else:
            stagnant[name] = 0 if improved else stagnant.get(name, 0) + 1
            top = max((s.score for s in scored), default=None)
            found = "no admissible candidate" if top is None else f"best new {top:.3f}"
            line = f"{name}: {len(scored)} scored, {found}, best so far {update['best_dev']:.3f}"
            best = f"best so far {update['best_dev']:.3f}"
            said = (
                f"{info(name).title}: no new prompt scored; {best}"
                if top is None
                else f"{info(name).title}: {len(scored)} new prompts scored on the dev examples, "
                f"the best new one {top:.3f}; {best}"
            )
        return {
            **update,
            "optimizer_states": {**state.optimizer_states, name: optimizer.state_dict()},
            "stagnant": stagnant,
            "preferred": "" if state.preferred == name else state.preferred,
            "summary": [*state.summary, line],
            "messages": [say(said + (" (improved)." if improved else "."), name, kind=NAMED)],
        }

    step.__name__ = f"{name}_step"
    return step


async def report(state: PilotState, runtime: Runtime[RunSession]) -> dict[str, Any]:
    """Stop searching; score the initial and the best prompt on the held-out test split."""
    session = runtime.context
    outcome = await session.search.start()
    if outcome.accepted is not None:
        outcome.stopped = "accepted by user"
    elif state.stop_requested:
        outcome.stopped = "stop requested"
    else:
        outcome.stopped = session.search.exhausted() or "converged"
    tested = await session.report()
    result = build_report(session, outcome, tested, started=session.started)
    payload = result.to_dict()
    difference = result.test_difference
    chosen = f" (#{outcome.best_number}, chosen by you)" if outcome.accepted is not None else ""
    text = (
        f"Best prompt{chosen}: {result.best_prompt!r}. Test: {result.seed_test.mean:.3f} → "
        f"{result.best_test.mean:.3f} ({difference.diff:+.3f}, 95% CI "
        f"[{difference.interval.low:+.3f}, {difference.interval.high:+.3f}], n={difference.n})."
        if difference is not None and result.seed_test and result.best_test
        else f"Best prompt{chosen}: {result.best_prompt!r} (test not scored)."
    )
    return {**progress(session), "report": payload, "messages": [say(text, "report")]}


async def ask_user(state: PilotState, runtime: Runtime[RunSession]) -> dict[str, Any]:
    """Pause the run with a question; the answer arrives as steering when it resumes."""
    question = (
        f"The best prompt so far scores {state.best_dev:.3f} on dev: {state.best_prompt!r}. "
        "Keep searching, change something, or stop?"
        if state.best_dev is not None
        else "How should I proceed?"
    )
    answer = interrupt({"question": question})
    update = await apply_steering(state, runtime.context, [str(answer)])
    return {**update, "messages": [say(question, "ask_user"), *update["messages"]]}


async def pause(state: PilotState, runtime: Runtime[RunSession]) -> dict[str, Any]:
    """Hold the run until the person answers; the answer is steering ("resume", "stop" …).

    The wait is an ``interrupt``: the run is checkpointed as it is, spends
    nothing, and survives a restart (``promptpilot runs resume RUN --answer resume``).
    """
    session = runtime.context
    question = pause_question(session)
    answer = interrupt({"question": question, "kind": "pause"})
    update = await apply_steering(state, session, [str(answer)])
    return {**update, "messages": [say(question, "pause"), *update["messages"]]}


def pause_question(session: RunSession) -> str:
    """What a paused run tells the person: where it stands and how to go on."""
    outcome = session.search.outcome
    where = "Paused before the starting prompt was scored."
    if outcome is not None:
        best = outcome.best_number
        where = (
            f"Paused after {outcome.queries} dev queries; best so far #{best} "
            f"(dev {outcome.best.score:.3f}): {outcome.best.candidate.text!r}."
        )
    return (
        f"{where} Say 'resume' to go on, or steer (e.g. 'try zopo', 'accept 3', "
        "'roll back to 2', 'stop')."
    )


async def finish(state: PilotState, runtime: Runtime[RunSession]) -> dict[str, Any]:
    """Mark the run finished."""
    return {"finished": True}


def initial_state(
    request_config: dict[str, Any], run: str, directives: list[str]
) -> dict[str, Any]:
    """The input that starts a new run."""
    return asdict(PilotState(request=request_config, run=run, directives=directives))
