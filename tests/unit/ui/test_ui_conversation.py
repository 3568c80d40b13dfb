"""The app's chat logic without Gradio: what starts a run, what steers it, who sees what."""

from __future__ import annotations

import re
import threading
from dataclasses import replace

import pytest

from agent.llm.runtime import RuntimeSettings
from tests.reliability.fault_stub import OPTIMIZER_MODEL, FaultStub
from tests.unit.graph_fixtures import fake_live_runs, write_items
from tests.unit.optimizer_fixtures import prompt_of
from ui.chat.conversation import (
    Conversation,
    attach,
    choose_data,
    open_run,
    respond,
    split_prompt,
    start_pending,
)
from ui.chat.form import ModelForm, RunForm
from ui.chat.text import ASK_FOR_DATA, HELP, NO_RUN, message
from ui.chat.uploads import preview_data
from ui.live_runs import LiveRuns
from ui.panels.run_view import RunView
from ui.panels.stored_view import save_view


@pytest.fixture
def runs(tmp_path, bundled_embedder):
    registry = fake_live_runs(tmp_path / "home", bundled_embedder)
    yield registry
    registry.close()


FORM = RunForm(train=10, dev=8, test=12, budget=2)


def with_data(tmp_path):
    """A session with the 30-item review file chosen."""
    conv = Conversation()
    choose_data(conv, preview_data(str(write_items(tmp_path / "i.jsonl")), split=FORM.split_spec()))
    return conv


def last_reply(conv):
    return conv.messages(None)[-1]["content"]


def test_without_data_the_assistant_asks_for_it_and_commands_need_a_run(runs):
    conv = Conversation()
    assert respond(conv, "Classify the review.", FORM, runs) is None
    assert last_reply(conv) == "Got your prompt. " + ASK_FOR_DATA
    respond(conv, "pause", FORM, runs)
    assert last_reply(conv) == NO_RUN
    respond(conv, "help", FORM, runs)
    assert last_reply(conv) == HELP + "\n\n" + ASK_FOR_DATA
    respond(conv, "   ", FORM, runs)
    assert len(conv.tail) == 6
    assert conv.run is None


def test_a_built_in_task_can_be_chosen_in_words(runs):
    conv = Conversation()
    preview = respond(conv, "use the built-in review_sentiment task", FORM, runs)
    assert preview is not None
    assert conv.data == "builtin:review_sentiment"
    shown = last_reply(conv).replace("\\", "")  # as rendered: escapes gone
    assert shown.startswith("Loaded 100 examples from the built-in review_sentiment task")
    assert "10 train · 8 dev · 12 test" in shown
    assert respond(conv, "use the built-in nonsense task", FORM, runs) is None
    assert "no built-in task" in last_reply(conv)
    assert conv.run is None
    assert conv.data == "builtin:review_sentiment"


def test_the_first_prompt_starts_a_run_then_messages_steer_it(runs, tmp_path):
    data = write_items(tmp_path / "items.jsonl")
    conv, other = Conversation(), Conversation()
    choose_data(conv, preview_data(str(data), split=FORM.split_spec()))
    respond(conv, "Answer the question.\nGoal: keep it under 9 words", FORM, runs)
    assert conv.run is None  # the plan first, then a yes
    proposal = last_reply(conv)
    assert "8 dev" in proposal
    assert "2 prompts evaluated on the dev examples" in proposal
    assert "at most 2 evaluations on the dev examples, about 16 LLM calls" in proposal
    assert "free: the local model" in proposal  # the app's default is the embedded model
    assert "Say **yes**" in proposal
    respond(conv, "yes", FORM, runs)
    assert conv.run is not None
    live = runs.get(conv.run)
    respond(conv, "stop", FORM, runs)  # steering, not a new prompt
    assert live.join(60)
    view = runs.view(conv.run)
    chat = conv.messages(view)
    assert chat[0]["role"] == "user"
    assert [m["content"] for m in chat if m["role"] == "user"] == [
        "Answer the question\\.\nGoal\\: keep it under 9 words",
        "yes",
        "stop",
    ]
    # the proposal and its yes are the run's own messages: a reloaded page shows them
    assert view.messages[0]["content"] == "Answer the question\\.\nGoal\\: keep it under 9 words"
    assert view.report["stopped"] == "stop requested"
    assert view.report["directives"] == ["keep it under 9 words"]
    assert view.request["prompt"] == "Answer the question."
    # another session sees none of it
    assert other.messages(runs.view(other.run) if other.run else None) == []
    # after the run, "accept N" shows the candidate instead of steering nothing
    respond(conv, "accept 0", FORM, runs)
    assert "Candidate #0 (dev " in last_reply(conv)
    # a reloaded page (new session) reattaches by run id
    fresh = Conversation()
    assert attach(fresh, conv.run, runs)
    assert fresh.messages(runs.view(conv.run))[: len(view.messages)] == view.messages
    assert not attach(Conversation(), "no-such-run", runs)
    assert not attach(Conversation(), "../../etc", runs)  # ids come from URLs
    assert "no run" in open_run(Conversation(), "no-such-run", FORM, runs)


