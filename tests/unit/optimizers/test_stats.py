from __future__ import annotations

import numpy as np
import pytest

from optimizers.evaluation import stats
from optimizers.evaluation.stats import (
    Interval,
    PairedComparison,
    mean_with_ci,
    paired_comparison,
)


def _binary(n: int, p: float, seed: int) -> list[float]:
    return (np.random.default_rng(seed).random(n) < p).astype(float).tolist()


# --- mean_with_ci ---------------------------------------------------------------------


def test_mean_and_interval_contain_the_mean() -> None:
    scores = [1, 0, 1, 1, 0, 1, 1, 1, 0, 1]
    mean, interval = mean_with_ci(scores)
    assert mean == pytest.approx(0.7)
    assert isinstance(interval, Interval)
    assert interval.confidence == 0.95
    assert 0.0 <= interval.low < mean < interval.high <= 1.0


def test_interval_narrows_with_n() -> None:
    widths = []
    for n in (20, 200, 2000):
        mean, interval = mean_with_ci(_binary(n, 0.6, seed=n))
        assert interval.low <= mean <= interval.high
        widths.append(interval.high - interval.low)
    assert widths[0] > widths[1] > widths[2]
    # ~ 2 * 1.96 * sqrt(p(1-p)/n) for n = 2000
    assert widths[2] == pytest.approx(2 * 1.96 * np.sqrt(0.24 / 2000), rel=0.2)


def test_interval_widens_with_confidence() -> None:
    scores = _binary(50, 0.5, seed=3)
    _, narrow = mean_with_ci(scores, confidence=0.5)
    _, wide = mean_with_ci(scores, confidence=0.99)
    assert wide.low <= narrow.low
    assert narrow.high <= wide.high
    assert narrow.confidence == 0.5


def test_deterministic_under_a_seed() -> None:
    scores = _binary(40, 0.4, seed=1)
    assert mean_with_ci(scores, seed=7) == mean_with_ci(scores, seed=7)
    intervals = {mean_with_ci(scores, seed=seed)[1] for seed in range(5)}
    assert len(intervals) > 1  # the seed does drive the resampling


@pytest.mark.parametrize("scores", [[0.5], [1.0] * 7, [0.0, 0.0], [0.1] * 3])
def test_degenerate_intervals(scores: list[float]) -> None:
    mean, interval = mean_with_ci(scores)
    assert mean == pytest.approx(scores[0])
    assert interval.low == interval.high == mean


def test_mean_with_ci_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="at least one score"):
        mean_with_ci([])
    with pytest.raises(ValueError, match="position 1 is nan"):
        mean_with_ci([0.0, float("nan")])
    with pytest.raises(ValueError, match="confidence"):
        mean_with_ci([0.0, 1.0], confidence=95)
    with pytest.raises(ValueError, match="n_resamples"):
        mean_with_ci([0.0, 1.0], n_resamples=0)
    with pytest.raises(ValueError, match="flat"):
        mean_with_ci([[0.0, 1.0]])  # type: ignore[list-item]


def test_large_inputs_are_resampled_in_bounded_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats, "_MAX_BLOCK", 1000)
    scores = _binary(300, 0.5, seed=2)
    mean, interval = mean_with_ci(scores, n_resamples=500)
    assert interval.low < mean < interval.high


# --- paired_comparison ----------------------------------------------------------------


def test_identical_vectors() -> None:
    a = _binary(30, 0.5, seed=4)
    result = paired_comparison(a, a)
    assert isinstance(result, PairedComparison)
    assert result.diff == 0.0
    assert result.p_value == 1.0
    assert result.interval.low == result.interval.high == 0.0
    assert (result.wins, result.losses, result.ties) == (0, 0, 30)
    assert result.mean_a == result.mean_b


def test_clear_improvement_exact_test() -> None:
    a = [0.0] * 12
    b = [1.0] * 10 + [0.0] * 2
    result = paired_comparison(a, b)
    assert result.n == 12
    assert result.diff == pytest.approx(10 / 12)
    assert (result.wins, result.losses, result.ties) == (10, 0, 2)
    assert result.p_value == pytest.approx(2 / 2**10)  # exact: all-plus or all-minus
    assert result.p_value < 0.05
    assert 0 < result.interval.low <= result.diff <= result.interval.high


def test_clear_improvement_monte_carlo() -> None:
    a = _binary(100, 0.3, seed=5)
    b = [1.0 if x == 1.0 or i % 2 == 0 else 0.0 for i, x in enumerate(a)]
    result = paired_comparison(a, b)
    assert result.wins > stats.EXACT_MAX_NONZERO
    assert result.losses == 0
    assert result.p_value < 0.05
    assert result.p_value >= 1 / (stats.N_PERMUTATIONS + 1)
    assert result.interval.low > 0


def test_direction_and_symmetry() -> None:
    a = [0.2, 0.4, 0.5, 0.9, 0.1, 0.3]
    b = [0.3, 0.4, 0.7, 0.8, 0.6, 0.3]
    forward = paired_comparison(a, b, seed=3)
    backward = paired_comparison(b, a, seed=3)
    assert forward.diff == pytest.approx(-backward.diff)
    assert forward.p_value == pytest.approx(backward.p_value)
    assert (forward.wins, forward.losses, forward.ties) == (3, 1, 2)
    assert (backward.wins, backward.losses) == (1, 3)
    assert forward.mean_b - forward.mean_a == pytest.approx(forward.diff)


def test_exact_p_value_on_a_known_case() -> None:
    # diffs +1, +1, -1: the sign-flip sums are {3, 1, 1, -1, 1, -1, -1, -3};
    # |sum| >= 1 for all 8, so p = 1.
    result = paired_comparison([0, 0, 1], [1, 1, 0])
    assert result.p_value == 1.0
    # diffs +1 x4: only all-plus and all-minus reach |sum| = 4 → p = 2 / 16.
    assert paired_comparison([0] * 4, [1] * 4).p_value == pytest.approx(0.125)


def test_no_real_difference_gives_a_large_p_value() -> None:
    rng = np.random.default_rng(8)
    a = rng.random(200)
    b = a + rng.normal(0, 0.1, 200)
    result = paired_comparison(a.tolist(), b.tolist())
    assert result.p_value > 0.05
    assert result.interval.low < 0 < result.interval.high


def test_float_noise_counts_as_a_tie() -> None:
    result = paired_comparison([0.1 + 0.2], [0.3])
    assert (result.wins, result.losses, result.ties) == (0, 0, 1)
    assert result.p_value == 1.0


def test_paired_comparison_is_deterministic_under_a_seed() -> None:
    a = _binary(60, 0.4, seed=9)
    b = _binary(60, 0.6, seed=10)
    assert paired_comparison(a, b, seed=1) == paired_comparison(a, b, seed=1)


def test_unequal_lengths_raise_with_both_lengths() -> None:
    with pytest.raises(ValueError, match="a has 3 scores, b has 2"):
        paired_comparison([1, 0, 1], [1, 0])


def test_empty_comparison_raises() -> None:
    with pytest.raises(ValueError, match="at least one example"):
        paired_comparison([], [])
