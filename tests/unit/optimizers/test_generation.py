from __future__ import annotations

import random

import pytest

from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.propose.cleaning import MAX_WORDS, clean_instruction, normalise_key
from optimizers.propose.generation import (
    Sampling,
    ape_message,
    induce_instructions,
    paraphrase,
)
from optimizers.tasks.example import Example
from tests.fakes import fake_backend
from tests.unit.optimizer_fixtures import TRAIN, proposer_model

DEMOS = (
    Example(id="1", input="The soup was cold and the waiter rude.", targets=("negative",)),
    Example(id="2", input="Loved it.", targets=("positive",)),
)


def caller(rule) -> ChatCaller:
    return ChatCaller(fake_backend(rule))


# ------------------------------------------------------------------------------ cleaning

# Replies of the kind SmolLM2-135M gives to the APE request (several seen verbatim).
CLEANED = [
    (
        "The instruction was to classify each review as positive or negative.",
        "Classify each review as positive or negative.",
    ),
    (
        "The sentence is: The instruction was to no more than five positive inputs.",
        "No more than five positive inputs.",
    ),
    (
        "The instructions are to fill in the missing ending. The sentence is filled with neg",
        "Fill in the missing ending.",
    ),
    ("The instructions were to complete the sentence", "Complete the sentence."),
    (
        "The instruction is to:\n- Complete the sentence with a hyphen (-)",
        "Complete the sentence with a hyphen (-).",
    ),
    (
        "The instruction is to: Write the output of each input.\nOutput: positive",
        "Write the output of each input.",
    ),
    (
        "classify the review\n\nInput: Loved it.\nOutput: positive",
        "Classify the review.",
    ),
    ('Sure! Instruction: "to classify the sentiment"', "Classify the sentiment."),
    (
        "I want you to decide if the review is positive or negative. I hope this helps!",
        "Decide if the review is positive or negative.",
    ),
    (
        "The instructions that produced these outputs were to help users write better.\n"
        "I hope this helps someone in need!",
        "Help users write better.",
    ),
    (
        "<|im_start|>**Label the review** as good or bad<|im_end|>",
        "Label the review as good or bad.",
    ),
    ('"Answer with the sentiment of the review".', "Answer with the sentiment of the review."),
    (
        "The new instruction is to decide whether the review has a positive or negative tone.",
        "Decide whether the review has a positive or negative tone.",
    ),
    ('The instruction was to "Amara a la vida" in Spanish.', '"Amara a la vida" in Spanish.'),
]


@pytest.mark.parametrize(("raw", "expected"), CLEANED)
def test_cleaning_turns_typical_tiny_model_replies_into_instructions(raw, expected):
    cleaned = clean_instruction(raw, demos=DEMOS)
    assert cleaned.ok, cleaned
    assert cleaned.text == expected


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "empty reply"),
        ("   \n ", "empty reply"),
        ("The instruction was to", "nothing left"),
        ("positive", "too short"),
        ("Task: output negative", "too short"),
        (" ".join(["word"] * (MAX_WORDS + 1)), "too long"),
        ("The instruction was to loved it.", "too short"),
        ("The soup was cold and the waiter rude.", "echoes the input of demo 1"),
        ("Say: the soup was cold and the waiter rude, please.", "contains the input of demo 1"),
    ],
)
def test_cleaning_rejects_what_is_not_an_instruction(raw, problem):
    cleaned = clean_instruction(raw, demos=DEMOS)
    assert not cleaned.ok
    assert cleaned.problem.startswith(problem)


def test_cleaning_notes_say_what_was_done():
    cleaned = clean_instruction("The instruction was to classify the review")
    assert cleaned.notes == ("stripped 'The instruction was to'", "capitalised", "added a period")


def test_dedup_key_ignores_case_whitespace_and_end_punctuation():
    assert normalise_key("Classify  the Review.") == normalise_key("classify the review")
    assert normalise_key("Classify the review.") != normalise_key("Classify the reviews.")


def test_ape_message_shows_the_demos_and_the_constraints():
    text = ape_message(DEMOS, ["at most 10 words"])
    assert "Input: Loved it.\nOutput: positive" in text
    assert "- at most 10 words" in text
    assert text.endswith('begins with "The instruction was to".')
    assert "constraints" not in ape_message(DEMOS)


# ---------------------------------------------------------------------------- induction


