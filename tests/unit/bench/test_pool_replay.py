from __future__ import annotations

import json
import math

import numpy as np
import pytest
from replay import (
    GPUCB,
    BestOfN,
    BudgetExceeded,
    DevOracle,
    PoolCandidate,
    PoolFile,
    RandomOrder,
    ScoredPool,
    ZOPOReplay,
    band,
    estimate,
    replay,
    replay_seeds,
    summarise,
)

pytestmark = pytest.mark.usefixtures("one_torch_thread")

N, D, N_DEV = 60, 8, 20
SEEDS = range(8)


def smooth_pool(seed: int = 0, *, per_example: bool = True) -> ScoredPool:
    """60 points in 8-d; dev score = a wide Gaussian bump on one point, in steps of 1/20.

    Per-example dev scores: example j is right when the bump exceeds a fixed threshold
    t_j, so the row means are the bump rounded down to twentieths (scores tie, as real
    dev scores do) and the filter subsets of APE see a consistent signal. Test = dev
    plus a little noise.
    """
    rng = np.random.default_rng(seed)
    x = 0.05 * rng.standard_normal((N, D))
    peak = x[rng.integers(N)]
    bump = np.exp(-np.square(x - peak).sum(1) / (2 * 0.08**2))
    thresholds = (np.arange(N_DEV) + 0.5) / N_DEV
    examples = (bump[:, None] > thresholds[None, :]).astype(float)
    dev = examples.mean(1)
    test = np.clip(dev + 0.05 * rng.standard_normal(N), 0, 1)
    return ScoredPool(
        texts=tuple(f"prompt {i}" for i in range(N)),
        embeddings=x,
        dev=dev,
        test=test,
        dev_examples=examples if per_example else None,
    )


@pytest.fixture(scope="module")
def pool() -> ScoredPool:
    return smooth_pool()


def fast_gp_ucb() -> GPUCB:
    return GPUCB(refit_every=5, fit_iterations=20)


STRATEGIES = [RandomOrder(), ZOPOReplay(), fast_gp_ucb(), BestOfN()]
IDS = [s.name for s in STRATEGIES]


# ------------------------------------------------------------------------- the pool


def test_pool_has_a_spread_and_ties_like_real_dev_scores(pool):
    assert pool.best_dev == 1.0
    assert pool.dev.min() == 0.0
    assert len(np.unique(pool.dev)) > 5
    assert pool.n_dev == N_DEV


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"texts": ("one",)}, "at least 2"),
        ({"dev": np.zeros(N - 1)}, "dev scores"),
        ({"embeddings": np.zeros((N, D, 1))}, "2 dimension"),
        ({"test": np.full(N, np.nan)}, "NaN"),
        ({"dev_examples": np.ones((N, N_DEV))}, "row means"),
    ],
)
def test_pool_rejects_bad_input_naming_it(pool, change, message):
    fields = {
        "texts": pool.texts,
        "embeddings": pool.embeddings,
        "dev": pool.dev,
        "test": pool.test,
        "dev_examples": pool.dev_examples,
    }
    with pytest.raises(ValueError, match=message):
        ScoredPool(**{**fields, **change})


def test_pool_arrays_are_read_only(pool):
    with pytest.raises(ValueError, match="read-only"):
        pool.dev[0] = 2.0


def test_pool_file_round_trips_as_json_and_gzip(tmp_path, pool):
    candidates = tuple(
        PoolCandidate(
            text=text, source="ape", dev_scores=tuple(row), test_scores=(float(t), 1 - float(t))
        )
        for text, row, t in zip(pool.texts, pool.dev_examples, pool.test, strict=True)
    )
    made = PoolFile(
        task="toy",
        dev_ids=tuple(f"d{j}" for j in range(N_DEV)),
        test_ids=("t0", "t1"),
        candidates=candidates,
        meta={"model": "fake"},
    )
    for name in ("toy.json", "toy.json.gz"):
        loaded = PoolFile.load(made.save(tmp_path / name))
        assert loaded == made
        again = loaded.scored_pool(pool.embeddings)
        np.testing.assert_allclose(again.dev, pool.dev)
        np.testing.assert_allclose(again.test, 0.5)
    assert (tmp_path / "toy.json.gz").read_bytes()[:2] == b"\x1f\x8b"


def test_pool_file_rejects_means_that_disagree_with_the_examples(tmp_path):
    data = {
        "format": "promptpilot-pool/1",
        "task": "toy",
        "dev_ids": ["d0", "d1"],
        "test_ids": ["t0"],
        "candidates": [
            {"text": "a b c", "source": "ape", "dev": 0.9, "test": 1.0},
            {"text": "d e f", "source": "ape", "dev": 0.0, "test": 0.0},
        ],
    }
    data["candidates"][0] |= {"dev_scores": [1.0, 0.0], "test_scores": [1.0]}
    data["candidates"][1] |= {"dev_scores": [0.0, 0.0], "test_scores": [0.0]}
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"candidate 0 says dev = 0\.9"):
        PoolFile.load(path)
    path.write_text(json.dumps({"format": "other"}))
    with pytest.raises(ValueError, match="promptpilot-pool/1"):
        PoolFile.load(path)


