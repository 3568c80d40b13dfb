"""One browser session's conversation: what each message means, and what it starts.

Every message is read by :func:`agent.graph.reading.read_message` in the session's
situation (what it is unsure of goes to the optimizer endpoint of Settings, when that is
a capable model: :func:`agent.graph.model_reading.read_with_endpoint`): a greeting or a
question is answered and starts nothing; a built-in task's name chooses the data; a
prompt gets the plan, the cost and the time, and starts only on a yes (or the Start
button); while a run goes on, steering goes to it and questions are answered beside it;
after a run, feedback ("make it shorter", "carry on") continues from its best prompt; a
zero score's offered fixes are taken with "fix 1". The chat is the session's own
messages around the attached run's messages. No Gradio here: the UI calls
:func:`respond`, :func:`start_pending`, :func:`open_run` and :func:`attach`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agent.graph.model_reading import read_with_endpoint
from agent.graph.reading import Reading, Situation, read_message
from optimizers.tasks import BUILTIN_TASKS, DataError
from ui.chat.answers import START_HINT, answer, cost_text, greeting, pick_reply, unclear
from ui.chat.form import RunForm
from ui.chat.text import (
    ASK_FOR_DATA,
    NO_RUN,
    escape_markdown,
    message,
    plan_text,
    quote,
    user_message,
)
from ui.chat.uploads import DataPreview, builtin_name, data_error_text, preview_data
from ui.live_run import LiveRun
from ui.live_runs import LiveRuns
from ui.panels.run_view import RunView

_GOAL = re.compile(r"^\s*goal\s*:\s*(.*\S)\s*$", re.IGNORECASE)
RESUMABLE = ("stopped", "error")  # an error (endpoint down) resumes from the last checkpoint
STARTED = (
    "Started. Progress shows here and in **Inspect**; say *stop* or *pause* any time, or "
    "steer (*try zopo now*, *keep it under 30 words*)."
)


@dataclass(frozen=True)
class PendingStart:
    """A run proposed and waiting for a yes: its prompt, its rules, and any fix's overrides."""

    prompt: str
    goal: str = ""
    rules: tuple[str, ...] = ()
    metric: str | None = None  # a fix: score with another metric
    max_tokens: int | None = None  # a fix: a longer answer cap


@dataclass
class Conversation:
    """The session's state: its data, its run, the start it proposed, its own messages."""

    data: str | None = None  # a request's ``data``: a stored upload or ``builtin:NAME``
    data_label: str = ""
    run: str | None = None
    pending: PendingStart | None = None
    proposed_at: int = 0  # where in ``tail`` the waiting proposal's exchange begins
    history: list[dict[str, Any]] = field(default_factory=list)  # before the run's messages
    tail: list[dict[str, Any]] = field(default_factory=list)  # after them

    def messages(self, view: RunView | None) -> list[dict[str, Any]]:
        """The chat as shown: own messages around the attached run's."""
        return [*self.history, *(view.messages if view else []), *self.tail]

    def say(self, text: str, reply: str) -> None:
        """Record an exchange that does not belong to a run."""
        self.tail += [*([user_message(text)] if text else []), message(reply)]


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


def situation(conv: Conversation, live: LiveRun | None, view: RunView | None) -> Situation:
    """What the reader needs to know about this session (its live run and the run's view)."""
    finished = view is not None and view.status == "finished" and bool(view.best_prompt)
    fixes = len(view.diagnosis.fixes) if view is not None and view.diagnosis else 0
    directives = tuple(view.request.get("directives") or ()) if view is not None else ()
    return Situation(
        has_data=conv.data is not None, live=live is not None, finished=finished,
        awaiting_start=conv.pending is not None, directives=directives, fixes=fixes,
    )  # fmt: skip


def _live(conv: Conversation, runs: LiveRuns) -> LiveRun | None:
    live = runs.get(conv.run) if conv.run else None
    return live if live is not None and not live.done else None


