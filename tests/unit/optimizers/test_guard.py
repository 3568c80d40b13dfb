"""The guard: the answer replaces the seed only after a clear paired gain on all of dev."""

import pytest

from optimizers.base import Candidate, Scored
from optimizers.evaluation.chat_calls import Usage
from optimizers.evaluation.evaluator import EvalResult, ExampleResult
from optimizers.evaluation.stats import mean_with_ci
from optimizers.outcome import RunOutcome
from optimizers.selection.guard import ALPHA, guard, min_dev_examples, too_few_dev_examples


def result(scores, prompt: str = "p") -> EvalResult:
    """A dev result with these per-example scores (examples d0, d1, ...)."""
    examples = tuple(
        ExampleResult(f"d{i}", f"item {i}", ("yes",), "", float(s), False)
        for i, s in enumerate(scores)
    )
    mean, interval = mean_with_ci([e.score for e in examples])
    return EvalResult(prompt, "dev", "inline", "exact", examples, mean, interval, Usage(), 0.0)


def scored(text: str, scores, *, source: str = "s", complete: bool = True) -> Scored:
    candidate = Candidate(text=text, source=source, step=0 if source == "seed" else 1)
    return Scored(candidate, result(scores, text), complete=complete)


SEED_SCORES = [1, 0] * 10  # 0.5 on 20 examples


def with_wins_and_losses(wins: int, losses: int) -> list[int]:
    """The seed's scores with ``wins`` zeros turned to ones and ``losses`` ones to zeros."""
    scores = list(SEED_SCORES)
    zeros = [i for i, s in enumerate(scores) if s == 0]
    ones = [i for i, s in enumerate(scores) if s == 1]
    for i in zeros[:wins]:
        scores[i] = 1
    for i in ones[:losses]:
        scores[i] = 0
    return scores


# ------------------------------------------------------------------ the rule


def test_a_clear_paired_improvement_passes():
    decision = guard(result(SEED_SCORES), result([1] * 20))
    assert decision.passed
    assert decision.reason.startswith("beats the starting prompt on dev")
    comparison = decision.comparison
    assert (comparison.n, comparison.wins, comparison.losses) == (20, 10, 0)
    assert comparison.diff == pytest.approx(0.5)
    assert comparison.p_value < ALPHA
    assert "p = " in decision.reason
    assert decision.to_dict()["passed"] is True
    assert decision.to_dict()["dev_vs_seed"]["n"] == 20


def test_a_tie_fails():
    decision = guard(result(SEED_SCORES), result(SEED_SCORES))
    assert not decision.passed
    assert decision.reason.startswith("kept the starting prompt")
    assert decision.comparison.diff == 0
    assert decision.comparison.p_value == 1.0


def test_a_tie_with_changes_fails():
    decision = guard(result(SEED_SCORES), result(with_wins_and_losses(4, 4)))
    assert not decision.passed
    assert decision.comparison.diff == 0


def test_a_small_noisy_gain_fails():
    decision = guard(result(SEED_SCORES), result(with_wins_and_losses(4, 2)))
    assert decision.comparison.diff > 0
    assert decision.comparison.p_value >= ALPHA
    assert not decision.passed
    assert decision.reason.startswith("kept the starting prompt")


def test_a_loss_fails():
    decision = guard(result(SEED_SCORES), result(with_wins_and_losses(0, 8)))
    assert decision.comparison.diff < 0
    assert decision.comparison.p_value < ALPHA  # clearly different, but worse
    assert not decision.passed


@pytest.mark.parametrize(("wins", "passed"), [(5, False), (6, True)])
def test_the_threshold_is_an_exact_sign_flip_test(wins, passed):
    # With k wins and no losses the exact two-sided p is 2 / 2^k: 0.0625 for 5, 0.031 for 6.
    decision = guard(result(SEED_SCORES), result(with_wins_and_losses(wins, 0)))
    assert decision.comparison.p_value == pytest.approx(2 / 2**wins)
    assert decision.passed is passed


