"""The message reader: one table of what people write, and what each is taken for."""

from __future__ import annotations

import pytest

from agent.graph.reading import Situation, read_message

IDLE = Situation(has_data=True)  # data loaded, nothing run yet
NO_DATA = Situation()
LIVE = Situation(has_data=True, live=True, directives=("keep it under 30 words",))
FINISHED = Situation(has_data=True, finished=True)
ASKED = Situation(has_data=True, awaiting_start=True)
ZERO = Situation(has_data=True, finished=True, fixes=2)

TABLE = [
    # greetings and thanks start nothing, whatever the situation
    ("hi", IDLE, "greeting"),
    ("Hello!", NO_DATA, "greeting"),
    ("hey there", FINISHED, "greeting"),
    ("good morning", IDLE, "greeting"),
    ("thanks!", FINISHED, "greeting"),
    ("thank you so much :)", LIVE, "greeting"),
    # questions to the assistant
    ("what can you do?", NO_DATA, "question"),
    ("help", IDLE, "question"),
    ("how does this work?", IDLE, "question"),
    ("why is everything 0?", FINISHED, "question"),
    ("why are all the scores zero", IDLE, "question"),
    ("how long will a run take?", IDLE, "question"),
    ("what is dev?", FINISHED, "question"),
    ("how is it going?", LIVE, "question"),
    ("can you explain the results to me?", FINISHED, "question"),
    # data choice
    ("use the built-in review_sentiment task", NO_DATA, "data"),
    ("load word_count", IDLE, "data"),
    # prompts to improve (each asks for a yes before anything starts)
    ("Answer the question.", IDLE, "prompt"),
    ("Classify the sentiment of this review.", IDLE, "prompt"),
    ("Is this review positive or negative?", IDLE, "prompt"),
    ("What is the capital of the given country?", IDLE, "prompt"),
    ("Translate the sentence into French.\nKeep names as they are.", IDLE, "prompt"),
    ("Summarize the text in one sentence.", NO_DATA, "prompt"),
    ("Rewrite the sentence so it means the opposite.", FINISHED, "prompt"),
    # steering of a live run
    ("stop", LIVE, "steer"),
    ("pause", LIVE, "steer"),
    ("resume", LIVE, "steer"),
    ("try zopo now", LIVE, "steer"),
    ("switch to gpo", LIVE, "steer"),
    ("budget 40", LIVE, "steer"),
    ("accept 7", LIVE, "steer"),
    ("roll back to 3", LIVE, "steer"),
    ("remove the 30 words rule", LIVE, "steer"),
    ("keep it under 20 words", LIVE, "steer"),
    ("the prompts look too long to me", LIVE, "steer"),
    # feedback on a finished run
    ("carry on", FINISHED, "feedback"),
    ("make it shorter", FINISHED, "feedback"),
    ("please make the prompt sound friendlier", FINISHED, "feedback"),
    ("it should mention refunds", FINISHED, "feedback"),
    ("hold on", FINISHED, "feedback"),
    ("again", FINISHED, "feedback"),
    ("can it be a bit warmer?", FINISHED, "feedback"),
    ("honestly I expected it to feel warmer", FINISHED, "feedback"),
    ("I think it looks fine", IDLE, "unclear"),
    # answers to "shall I start?"
    ("yes", ASKED, "confirm"),
    ("ok, go", ASKED, "confirm"),
    ("yes please, start it", ASKED, "confirm"),
    ("Sure!", ASKED, "confirm"),
    ("start", ASKED, "confirm"),
    ("no", ASKED, "decline"),
    ("cancel", ASKED, "decline"),
    ("Answer with one word.", ASKED, "prompt"),  # a new prompt replaces the waiting one
    # a fix offered for a zero score
    ("fix 1", ZERO, "fix"),
    ("apply fix 2", ZERO, "fix"),
    ("fix 1", FINISHED, "unclear"),  # none offered
    # ambiguous: nothing starts, the reader says it is unsure
    ("hmm", IDLE, "unclear"),
    ("ok", IDLE, "unclear"),
    ("please make the prompt sound friendlier", IDLE, "unclear"),
    ("stop", IDLE, "steer"),  # a command with no run: answered, nothing starts
]


@pytest.mark.parametrize(("text", "situation", "intent"), TABLE, ids=[t for t, _, _ in TABLE])
def test_each_message_is_read_as_a_person_means_it(text, situation, intent):
    reading = read_message(text, situation)
    assert reading.intent == intent, reading.understood
    assert reading.understood  # it can always say what it took the message for


def test_the_table_is_large_enough():
    assert len(TABLE) >= 40


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("why is everything 0?", "zero"),
        ("what can you do?", "abilities"),
        ("how long will a run take?", "cost"),
        ("what is dev?", "words"),
        ("how is it going?", "status"),
    ],
)
def test_questions_carry_their_topic(text, topic):
    assert read_message(text, FINISHED).topic == topic


def test_live_steering_keeps_what_it_asked_for():
    assert read_message("try zopo now", LIVE).steering.optimizer == "zopo"
    assert read_message("remove the 30 words rule", LIVE).steering.remove_directives == [
        "keep it under 30 words"
    ]
    assert read_message("keep it under 20 words", LIVE).steering.add_directives == [
        "keep it under 20 words"
    ]


def test_unplaced_words_during_a_run_go_to_the_planner_marked_unsure():
    reading = read_message("the prompts look too long to me", LIVE)
    assert reading.unsure
    assert reading.understood == "a note for the planner"
    assert read_message("stop", LIVE).understood == "stop the run"


def test_feedback_says_how_it_continues():
    assert read_message("carry on", FINISHED).follow_up == "continue"
    assert read_message("make it shorter", FINISHED).follow_up == "refine"
    assert read_message("hold on", FINISHED).follow_up == "wait"


def test_data_names_the_built_in_task_even_an_unknown_one():
    assert read_message("use the built-in review_sentiment task", IDLE).builtin == (
        "review_sentiment"
    )
    assert read_message("use the built-in nonsense task", IDLE).builtin == "nonsense"
    assert read_message("use a shorter sentence", IDLE).intent != "data"


def test_a_prompt_without_data_says_so():
    assert "no data" in read_message("Summarize the text in one sentence.", NO_DATA).understood


def test_a_fix_names_its_choice():
    assert read_message("apply fix 2", ZERO).choice == 2