def respond(conv: Conversation, text: str, form: RunForm, runs: LiveRuns) -> DataPreview | None:
    """Handle one chat message; returns a preview when the message chose new data."""
    text = text.strip()
    if not text:
        return None
    live, view = _live(conv, runs), runs.view(conv.run) if conv.run else None
    now = situation(conv, live, view)
    reading = read_message(text, now)
    if reading.unsure:  # a capable optimizer endpoint (Settings) may read it better
        reading = read_with_endpoint(text, now, form.runtime_settings(runs.defaults))
    if live is not None:
        _during_run(live, reading, view)
        return None
    if reading.intent == "data":
        return _use_builtin(conv, text, reading.builtin or "", form)
    if reading.intent == "confirm":
        start_pending(conv, form, runs, said=text)
    elif reading.intent == "decline":
        conv.pending = None
        conv.say(text, "OK, nothing started. Change the prompt or the settings and send it again.")
    elif reading.intent in ("greeting", "question"):
        reply = (
            greeting(conv.data is not None, live=False)
            if reading.intent == "greeting"
            else (answer(reading, view, has_data=conv.data is not None))
        )
        conv.say(text, reply)
    elif reading.intent == "steer":
        _steer_without_run(conv, reading, form, runs, view)
    elif reading.intent == "feedback" and view is not None:
        _follow_up(conv, reading, form, runs, view)
    elif reading.intent == "fix" and view is not None:
        _fix(conv, reading, form, runs, view)
    elif reading.intent == "prompt":
        prompt, goal = split_prompt(text)
        _propose(conv, text, form, runs, PendingStart(prompt, goal))
    else:
        conv.say(text, unclear(reading))
    return None


def _during_run(live: LiveRun, reading: Reading, view: RunView | None) -> None:
    """Steering goes to the run; greetings and questions are answered beside it."""
    if reading.intent == "greeting":
        live.say(reading.text, greeting(True, live=True))
    elif reading.intent == "question" and (view is None or view.status != "waiting"):
        live.say(reading.text, answer(reading, view, has_data=True))
    else:
        urgent = reading.steering is not None and reading.steering.urgent
        live.send(reading.text, reading.understood, urgent=urgent)


def _steer_without_run(
    conv: Conversation, reading: Reading, form: RunForm, runs: LiveRuns, view: RunView | None
) -> None:
    steering = reading.steering
    if steering is not None and steering.resume and view is not None and view.status in RESUMABLE:
        _resume(conv, form, runs, said=reading.text)
        return
    conv.say(reading.text, pick_reply(reading.text, view) or NO_RUN)


def _follow_up(
    conv: Conversation, reading: Reading, form: RunForm, runs: LiveRuns, view: RunView
) -> None:
    """A message about the finished run: go on from its best prompt, or hold."""
    if reading.follow_up == "wait":
        conv.say(reading.text, "Nothing is running. Send a prompt to optimize, or *carry on* "
                               "to continue from the best prompt so far.")  # fmt: skip
        return
    rules = (reading.rule,) if reading.follow_up == "refine" and reading.rule else ()
    pending = PendingStart(view.best_prompt, rules=rules)
    if reading.unsure:  # say what was understood, and wait for a yes
        _propose(conv, reading.text, form, runs, pending, intro=(
            f"I read this as {escape_markdown(reading.understood)}: continue from the best "
            f"prompt with the rule {quote(reading.rule or reading.text, 200)}."
        ))  # fmt: skip
        return
    said = "with your rule" if rules else "where the last run ended"
    conv.say(reading.text, f"Continuing from the best prompt so far ({said}); to optimize "
                           "another prompt instead, send it.")  # fmt: skip
    _start(conv, form, runs, pending)


def _fix(
    conv: Conversation, reading: Reading, form: RunForm, runs: LiveRuns, view: RunView
) -> None:
    """Start again from the run's first prompt with the chosen fix."""
    assert view.diagnosis is not None
    fixes = view.diagnosis.fixes
    choice = reading.choice or 0
    if not 1 <= choice <= len(fixes):
        conv.say(reading.text, f"There are fixes 1 to {len(fixes)}; say *fix 1* for the first.")
        return
    fix = fixes[choice - 1]
    seed = view.seed_prompt
    if fix.kind == "output_spec":
        pending = PendingStart(f"{seed.rstrip()} {fix.value}")
    elif fix.kind == "metric":
        pending = PendingStart(seed, metric=fix.value)
    else:
        pending = PendingStart(seed, max_tokens=int(fix.value))
    conv.say(reading.text, f"Starting again with fix {choice}: {escape_markdown(fix.label)}.")
    _start(conv, form, runs, pending)