def saved_run(runs, run, data, said):
    """A finished run of this home (its saved view) whose chat is one message, ``said``."""
    view = RunView.new(run, {"data": data, "prompt": "Classify it."}, [message(said)])
    view.status = "finished"
    save_view(runs.home, view)


def test_opening_another_run_puts_a_line_naming_it_between_the_transcripts(runs):
    saved_run(runs, "reviews-gpo-1", "/data/reviews.csv", "The first run's step.")
    saved_run(runs, "review_sentiment-zopo-2", "builtin:review_sentiment", "The second's step.")
    conv = Conversation(history=[message("Welcome.")])
    assert attach(conv, "reviews-gpo-1", runs)  # a reloaded page: under the greeting
    assert conv.data == "/data/reviews.csv"
    assert "Opened run" in open_run(conv, "review_sentiment-zopo-2", FORM, runs)
    shown = [m["content"] for m in conv.messages(runs.view(conv.run))]
    assert shown == [
        "Welcome.",
        "— Run reviews\\-gpo\\-1 —",
        "The first run's step.",
        "— Run review\\_sentiment\\-zopo\\-2 —",
        "The second's step.",
    ]
    assert (conv.data, conv.data_label) == ("builtin:review_sentiment", "review_sentiment")
    attach(conv, "review_sentiment-zopo-2", runs)  # the same run again: no second line
    assert len(conv.messages(runs.view(conv.run))) == len(shown)
    fresh = Conversation()  # nothing above: no line
    attach(fresh, "reviews-gpo-1", runs)
    assert [m["content"] for m in fresh.messages(runs.view(fresh.run))] == ["The first run's step."]


def test_bad_settings_are_a_reply_not_a_run(runs, tmp_path):
    conv = with_data(tmp_path)
    respond(conv, "Answer the question.", RunForm(train=10, dev=8, test=12, budget=0), runs)
    assert "budget" in last_reply(conv)
    respond(conv, "Answer the question.", RunForm(train=100, dev=8, test=12), runs)
    assert "need 120 examples" in last_reply(conv)
    assert conv.run is None


def test_split_prompt_takes_goal_lines_out():
    assert split_prompt("Classify it.\nGoal: be brief\nAnswer in one word.") == (
        "Classify it.\nAnswer in one word.",
        "be brief",
    )
    assert split_prompt("Just a prompt") == ("Just a prompt", "")


def test_a_run_that_failed_before_its_first_step_cannot_resume(tmp_path, free_port):
    nowhere = ModelForm(url=f"http://127.0.0.1:{free_port}/v1", model="m")
    form = RunForm(train=10, dev=8, test=12, budget=2, task_model=nowhere, optimizer_model=nowhere)
    runs = LiveRuns(tmp_path / "home", RuntimeSettings())
    conv = with_data(tmp_path)
    respond(conv, "Answer the question.", form, runs)
    respond(conv, "yes", form, runs)
    assert runs.get(conv.run).join(30)
    assert runs.view(conv.run).status == "error"
    respond(conv, "resume", form, runs)
    assert "nothing to resume" in last_reply(conv)


def test_after_a_run_feedback_continues_from_its_best_prompt(runs, tmp_path):
    conv = with_data(tmp_path)
    respond(conv, "Answer the question.", FORM, runs)
    respond(conv, "yes", FORM, runs)
    first = conv.run
    assert runs.get(first).join(60)
    best = runs.view(first).best_prompt

    respond(conv, "hold on", FORM, runs)
    assert conv.run == first  # nothing started
    assert "Nothing is running" in last_reply(conv)

    respond(conv, "make it shorter", FORM, runs)
    second = conv.run
    assert second != first
    assert runs.get(second).join(60)
    request = runs.view(second).request
    assert request["prompt"] == best  # not "make it shorter"
    assert list(request["directives"]) == ["make it shorter"]

    respond(conv, "carry on", FORM, runs)
    third = conv.run
    assert third not in (first, second)
    assert runs.get(third).join(60)
    assert runs.view(third).request["prompt"] == runs.view(second).best_prompt
    assert not runs.view(third).request["directives"]


def test_a_greeting_or_a_question_starts_nothing(runs, tmp_path):
    conv = with_data(tmp_path)
    respond(conv, "hi", FORM, runs)
    assert last_reply(conv).startswith("Hello!")
    respond(conv, "why is everything 0?", FORM, runs)
    assert "wrong shape" in last_reply(conv)
    respond(conv, "what is dev?", FORM, runs)
    assert "**dev** examples score" in last_reply(conv)
    respond(conv, "hmm", FORM, runs)
    assert "not sure what you mean" in last_reply(conv)
    assert conv.run is None
    assert conv.pending is None


