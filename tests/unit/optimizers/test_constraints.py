import pytest

from optimizers.propose.constraints import Constraints, hard_checks


@pytest.mark.parametrize(
    ("directive", "kind", "value"),
    [
        ("keep it under 30 words", "max_words", 29),
        ("at most 40 words please", "max_words", 40),
        ("No more than 12 words.", "max_words", 12),
        ('must keep "JSON"', "must_contain", "JSON"),
        ("always include 'Answer:'", "must_contain", "Answer:"),
        ("never mention competitors", "must_not_contain", "competitors"),
        ("Don't use 'please'", "must_not_contain", "please"),
    ],
)
def test_directives_become_checks(directive, kind, value):
    (check,) = hard_checks(directive)
    assert (check.kind, check.value) == (kind, value)


def test_vague_directives_are_soft_only():
    assert hard_checks("be friendlier") == []
    assert hard_checks("make it shorter") == []


def test_violations_name_the_directive():
    constraints = Constraints(("at most 3 words",)).with_directive("never mention cats")
    assert constraints.violations("Say yes.") == []
    (why,) = constraints.violations("Talk about cats.")
    assert "cats" in why
    assert "never mention cats" in why
    assert len(constraints.violations("Talk about many cats here.")) == 2
    assert constraints.with_directive("  ") is constraints