def _propose(
    conv: Conversation,
    text: str,
    form: RunForm,
    runs: LiveRuns,
    pending: PendingStart,
    *,
    intro: str = "",
) -> None:
    """Show what would start (prompt, data, plan, cost, time) and wait for a yes."""
    if conv.data is None:
        conv.pending = None
        conv.say(text, "Got your prompt. " + ASK_FOR_DATA)
        return
    planned = _plan(conv, form, runs, pending)
    if isinstance(planned, str):
        conv.say(text, planned)
        return
    conv.pending, conv.proposed_at = pending, len(conv.tail)
    shown = f"The prompt: {quote(pending.prompt, 500)}"
    conv.say(text, "\n\n".join(part for part in (intro, shown, planned[1], START_HINT) if part))


def start_pending(conv: Conversation, form: RunForm, runs: LiveRuns, *, said: str = "") -> None:
    """Start the proposed run (on "yes" or the Start button)."""
    pending, conv.pending = conv.pending, None
    if pending is None:
        conv.say(said, "There is nothing waiting to start: send the prompt you want to improve.")
        return
    if said:
        conv.tail.append(user_message(said))
    # The proposal and its yes belong to the run: a reloaded page shows them with it.
    at = min(conv.proposed_at, len(conv.tail))
    exchange, conv.tail = conv.tail[at:], conv.tail[:at]
    _start(conv, form, runs, pending, opening=[*exchange, message(STARTED)])


def _plan(
    conv: Conversation, form: RunForm, runs: LiveRuns, pending: PendingStart
) -> tuple[Any, str] | str:
    """The request and its plan in words, or what is wrong (a message)."""
    assert conv.data is not None
    try:
        if not pending.prompt:
            raise ValueError("the message holds only a goal; send the prompt to start from too")
        rules = (pending.goal,) if pending.goal else pending.rules
        request = form.request(conv.data, pending.prompt, rules)
        if pending.metric is not None:
            request = replace(request, metric=pending.metric)
        preview = preview_data(
            conv.data, columns=request.columns, split=request.split_spec, label=conv.data_label
        )
    except (DataError, ValueError) as exc:
        problem = data_error_text(exc, conv.data_label) if isinstance(exc, DataError) else str(exc)
        return f"⚠️ I can't start yet: {escape_markdown(problem)}"
    plan = plan_text(
        task=preview.label, sizes=preview.sizes, metric=request.metric,
        template=request.template, budget=request.budget,
        optimizer=form.optimizer, directives=list(request.directives),
    )  # fmt: skip
    local = runs.defaults.task.embedded and not form.task_model.url.strip()
    cost = cost_text(request.budget, local=local, dev=preview.sizes.get("dev"))
    return request, plan + "\n\n" + cost


def _start(
    conv: Conversation,
    form: RunForm,
    runs: LiveRuns,
    pending: PendingStart,
    *,
    opening: list[dict[str, Any]] | None = None,
) -> None:
    """Start ``pending`` now; the run's chat opens with ``opening``, or else with the plan.

    If it cannot start, what ``opening`` held (the person's words) stays in the chat.
    """
    planned = _plan(conv, form, runs, pending)
    try:
        if isinstance(planned, str):
            raise ValueError(planned)
        request, plan = planned
        settings = form.runtime_settings(runs.defaults)
    except ValueError as exc:
        shown = (
            str(exc)
            if isinstance(planned, str)
            else (f"⚠️ I can't start yet: {escape_markdown(str(exc))}")
        )
        conv.tail += [m for m in opening or () if m.get("content") != STARTED]
        conv.say("", shown)
        return
    if pending.max_tokens is not None:
        settings = replace(settings, task=replace(settings.task, max_tokens=pending.max_tokens))
    steer = [f"try {form.optimizer} now"] if form.optimizer != "auto" else []
    view = runs.view(conv.run) if conv.run else None
    conv.history, conv.tail = conv.messages(view), []
    live = runs.start(request, settings, opening=opening or [message(plan)], steer=steer)
    conv.run = live.run


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
    """Show ``run`` in this session (a reloaded page, a pick in the run list); False if unknown.

    What the chat showed stays above the run's messages, under a line naming the run; the
    session takes the run's data (what the Data tab shows and "carry on" continues with).
    """
    view = runs.view(run)
    if view is None:
        return False
    switched = conv.run != run
    if switched:
        current = runs.view(conv.run) if conv.run else None
        before = conv.messages(current)
        separator = message(f"— Run {escape_markdown(run)} —")
        conv.history, conv.tail = [*before, separator] if before else [], []
        conv.run = run
    data = view.data
    if data and (switched or conv.data is None) and data != conv.data:
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