def test_a_prompt_waits_for_the_start_button_and_no_cancels(runs, tmp_path):
    conv = with_data(tmp_path)
    respond(conv, "Classify the sentiment of the review.", FORM, runs)
    assert conv.pending is not None
    respond(conv, "no", FORM, runs)
    assert conv.pending is None
    assert "nothing started" in last_reply(conv)
    respond(conv, "Classify the sentiment of the review.", FORM, runs)
    start_pending(conv, FORM, runs)  # the Start button
    assert conv.run is not None
    assert runs.get(conv.run).join(60)
    assert runs.view(conv.run).request["prompt"] == "Classify the sentiment of the review."


def chatty(message: str) -> str:
    """Sentences around the right label: exact scores 0, contains scores 1."""
    item = int(re.findall(r"item (\d+)", message)[-1])
    label = ("positive", "negative")[item % 2]
    if "exactly one of" in message:
        return label
    return f"I think this one is {label}, to be honest."


def test_a_zero_seed_is_explained_during_the_run_and_fix_1_raises_the_score(
    tmp_path, bundled_embedder
):
    runs = fake_live_runs(tmp_path / "home", bundled_embedder, task_model=chatty)
    conv = with_data(tmp_path)
    respond(conv, "Answer the question.", FORM, runs)
    respond(conv, "yes", FORM, runs)
    first = conv.run
    assert runs.get(first).join(60)
    view = runs.view(first)
    said = [m["content"] for m in view.messages]
    assert any("answers in sentences" in text for text in said)
    assert view.diagnosis.fixes[0].value == "Answer with exactly one of: negative, positive."
    respond(conv, "fix 1", FORM, runs)
    second = conv.run
    assert second != first
    assert runs.get(second).join(60)
    fixed = runs.view(second)
    assert fixed.request["prompt"].endswith("Answer with exactly one of: negative, positive.")
    assert fixed.trajectory[0].dev == 1.0  # the seed with the fix already scores
    runs.close()


def test_stop_during_a_step_ends_it_at_the_candidate_being_scored(tmp_path, bundled_embedder):
    entered, gate = threading.Event(), threading.Event()

    def model(message: str) -> str:
        """The seed answers at once; a new candidate waits for the gate (the step is going)."""
        if prompt_of(message) != "Answer the question.":
            entered.set()
            gate.wait(30)
        return "positive"

    runs = fake_live_runs(tmp_path / "home", bundled_embedder, task_model=model)
    conv = with_data(tmp_path)
    respond(conv, "Answer the question.", RunForm(train=10, dev=8, test=12), runs)
    respond(conv, "yes", RunForm(train=10, dev=8, test=12), runs)  # default budget: minutes
    assert entered.wait(60)
    respond(conv, "stop", FORM, runs)  # said while the first candidate is being scored
    gate.set()
    assert runs.get(conv.run).join(60)
    report = runs.view(conv.run).report
    assert report["stopped"] == "stop requested"
    new = [e for e in report["trajectory"] if e["source"] != "seed"]
    assert len(new) == 1  # the step ended at the candidate it was scoring
    runs.close()


def test_a_step_shows_its_candidates_while_they_are_raced(tmp_path, bundled_embedder):
    seen: list[str] = []
    entered, gate = threading.Event(), threading.Event()

    def model(message: str) -> str:
        """The second new candidate waits at the gate: the first has finished a dev block."""
        prompt = prompt_of(message)
        if prompt != "Answer the question." and prompt not in seen:
            seen.append(prompt)
        if len(seen) >= 2 and prompt == seen[1]:
            entered.set()
            gate.wait(30)
        return "positive"

    runs = fake_live_runs(tmp_path / "home", bundled_embedder, task_model=model)
    conv = with_data(tmp_path)
    form = RunForm(train=10, dev=8, test=12)
    respond(conv, "Answer the question.", form, runs)
    respond(conv, "yes", form, runs)
    assert entered.wait(60)
    live = runs.get(conv.run)
    shown = live.snapshot().messages
    pending = [m for m in shown if m.get("metadata", {}).get("status") == "pending"]
    assert len(pending) == 1
    title = pending[0]["metadata"]["title"].replace("\\", "")  # as rendered
    assert re.fullmatch(r"Scoring new prompts… candidate \d+ of \d+, 5 of 8 dev examples", title)
    assert pending[0]["content"].startswith("- candidate 1 of ")
    respond(conv, "stop", form, runs)
    gate.set()
    assert live.join(60)
    runs.close()


def test_a_capable_endpoint_in_settings_reads_free_feedback(runs, tmp_path):
    stub = FaultStub({}).start()
    try:
        form = replace(FORM, optimizer_model=ModelForm(url=stub.base_url, model=OPTIMIZER_MODEL))
        conv = with_data(tmp_path)
        respond(conv, "Answer the question.", FORM, runs)
        respond(conv, "yes", FORM, runs)
        first = conv.run
        assert runs.get(first).join(60)
        respond(conv, "honestly I expected it to feel warmer", form, runs)
        assert conv.run != first  # read as feedback with a rule: it continued at once
        assert runs.get(conv.run).join(60)
        request = runs.view(conv.run).request
        assert request["prompt"] == runs.view(first).best_prompt
        assert list(request["directives"]) == ["sound warmer"]
        assert stub.ledger.paid == 1
    finally:
        stub.stop()