def test_pool_file_rejects_duplicates_and_ragged_scores():
    one = PoolCandidate(text="Say it.", source="ape", dev_scores=(1.0,), test_scores=(1.0,))
    with pytest.raises(ValueError, match="duplicate"):
        PoolFile(task="t", dev_ids=("d",), test_ids=("t",), candidates=(one, one))
    with pytest.raises(ValueError, match="2 dev scores, expected 1"):
        PoolFile(
            task="t",
            dev_ids=("d",),
            test_ids=("t",),
            candidates=(PoolCandidate(text="x", source="s", dev_scores=(1, 0), test_scores=(1,)),),
        )


# ----------------------------------------------------------------------- the oracle


def test_oracle_charges_partial_evaluations_their_share_and_cached_examples_nothing(pool):
    oracle = DevOracle(pool, budget=2)
    assert oracle.cost(3, [0, 1, 2, 3, 4]) == 0.25
    oracle.evaluate_subset(3, [0, 1, 2, 3, 4])
    assert oracle.spent == 0.25
    assert not oracle.is_known(3)
    assert oracle.cost(3) == 0.75  # the five examples already scored are free
    assert oracle.evaluate(3) == pool.dev[3]
    assert oracle.spent == 1.0
    assert oracle.is_known(3)
    with pytest.raises(ValueError, match="already evaluated"):
        oracle.evaluate(3)
    oracle.evaluate(4)
    assert oracle.remaining == 0
    assert not oracle.can_afford(5, [0])
    with pytest.raises(BudgetExceeded, match="0 of 2 left"):
        oracle.evaluate_subset(5, [0])


def test_oracle_without_per_example_scores_allows_whole_queries_only():
    oracle = DevOracle(smooth_pool(per_example=False), budget=3)
    oracle.evaluate(0)
    assert oracle.spent == 1
    with pytest.raises(ValueError, match="per-example dev scores"):
        oracle.evaluate_subset(1, [0])


@pytest.mark.parametrize("budget", [0, -1, 2.5, True])
def test_oracle_rejects_bad_budgets(pool, budget):
    with pytest.raises(ValueError, match="budget must be an int >= 1"):
        DevOracle(pool, budget=budget)


def test_oracle_rejects_bad_indices(pool):
    oracle = DevOracle(pool, budget=2)
    with pytest.raises(ValueError, match=r"in \[0, 60\)"):
        oracle.evaluate(60)
    with pytest.raises(ValueError, match=r"in \[0, 20\)"):
        oracle.evaluate_subset(0, [20])


# -------------------------------------------------------------- every strategy's trace


@pytest.mark.parametrize("strategy", STRATEGIES, ids=IDS)
@pytest.mark.parametrize("budget", [1, 7, 20])
def test_trace_respects_budget_and_is_monotone_with_nonnegative_regret(pool, strategy, budget):
    trace = replay(pool, strategy, budget=budget, seed=3)
    assert trace.spent <= budget
    if strategy.name != "ape":  # whole queries only: the whole budget is used
        assert trace.spent == budget
        assert len(trace.queried) == budget
    assert trace.best_dev.shape == trace.regret.shape == (budget,)
    known = ~np.isnan(trace.best_dev)
    assert known[-1]  # every strategy ends with an answer
    assert not (known[:-1] & ~known[1:]).any()  # NaN only before the first answer
    values = trace.best_dev[known]
    assert (np.diff(values) >= 0).all()
    assert (trace.regret[known] >= 0).all()
    assert len(set(trace.queried)) == len(trace.queried)  # no candidate queried twice
    assert trace.chosen in trace.queried
    assert trace.chosen_dev == trace.final_best_dev == pool.dev[list(trace.queried)].max()
    assert trace.chosen_test == pool.test[trace.chosen]


@pytest.mark.parametrize("strategy", STRATEGIES, ids=IDS)
def test_same_seed_same_run_other_seed_other_run(pool, strategy):
    first = replay(pool, strategy, budget=12, seed=5)
    again = replay(pool, strategy, budget=12, seed=5)
    other = replay(pool, strategy, budget=12, seed=6)
    assert first.queried == again.queried
    np.testing.assert_array_equal(first.best_dev, again.best_dev)
    assert first.queried != other.queried


