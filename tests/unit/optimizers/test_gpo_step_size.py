import pytest

from optimizers.gpo import step_size, word_edit_distance
from optimizers.gpo.edit_distance import levenshtein

# ------------------------------------------------------------------------- step size


@pytest.mark.parametrize(("t", "expected"), [(0, 50), (5, 30), (10, 10), (15, 10)])
def test_cosine_decay_from_s_max_to_s_min(t, expected):
    assert step_size(t, 10) == expected


def test_halfway_with_an_odd_total_and_floor():
    # T = 7: t = 3.5 is not a step; t = 3 and 4 straddle the midpoint of 30.
    assert step_size(3, 7) == 34  # 10 + 40 * ½ * (1 + cos(3π/7)) = 34.45
    assert step_size(4, 7) == 25  # 25.55
    assert [step_size(t, 4) for t in range(5)] == [50, 44, 30, 15, 10]


def test_decay_is_monotone_and_custom_bounds():
    values = [step_size(t, 30, s_max=20, s_min=5) for t in range(31)]
    assert values[0] == 20
    assert values[-1] == 5
    assert values == sorted(values, reverse=True)
    assert step_size(0, 1, s_max=7, s_min=7) == 7


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        ((0, 0), {}, "total steps"),
        ((-1, 5), {}, "step t"),
        ((True, 5), {}, "step t"),
        ((0, 5), {"s_max": 5, "s_min": 6}, "s_min <= s_max"),
    ],
)
def test_step_size_rejects_bad_values(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        step_size(*args, **kwargs)


# --------------------------------------------------------------------- edit distance


@pytest.mark.parametrize(
    ("candidate", "current", "expected"),
    [
        ("Classify the review.", "Classify the review.", 0),
        ("Classify  the\nreview.", "Classify the review.", 0),  # whitespace is not a word
        ("Classify the movie review.", "Classify the review.", 1),  # insertion
        ("Classify review.", "Classify the review.", 1),  # deletion
        ("Label the review.", "Classify the review.", 1),  # substitution
        ("classify the review.", "Classify the review.", 1),  # case counts
        ("Classify the review", "Classify the review.", 1),  # punctuation counts
        ("the review Classify", "Classify the review", 2),  # a move is two edits
        ("", "Classify the review.", 3),
        ("Say yes or no.", "", 4),
        ("a b c d", "w x y z", 4),
    ],
)
def test_word_edit_distance(candidate, current, expected):
    assert word_edit_distance(candidate, current) == expected
    assert word_edit_distance(current, candidate) == expected  # symmetric


def test_levenshtein_matches_the_classic_character_example():
    assert levenshtein(list("kitten"), list("sitting")) == 3
    assert levenshtein(list("flaw"), list("lawn")) == 2
