"""What the assistant answers when a message asks rather than acts.

Greetings, questions ("what can you do?", "why is everything 0?", "how long will it
take?"), messages it could not place, the offer to start (prompt, data, plan, cost and
time, then a yes), the explanation of a zero score with its fixes, and a candidate
asked for after the run. Plain words: "LLM calls", "evaluations on the dev examples",
the cost of a local model. No Gradio.
"""

from __future__ import annotations

import re

from agent.graph.reading import Reading
from optimizers.budget import DEFAULT_MAX_CALLS, DEFAULT_MAX_SECONDS, Budget
from optimizers.diagnostics.low_score import LowScore
from ui.chat.text import ASK_FOR_DATA, HELP, escape_markdown, quote
from ui.panels.run_view import RunView

_PICK = re.compile(r"(?:accept|roll\s*back\s+to)\s+#?(\d+)", re.IGNORECASE)

START_HINT = "Say **yes** or press **Start** to begin; say *no* to change something first."

WORDS = (
    "**train** examples can be shown to the model as demonstrations; **dev** examples score "
    "every candidate prompt during the search; **test** examples are held out and scored "
    "once, at the end, for your prompt and the best one, so the final numbers are honest. "
    "An **evaluation** is one prompt scored on the dev examples; an **LLM call** is one "
    "request to a model (answers already seen come from a cache and cost nothing)."
)


def greeting(has_data: bool, live: bool) -> str:
    """Hello back, and the one next step."""
    if live:
        return "Hello! The run is going on; say *stop* or *pause* any time, or ask how it goes."
    if has_data:
        return "Hello! Send the prompt you want to improve and I'll show you the plan first."
    return "Hello! " + ASK_FOR_DATA


def unclear(reading: Reading) -> str:
    """Say what the message was taken for, and what would work."""
    return (
        f"I'm not sure what you mean by {quote(reading.text, 120)} (I read it as "
        f"{escape_markdown(reading.understood)}). Send the prompt you want to improve, or ask "
        "*what can you do?*"
    )


def answer(reading: Reading, view: RunView | None, *, has_data: bool) -> str:
    """The answer to a question, from what the chat knows."""
    topic = reading.topic
    if topic == "zero":
        return zero_answer(view)
    if topic == "words":
        return WORDS
    if topic == "cost":
        return cost_text(Budget.default(), local=True)
    if topic == "status":
        return status_text(view)
    if topic == "abilities" or not has_data:
        return HELP if has_data else HELP + "\n\n" + ASK_FOR_DATA
    return (
        f"I can't answer that one ({escape_markdown(reading.understood)}). I can improve a "
        "prompt on your examples, explain scores (*why is everything 0?*), and say how a run "
        "goes (*how is it going?*). " + HELP
    )


def cost_text(budget: Budget, *, local: bool, dev: int | None = None) -> str:
    """What a run will cost and how long it takes, before it starts."""
    price = " (free: the local model)" if local else ""
    if budget.max_queries and not budget.max_calls and not budget.max_seconds:
        calls = f", about {budget.max_queries * dev} LLM calls" if dev else ""
        return (
            f"Cost: at most {budget.max_queries} evaluations on the dev examples{calls}{price}. "
            "Time: a few seconds per evaluation on the local model, then the test split is "
            "scored."
        )
    seconds = budget.max_seconds or DEFAULT_MAX_SECONDS
    return (
        f"Cost: at most {budget.max_calls or DEFAULT_MAX_CALLS} LLM calls{price}. Time: the "
        f"search stops after {seconds / 60:.1f} minutes at most, then the test split is "
        "scored: about 3 to 5 minutes on a laptop."
    )


def status_text(view: RunView | None) -> str:
    """How the attached run is going."""
    if view is None:
        return "No run yet. Send the prompt you want to improve."
    best = "none yet" if view.best_dev is None else f"{view.best_dev:.3f}"
    calls = view.used.calls
    limit = f" of {view.limits.max_calls}" if view.limits.max_calls else ""
    state = {"running": "is going on", "waiting": "waits for your answer",
             "finished": "has finished", "stopped": "was stopped",
             "error": "stopped with an error", "starting": "is starting"}  # fmt: skip
    return (
        f"The run {state.get(view.status, escape_markdown(view.status))}: "
        f"{len(view.trajectory)} prompts scored, best on dev {best}, {calls}{limit} LLM calls "
        f"used in {view.used.seconds:.0f} s."
    )


def zero_answer(view: RunView | None) -> str:
    """Why the scores are zero, from the run's diagnosis when there is one."""
    if view is not None and view.diagnosis is not None:
        return diagnosis_text(view.diagnosis)
    return (
        "A score of 0 usually means the answers have the wrong shape, not that the prompt is "
        "bad: the model writes a sentence while the metric (*exact*) wants one word, or it "
        "never uses one of the labels, or its answers are cut at the token limit. Start a run "
        "and I'll look at the failures and say which, with a fix you can accept in one word."
    )


def diagnosis_text(diagnosis: LowScore) -> str:
    """The zero explained in one sentence, and the fixes as one-word choices."""
    lines = [
        f"⚠️ Your prompt scores {diagnosis.mean:.2f} on the dev examples. "
        f"{escape_markdown(diagnosis.sentence)}"
    ]
    if diagnosis.fixes:
        offers = "; ".join(
            f"**fix {number}**: {escape_markdown(fix.label)}"
            for number, fix in enumerate(diagnosis.fixes, start=1)
        )
        lines.append(
            f"To fix it: {offers}. Say *fix 1* (or another number) and I'll start again "
            "with it, once no run is going on."
        )
    return "\n\n".join(lines)


def pick_reply(text: str, view: RunView | None) -> str | None:
    """After a run: "accept N" shows candidate N, to copy or to start from."""
    match = _PICK.search(text)
    if match is None or view is None or not view.trajectory:
        return None
    number = int(match.group(1))
    trajectory = view.trajectory
    if number >= len(trajectory):
        return f"The run has candidates #0 to #{len(trajectory) - 1}; there is no #{number}."
    picked = trajectory[number]
    return (
        f"The run is over, so there is nothing to steer. Candidate #{number} "
        f"(dev {picked.dev:.3f}) is {quote(picked.prompt, 1000)}: "
        "send it as a new prompt to optimize from there."
    )
