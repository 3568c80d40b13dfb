import pytest

from optimizers.propose.proposals import constraints_block, parse_proposal


@pytest.mark.parametrize(
    ("reply", "text", "rule"),
    [
        ("<START>Classify the review.<END>", "Classify the review.", "tags"),
        ("Here is the new prompt: <START> Say yes or no.", "Say yes or no.", "open tag"),
        ("Label the review.<END> junk", "Label the review.", "close tag"),
        ("```\nAnswer with one word.\n```", "Answer with one word.", "code fence"),
        ('Sure! New prompt:\n\n"Decide if it is positive."', "Decide if it is positive.", "quoted"),
        ("Classify the review.\nThen explain why.", "Classify the review.", "plain"),
    ],
)
def test_prompts_are_found_however_they_are_wrapped(reply, text, rule):
    parsed = parse_proposal(reply)
    assert (parsed.text, parsed.rule) == (text, rule)


@pytest.mark.parametrize(
    ("reply", "problem"),
    [
        ("", "empty reply"),
        ("ok", "fewer than 2 words"),
        ("<START>Classify it.\nOutput: positive<END>", "echoes"),
        ("Is it good?\n<Prompt> is replaced with the prompt", None),
        ("<START>" + "word " * 600 + "<END>", "longer than"),
    ],
)
def test_unusable_replies_are_rejected_with_a_reason(reply, problem):
    parsed = parse_proposal(reply)
    if problem is None:  # the plain rule keeps only the first line
        assert parsed.text == "Is it good?"
    else:
        assert parsed.text is None
        assert problem in parsed.problem


def test_constraints_block():
    assert constraints_block(()) == ""
    assert "- at most 10 words" in constraints_block(("at most 10 words",))
