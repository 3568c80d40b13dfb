"""One browser session's conversation: which message starts a run, which one steers it.

Rules (the app's contract): with no data chosen, the assistant asks for an upload or a
built-in task; once data is loaded, the first message that is not a command is the seed
prompt (an optional ``Goal: …`` line becomes a directive); while a run goes on, every
message goes to the run (steering, or the answer to its question). The chat is the
session's own messages around the attached run's messages. No Gradio here: the UI
calls :func:`respond`, :func:`open_run` and :func:`attach` and shows the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.graph.steering import FollowUp, read_follow_up, read_steering
from optimizers.tasks import BUILTIN_TASKS, DataError
from ui.chat.form import RunForm
from ui.chat.text import (
    ASK_FOR_DATA,
    HELP,
    NO_RUN,
    escape_markdown,
    message,
    plan_text,
    quote,
    user_message,
)
from ui.chat.uploads import DataPreview, builtin_name, data_error_text, preview_data
from ui.live_runs import LiveRuns
from ui.panels.run_view import RunView

_HELP = re.compile(r"^\s*(?:help|\?|what can i (?:say|do)\??)\s*$", re.IGNORECASE)
_BUILTIN = re.compile(
    r"^\s*(?:please\s+)?(?:use|load|open|try)\s+(?:the\s+)?(?:built-?in\s+)?([a-z_]+)"
    r"(?:\s+task)?\s*[.!]?\s*$",
    re.IGNORECASE,
)
_GOAL = re.compile(r"^\s*goal\s*:\s*(.*\S)\s*$", re.IGNORECASE)
_RESUME = re.compile(r"^\s*(?:resume|continue)\s*[.!]?\s*$", re.IGNORECASE)
_PICK = re.compile(r"(?:accept|roll\s*back\s+to)\s+#?(\d+)", re.IGNORECASE)
RESUMABLE = ("stopped", "error")  # an error (endpoint down) resumes from the last checkpoint


@dataclass
class Conversation:
    """The session's state: its data, its run, and the messages outside that run."""

    data: str | None = None  # a request's ``data``: a stored upload or ``builtin:NAME``
    data_label: str = ""
    run: str | None = None
    history: list[dict[str, Any]] = field(default_factory=list)  # before the run's messages
    tail: list[dict[str, Any]] = field(default_factory=list)  # after them

    def messages(self, view: RunView | None) -> list[dict[str, Any]]:
        """The chat as shown: own messages around the attached run's."""
        return [*self.history, *(view.messages if view else []), *self.tail]

    def say(self, text: str, reply: str) -> None:
        """Record an exchange that does not belong to a run."""
        self.tail += [user_message(text), message(reply)]


def split_prompt(text: str) -> tuple[str, str]:
    """The seed prompt and the goal: lines starting with ``Goal:`` are the goal."""
    prompt_lines, goals = [], []
    for line in text.splitlines():
        match = _GOAL.match(line)
        if match:
            goals.append(match.group(1))
        else:
            prompt_lines.append(line)
    return "\n".join(prompt_lines).strip(), " ".join(goals)


def choose_data(conv: Conversation, preview: DataPreview) -> None:
    """The session's data is now ``preview``'s (an upload or a built-in task)."""
    conv.data, conv.data_label = preview.data, preview.label


def respond(conv: Conversation, text: str, form: RunForm, runs: LiveRuns) -> DataPreview | None:
    """Handle one chat message; returns a preview when the message chose new data."""
    text = text.strip()
    if not text:
        return None
    live = runs.get(conv.run) if conv.run else None
    if live is not None and not live.done:
        live.send(text)
        return None
    view = runs.view(conv.run) if conv.run else None
    if _HELP.match(text):
        conv.say(text, HELP)
        return None
    if (match := _BUILTIN.match(text)) and (
        builtin_name(match.group(1)) or re.search(r"built-?in|task\b", text, re.IGNORECASE)
    ):
        return _use_builtin(conv, text, match.group(1), form)
    if _RESUME.match(text) and view is not None and view.status in RESUMABLE:
        _resume(conv, form, runs, said=text)
        return None
    finished = view is not None and view.status == "finished" and view.best_prompt
    follow_up = read_follow_up(text) if finished and conv.data is not None else None
    if view is not None and follow_up is not None:
        _follow_up(conv, text, follow_up, form, runs, view)
        return None
    if read_steering(text, []).command:
        conv.say(text, _pick_reply(text, view) or NO_RUN)
        return None
    if conv.data is None:
        conv.say(text, ASK_FOR_DATA)
        return None
    _start(conv, text, form, runs, view)
    return None