async def test_induction_samples_distinct_indices_and_cleans():
    chat = caller(proposer_model)
    log = []
    got = await induce_instructions(
        chat, TRAIN, Sampling(n=6, rng=random.Random(0), start_sample=7, log=log)
    )
    assert 1 <= len(got) <= 6
    assert all(p.kept and p.source == "ape" and p.text[0].isupper() for p in got)
    assert all(p.text.endswith(".") for p in got)
    assert len({normalise_key(p.text) for p in got}) == len(got)
    assert chat.usage.calls == len(log) <= 12
    assert sorted(p.sample for p in log) == list(range(7, 7 + len(log)))
    assert [p for p in log if p.kept] == got
    for record in log:
        assert record.raw.startswith("The instruction was to")


async def test_induction_is_reproducible_with_the_same_rng():
    first = await induce_instructions(
        caller(proposer_model), TRAIN, Sampling(n=5, rng=random.Random(3))
    )
    again = await induce_instructions(
        caller(proposer_model), TRAIN, Sampling(n=5, rng=random.Random(3))
    )
    assert [p.text for p in first] == [p.text for p in again]


async def test_junk_only_model_costs_at_most_two_calls_per_prompt():
    chat = caller(lambda message: "ok")
    log = []
    got = await induce_instructions(chat, TRAIN, Sampling(n=5, rng=random.Random(0), log=log))
    assert got == []
    assert chat.usage.calls == 10
    assert len(log) == 10
    assert all(not p.kept and p.reason.startswith("too short") for p in log)


async def test_the_same_answer_every_time_is_kept_once():
    chat = caller(lambda message: "The instruction was to classify the review.")
    log = []
    got = await induce_instructions(chat, TRAIN, Sampling(n=4, rng=random.Random(0), log=log))
    assert [p.text for p in got] == ["Classify the review."]
    assert chat.usage.calls == 8
    assert sum(p.reason == "duplicate of an earlier prompt" for p in log) == 7


async def test_known_prompts_count_as_duplicates_and_attempts_can_be_capped():
    chat = caller(lambda message: "The instruction was to classify the review.")
    got = await induce_instructions(
        chat,
        TRAIN,
        Sampling(n=3, rng=random.Random(0), exclude=["classify the REVIEW"], max_attempts=2),
    )
    assert got == []
    assert chat.usage.calls == 2


async def test_failed_calls_cost_one_sample_not_the_run():
    def flaky(message: str) -> str:
        if "item 0:" in message:
            raise RuntimeError("HTTP 400: rejected")
        return proposer_model(message)

    log = []
    got = await induce_instructions(
        caller(flaky), TRAIN, Sampling(n=4, rng=random.Random(1), log=log)
    )
    assert got
    failed = [p for p in log if p.reason.startswith("call failed")]
    assert failed
    assert all(p.text == "" for p in failed)


async def test_induction_checks_its_arguments():
    with pytest.raises(ValueError, match="train split is empty"):
        await induce_instructions(caller(proposer_model), (), Sampling(n=2, rng=random.Random(0)))
    with pytest.raises(ValueError, match="n must be"):
        await induce_instructions(
            caller(proposer_model), TRAIN, Sampling(n=-1, rng=random.Random(0))
        )
    assert (
        await induce_instructions(
            caller(proposer_model), TRAIN, Sampling(n=0, rng=random.Random(0))
        )
        == []
    )


async def test_directives_reach_the_request():
    seen = []

    def rule(message: str) -> str:
        seen.append(message)
        return proposer_model(message)

    await induce_instructions(
        caller(rule), TRAIN, Sampling(n=1, rng=random.Random(0), directives=("at most 30 words",))
    )
    await paraphrase(
        caller(rule), "Classify it.", Sampling(n=1, rng=random.Random(0), directives=("in French",))
    )
    assert "- at most 30 words" in seen[0]
    assert "- in French" in seen[-1]


# --------------------------------------------------------------------------- paraphrase


async def test_paraphrases_are_parsed_cleaned_and_distinct():
    chat = caller(proposer_model)
    log = []
    prompt = "Classify the review."
    got = await paraphrase(chat, prompt, Sampling(n=3, rng=random.Random(0), log=log))
    assert 1 <= len(got) <= 3
    assert chat.usage.calls <= 6
    for p in got:
        assert p.source == "paraphrase"
        assert p.parents == (prompt,)
        assert p.text.startswith("Classify the review.")
        assert p.text != prompt
        assert p.notes[0] == "parsed (tags)"
    assert len({normalise_key(p.text) for p in got}) == len(got)


async def test_paraphrase_that_repeats_the_prompt_or_has_no_text_is_rejected():
    replies = iter(["<START>Classify the review.<END>", "<START><END>", "   "])
    log = []
    chat = caller(lambda message: next(replies, "   "))
    got = await paraphrase(
        chat, "Classify the review.", Sampling(n=1, rng=random.Random(0), log=log)
    )
    assert got == []
    assert chat.usage.calls == 2
    assert all(not p.kept for p in log)