@pytest.mark.parametrize(("alpha", "needed"), [(0.05, 6), (0.1, 5), (0.01, 8)])
def test_the_fewest_dev_examples_that_can_pass_follow_the_exact_test(alpha, needed):
    assert min_dev_examples(alpha) == needed
    assert too_few_dev_examples(needed, alpha) is None
    assert f"with {needed - 1} dev examples" in too_few_dev_examples(needed - 1, alpha)
    assert guard(result([0] * needed), result([1] * needed), alpha=alpha).passed
    all_wins = guard(result([0] * (needed - 1)), result([1] * (needed - 1)), alpha=alpha)
    assert not all_wins.passed
    assert f"with {needed - 1} dev examples no new prompt can be shown" in all_wins.reason


def test_alpha_is_the_callers_choice():
    best = result(with_wins_and_losses(5, 0))
    assert not guard(result(SEED_SCORES), best).passed
    assert guard(result(SEED_SCORES), best, alpha=0.1).passed


def test_the_guard_needs_the_same_examples():
    with pytest.raises(ValueError, match="same examples"):
        guard(result(SEED_SCORES), result([1] * 10))


# ------------------------------------------------------------------ the answer


def outcome_of(*entries: Scored) -> RunOutcome:
    return RunOutcome(seed=entries[0], history=list(entries))


def test_the_answer_is_the_best_when_the_guard_passes():
    seed = scored("seed", SEED_SCORES, source="seed")
    outcome = outcome_of(seed, scored("good", [1] * 20), scored("meh", with_wins_and_losses(2, 0)))
    assert outcome.best_number == 1
    assert outcome.verdict.passed
    assert outcome.answer_number == 1
    assert outcome.answer.candidate.text == "good"


def test_the_answer_is_the_seed_when_the_guard_fails():
    seed = scored("seed", SEED_SCORES, source="seed")
    noisy = scored("noisy", with_wins_and_losses(4, 2))
    outcome = outcome_of(seed, noisy)
    assert outcome.best_number == 1  # the best score...
    assert not outcome.verdict.passed  # ...is not a clear gain
    assert outcome.verdict.comparison is not None
    assert outcome.answer_number == 0
    assert outcome.answer is seed


def test_the_answer_is_the_seed_when_nothing_beats_it():
    seed = scored("seed", SEED_SCORES, source="seed")
    outcome = outcome_of(seed, scored("worse", with_wins_and_losses(0, 3)))
    assert outcome.best_number == 0
    assert not outcome.verdict.passed
    assert outcome.verdict.reason == "no candidate scored above the starting prompt on dev"
    assert outcome.answer is seed
    # The seed scored again (reused, same key) is no candidate above it either.
    again = Scored(Candidate(text=" seed ", source="s", step=2), seed.dev, reused=True)
    outcome = outcome_of(seed, again)
    assert outcome.verdict.comparison is None
    assert outcome.answer_number == 0


def test_an_incomplete_best_score_is_never_the_answer():
    seed = scored("seed", SEED_SCORES, source="seed")
    partial = scored("partial", [1] * 20, complete=False)
    outcome = outcome_of(seed, partial)
    assert outcome.best_number == 0
    assert outcome.answer is seed


def test_an_accepted_candidate_is_the_answer_regardless():
    seed = scored("seed", SEED_SCORES, source="seed")
    worse = scored("worse", with_wins_and_losses(0, 6))
    good = scored("good", [1] * 20)
    outcome = outcome_of(seed, worse, good)
    assert outcome.answer_number == 2
    outcome.accept(1)
    assert outcome.verdict.passed
    assert outcome.verdict.reason == "candidate #1 was chosen by you"
    assert outcome.answer_number == 1
    assert outcome.answer is worse
    # Accepting the seed itself is an answer too.
    outcome.accept(0)
    assert outcome.answer_number == 0
    assert outcome.verdict.passed