def test_regret_is_zero_exactly_from_the_query_that_finds_a_best_prompt(pool):
    best = set(pool.best_indices.tolist())
    for seed in range(5):
        trace = replay(pool, RandomOrder(), budget=N, seed=seed)
        first_hit = next(q for q, i in enumerate(trace.queried) if i in best)
        assert (trace.regret[:first_hit] > 0).all()
        assert (trace.regret[first_hit:] == 0).all()


def test_random_order_stops_when_the_pool_is_used_up(pool):
    trace = replay(pool, RandomOrder(), budget=N + 15, seed=0)
    assert sorted(trace.queried) == list(range(N))
    assert trace.spent == N
    assert trace.final_regret == 0


# ------------------------------------------------------------------------------ APE


@pytest.mark.parametrize(
    ("budget", "expected"),
    [(1, (5, 1, 1)), (10, (5, 20, 6)), (20, (5, 40, 13)), (80, (5, 60, 60))],
)
def test_best_of_n_plan_fits_the_budget(budget, expected):
    m, n, k = BestOfN().plan(budget, N_DEV, N)
    assert (m, n, k) == expected
    assert n * m + k * (N_DEV - m) <= budget * N_DEV
    assert 1 <= k <= n <= N


def test_best_of_n_accounting_matches_the_oracle(pool):
    trace = replay(pool, BestOfN(), budget=10, seed=2)
    m, n, k = BestOfN().plan(10, N_DEV, N)
    assert len(trace.queried) == k
    assert trace.spent == pytest.approx((n * m + k * (N_DEV - m)) / N_DEV)  # 9.5 queries
    first_full = int(np.argmax(~np.isnan(trace.best_dev)))
    assert first_full + 1 > n * m / N_DEV  # nothing is fully known during the filter


def test_best_of_n_needs_per_example_scores():
    with pytest.raises(ValueError, match="per-example dev scores"):
        replay(smooth_pool(per_example=False), BestOfN(), budget=5, seed=0)


@pytest.mark.parametrize("bad", [{"subset_share": 0}, {"filter_share": 1.0}])
def test_best_of_n_rejects_bad_shares(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        BestOfN(**bad)


# ------------------------------------------------------------------ search quality


def test_model_based_strategies_beat_random_search_on_a_smooth_pool(pool):
    """Fixed seeds, so deterministic; it fails if ZOPO's or GP-UCB's model stops helping."""
    regret = {
        s.name: np.mean([t.final_regret for t in replay_seeds(pool, s, budget=12, seeds=SEEDS)])
        for s in (RandomOrder(), ZOPOReplay(), fast_gp_ucb())
    }
    # measured: random 0.43, zopo 0.06, gp-ucb 0.00
    assert regret["gp-ucb"] < 0.5 * regret["random"], regret
    assert regret["zopo"] < 0.5 * regret["random"], regret


def test_gp_ucb_rejects_bad_settings():
    with pytest.raises(ValueError, match="kernel"):
        GPUCB(kernel="linear")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="refit_every"):
        GPUCB(refit_every=0)


def test_gp_ucb_beta_grows_with_queries_and_candidates():
    ucb = GPUCB()
    assert ucb.beta(2, 100) > ucb.beta(1, 100)
    assert ucb.beta(1, 1000) > ucb.beta(1, 100)
    assert ucb.beta(1, 100) == pytest.approx(0.2 * 2 * math.log(100 * math.pi**2 / 0.6))


# ------------------------------------------------------------------------- summaries


def test_summary_of_seeds_has_mean_interval_and_hit_rate(pool):
    traces = replay_seeds(pool, RandomOrder(), budget=10, seeds=range(8))
    summary = summarise(traces)
    finals = [t.final_best_dev for t in traces]
    assert summary.best_dev.mean == pytest.approx(np.mean(finals))
    assert summary.best_dev.low <= summary.best_dev.mean <= summary.best_dev.high
    assert summary.regret.mean == pytest.approx(pool.best_dev - np.mean(finals))
    assert summary.found_best == np.mean([t.final_regret == 0 for t in traces])
    assert (summary.strategy, summary.budget, summary.seeds) == ("random", 10, 8)
    with pytest.raises(ValueError, match="one strategy at one budget"):
        summarise([*traces, *replay_seeds(pool, RandomOrder(), budget=5, seeds=[0])])


def test_band_is_nan_where_a_run_has_no_answer_yet():
    curves = np.array([[np.nan, 0.2, 0.4], [0.1, 0.3, 0.4]])
    result = band(curves)
    assert np.isnan(result.mean[0])
    np.testing.assert_allclose(result.mean[1:], [0.25, 0.4])
    assert result.low[2] == result.high[2] == 0.4
    assert math.isnan(estimate([]).mean)
    assert f"{estimate([0.5, 0.5])}" == "0.500 [0.500, 0.500]"