def _follow_up(
    conv: Conversation,
    text: str,
    follow_up: FollowUp,
    form: RunForm,
    runs: LiveRuns,
    view: RunView,
) -> None:
    """A message about the finished run: go on from its best prompt, or hold."""
    if follow_up == "wait":
        conv.say(text, "Nothing is running. Send a prompt to optimize, or *carry on* to "
                       "continue from the best prompt so far.")  # fmt: skip
        return
    rules = (text,) if follow_up == "refine" else ()
    said = "with your rule" if rules else "where the last run ended"
    conv.tail.append(message(f"Continuing from the best prompt so far ({said}); to optimize "
                             "another prompt instead, send it as a longer message."))  # fmt: skip
    _start(conv, text, form, runs, view, prompt=view.best_prompt, rules=rules)


def _use_builtin(conv: Conversation, text: str, name: str, form: RunForm) -> DataPreview | None:
    if builtin_name(name) is None:
        known = ", ".join(sorted(BUILTIN_TASKS))
        conv.say(text, f"There is no built-in task {quote(name)}; the built-in tasks are {known}.")
        return None
    try:
        preview = preview_data(f"builtin:{name}", split=form.split_spec())
    except (DataError, ValueError) as exc:
        conv.say(text, f"⚠️ {escape_markdown(data_error_text(exc, name))}")
        return None
    choose_data(conv, preview)
    conv.say(text, f"{preview.status} Now send the prompt you want to improve.")
    return preview


def _pick_reply(text: str, view: RunView | None) -> str | None:
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


def _start(
    conv: Conversation,
    text: str,
    form: RunForm,
    runs: LiveRuns,
    view: RunView | None,
    *,
    prompt: str | None = None,
    rules: tuple[str, ...] = (),
) -> None:
    """Start a run from ``text`` (its prompt and goal), or from ``prompt`` under ``rules``."""
    goal = None
    if prompt is None:
        prompt, goal = split_prompt(text)
    assert conv.data is not None
    try:
        if not prompt:
            raise ValueError("the message holds only a goal; send the prompt to start from too")
        request = form.request(conv.data, prompt, (goal,) if goal else rules)
        settings = form.runtime_settings(runs.defaults)
        preview = preview_data(
            conv.data, columns=request.columns, split=request.split_spec, label=conv.data_label
        )
    except (DataError, ValueError) as exc:
        problem = data_error_text(exc, conv.data_label) if isinstance(exc, DataError) else str(exc)
        conv.say(text, f"⚠️ I can't start yet: {escape_markdown(problem)}")
        return
    plan = plan_text(
        task=preview.label, sizes=preview.sizes, metric=request.metric,
        template=request.template, budget=request.budget,
        optimizer=form.optimizer, directives=list(request.directives),
    )  # fmt: skip
    steer = [f"try {form.optimizer} now"] if form.optimizer != "auto" else []
    conv.history, conv.tail = conv.messages(view), []
    live = runs.start(request, settings, opening=[user_message(text), message(plan)], steer=steer)
    conv.run = live.run


def _resume(conv: Conversation, form: RunForm, runs: LiveRuns, *, said: str | None) -> str:
    """Continue the attached run; ``said`` is the person's message that asked for it."""
    assert conv.run is not None
    try:
        settings = form.runtime_settings(runs.defaults)
    except ValueError as exc:
        reply = f"⚠️ I can't resume yet: {escape_markdown(str(exc))}"
        conv.tail += [*([user_message(said)] if said else []), message(reply)]
        return reply
    reply = f"Resuming run {escape_markdown(conv.run)} from its last checkpoint…"
    opening = [*conv.tail, *([user_message(said)] if said else []), message(reply)]
    try:
        runs.resume(conv.run, settings, opening=opening)
    except ValueError:  # it failed before its first checkpoint: nothing to resume
        reply = "This run failed before its first step, so there is nothing to resume: send "
        reply += "the prompt again to start a new run."
        conv.tail += [*([user_message(said)] if said else []), message(reply)]
        return reply
    conv.tail = []
    return reply


def attach(conv: Conversation, run: str, runs: LiveRuns) -> bool:
    """Show ``run`` in this session (a reloaded page, a pick in the run list); False if unknown."""
    view = runs.view(run)
    if view is None:
        return False
    if conv.run != run:
        current = runs.view(conv.run) if conv.run else None
        conv.history, conv.tail = conv.messages(current), []
        conv.run = run
    data = view.data
    if data and conv.data is None:
        conv.data, conv.data_label = data, Path(data.removeprefix("builtin:")).name
    return True


def open_run(conv: Conversation, run: str, form: RunForm, runs: LiveRuns) -> str:
    """The Runs panel's button: show ``run``, resuming it if it is unfinished; says what it did."""
    run = run.strip()
    if not run:
        return "Pick a run id from the list first."
    if not attach(conv, run, runs):
        return f"There is no run {escape_markdown(run)} in this app's home."
    view = runs.view(run)
    status = None if view is None else view.status
    if status in RESUMABLE:  # not running here, and not finished: continue it
        return _resume(conv, form, runs, said=None)
    return f"Opened run {escape_markdown(run)} ({escape_markdown(str(status))})."
