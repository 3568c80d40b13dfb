from __future__ import annotations

import json
import math
from dataclasses import FrozenInstanceError

import numpy as np
import pytest
import torch

from optimizers.zopo import ZOPOConfig, ZOPOSearch, ZOPOState

DTYPE = torch.float64


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def landscape(
    seed: int, n: int = 1000, d: int = 16, spread: float = 0.01
) -> tuple[list[str], torch.Tensor, torch.Tensor]:
    """``n`` points ``N(0, spread² I)`` in R^d; score = Gaussian bump on one of them.

    The maximum is unique. ``spread`` puts neighbours about as far apart as one Adam step
    at lr 0.01, as with unit-norm sentence embeddings (steps ~0.2, neighbours ~0.5).
    """
    g = torch.Generator().manual_seed(seed)
    x = spread * torch.randn(n, d, generator=g, dtype=DTYPE)
    peak = x[int(torch.randint(n, (1,), generator=g))]
    y = torch.exp(-(x - peak).square().sum(-1) / (2 * (4 * spread) ** 2))
    return [f"c{i}" for i in range(n)], x, y


def make_search(ids, x, **overrides) -> ZOPOSearch:
    search = ZOPOSearch(ZOPOConfig(**overrides))
    search.add_candidates(ids, x)
    return search


def drive(search: ZOPOSearch, scores: dict[str, float], queries: int) -> list[str]:
    asked = []
    for _ in range(queries):
        got = search.ask()
        if not got:
            break
        asked.append(got[0])
        search.tell(got[0], scores[got[0]])
    return asked


# -------------------------------------------------------------------------------- config


@pytest.mark.parametrize(
    "bad",
    [
        {"n_initial": 0},
        {"n_local": -1},
        {"n_explore": 1.5},
        {"tolerance": True},
        {"uncertainty_patience": 0},
        {"hidden": 0},
        {"lr": 0.0},
        {"lr": math.inf},
        {"noise": -1e-4},
        {"uncertainty_threshold": -0.1},
        {"uncertainty": "entropy"},
        {"seed": -1},
    ],
)
def test_config_rejects_bad_values(bad):
    with pytest.raises(ValueError, match=next(iter(bad))):
        ZOPOConfig(**bad)


def test_config_is_frozen_keyword_only_with_reference_defaults():
    config = ZOPOConfig()
    assert (config.n_initial, config.lr, config.n_local, config.noise) == (40, 0.01, 20, 1e-4)
    assert (config.uncertainty_threshold, config.uncertainty_patience, config.n_explore) == (
        0.01,
        5,
        10,
    )
    assert (config.tolerance, config.uncertainty, config.hidden) == (2, "variance", 32)
    with pytest.raises(FrozenInstanceError):
        config.lr = 0.1  # type: ignore[misc]
    with pytest.raises(TypeError):
        ZOPOConfig(40)  # type: ignore[misc]


# ------------------------------------------------------------------------- search quality


def queries_to_optimum(seed: int, cap: int = 400) -> int:
    """Queries ZOPO needs to evaluate the unique best candidate (``cap + 1`` if never)."""
    ids, x, y = landscape(seed)
    scores = dict(zip(ids, y.tolist(), strict=True))
    optimum = ids[int(y.argmax())]
    search = make_search(ids, x, n_initial=10, seed=seed)
    for q in range(1, cap + 1):
        (cid,) = search.ask()
        if cid == optimum:
            return q
        search.tell(cid, scores[cid])
    return cap + 1


def random_queries_to_optimum(seed: int, n: int = 1000, repeats: int = 200) -> float:
    g = torch.Generator().manual_seed(seed)
    return float(np.mean([int(torch.randperm(n, generator=g)[0]) + 1 for _ in range(repeats)]))


SEEDS = range(20)


def test_zopo_finds_the_optimum_in_far_fewer_queries_than_random_search():
    """1000 candidates: random search needs ~500 queries on average; ZOPO must need < 125."""
    zopo = [queries_to_optimum(seed) for seed in SEEDS]
    rand = [random_queries_to_optimum(seed) for seed in SEEDS]
    assert np.mean(zopo) < 0.25 * np.mean(rand), (zopo, np.mean(rand))


def test_the_ascent_direction_matters(monkeypatch):
    """Same runs with the gradient sign flipped (descent) must need clearly more queries."""
    import optimizers.zopo.search as search_module
    from optimizers.zopo.adam import adam_ascent

    ascent = [queries_to_optimum(seed) for seed in SEEDS]
    monkeypatch.setattr(
        search_module, "adam_ascent", lambda z, g, state, lr: adam_ascent(z, -g, state, lr)
    )
    descent = [queries_to_optimum(seed) for seed in SEEDS]
    assert np.mean(ascent) < 0.75 * np.mean(descent), (ascent, descent)


# -------------------------------------------------------------------------- ask and tell


def test_ask_never_repeats_and_runs_out_cleanly():
    ids, x, y = landscape(0, n=40, d=4)
    scores = dict(zip(ids, y.tolist(), strict=True))
    search = make_search(ids, x, n_initial=5, n_explore=3, uncertainty_patience=2)
    asked = drive(search, scores, 100)
    assert sorted(asked) == sorted(ids)
    assert search.ask() == []
    assert search.ask(5) == []
    assert search.best == max(scores.items(), key=lambda kv: kv[1])


def test_ask_many_returns_distinct_unevaluated_ids_and_excludes_pending():
    ids, x, y = landscape(1, n=60, d=4)
    search = make_search(ids, x, n_initial=10)
    first = search.ask(6)
    assert len(set(first)) == 6
    for cid in first[:3]:
        search.tell(cid, float(y[ids.index(cid)]))
    second = search.ask(6)
    assert not set(first) & set(second)
    assert set(search.state().pending) == set(first[3:]) | set(second)


def test_empty_search_asks_nothing_and_has_no_best():
    search = ZOPOSearch(ZOPOConfig())
    assert search.ask() == []
    assert search.best is None
    with pytest.raises(ValueError, match="n >= 1"):
        search.ask(0)


def test_told_scores_from_elsewhere_join_the_data():
    ids, x, _ = landscape(2, n=50, d=4)
    search = make_search(ids, x, n_initial=3)
    search.tell("c7", 0.9)
    search.tell("c8", 0.1)
    assert search.best == ("c7", 0.9)
    search.tell("c7", 0.2)  # a re-told score replaces the old one
    assert search.best == ("c7", 0.2)
    asked = [search.ask()[0] for _ in range(20)]
    assert "c7" not in asked
    assert "c8" not in asked
    with pytest.raises(ValueError, match="unknown candidate id 'nope'"):
        search.tell("nope", 0.5)
    with pytest.raises(ValueError, match="finite score"):
        search.tell("c9", math.nan)


def test_the_domain_can_grow_mid_run():
    ids, x, y = landscape(3, n=100, d=6)
    scores = dict(zip(ids, y.tolist(), strict=True))
    search = make_search(ids[:50], x[:50], n_initial=8)
    drive(search, scores, 20)
    search.add_candidates(ids[40:], x[40:].numpy())  # overlap: c40..c49 are ignored
    assert search.candidate_ids == ids
    asked = drive(search, scores, 200)
    assert set(asked) | set(dict(search.state().evaluated)) == set(ids)
    with pytest.raises(ValueError, match="dimension 6"):
        search.add_candidates(["new"], np.zeros((1, 5)))
    with pytest.raises(ValueError, match=r"shape \(2, d\)"):
        search.add_candidates(["a", "b"], np.zeros((3, 6)))


def test_a_new_candidate_next_to_the_current_point_is_picked_up():
    ids, x, y = landscape(4, n=200, d=6, spread=1.0)  # neighbours far apart vs a step
    scores = dict(zip(ids, y.tolist(), strict=True))
    search = make_search(ids, x, n_initial=10, uncertainty_threshold=1e12, tolerance=100)
    drive(search, scores, 15)
    current = search.state().current_id
    assert current is not None
    near = x[ids.index(current)] + 1e-6
    search.add_candidates(["fresh"], near[None])
    assert search.ask() == ["fresh"]


def test_same_seed_same_run_different_seed_different_run():
    ids, x, y = landscape(5, n=200, d=6)
    scores = dict(zip(ids, y.tolist(), strict=True))
    a = drive(make_search(ids, x, n_initial=10, seed=1), scores, 40)
    b = drive(make_search(ids, x, n_initial=10, seed=1), scores, 40)
    c = drive(make_search(ids, x, n_initial=10, seed=2), scores, 40)
    assert a == b
    assert a[:10] != c[:10]


def test_adam_ascent_matches_torch_adam_maximize():
    from optimizers.zopo.adam import AdamState, adam_ascent

    g = torch.Generator().manual_seed(0)
    z0 = torch.randn(5, generator=g, dtype=DTYPE)
    grads = [torch.randn(5, generator=g, dtype=DTYPE) for _ in range(4)]
    param = torch.nn.Parameter(z0.clone())
    optimizer = torch.optim.Adam([param], lr=0.01, maximize=True)
    z, state = z0, AdamState()
    for grad in grads:
        param.grad = grad.clone()
        optimizer.step()
        z, state = adam_ascent(z, grad, state, 0.01)
        torch.testing.assert_close(z, param.detach())
    assert state.t == 4


# ------------------------------------------------------------------------ state and log


def test_state_round_trips_and_resumes_to_the_same_asks():
    ids, x, y = landscape(6, n=300, d=8)
    scores = dict(zip(ids, y.tolist(), strict=True))
    config = {"n_initial": 10, "uncertainty_patience": 3, "n_explore": 4}
    search = make_search(ids, x, **config)
    drive(search, scores, 40)
    pending = search.ask(2)  # in flight when the checkpoint is taken
    state = search.state()
    assert state.steps > 0
    assert state.log
    data = json.loads(json.dumps(state.to_dict()))
    restored = ZOPOState.from_dict(data)
    assert restored.to_dict() == state.to_dict()
    assert restored.pending == pending

    resumed = make_search(ids, x, **config)
    resumed.load_state(restored)
    for cid in pending:
        search.tell(cid, scores[cid])
        resumed.tell(cid, scores[cid])
    assert drive(resumed, scores, 40) == drive(search, scores, 40)
    assert resumed.state().to_dict() == search.state().to_dict()


def test_load_state_checks_the_candidates():
    ids, x, y = landscape(7, n=50, d=4)
    search = make_search(ids, x, n_initial=5)
    drive(search, dict(zip(ids, y.tolist(), strict=True)), 10)
    state = search.state()
    with pytest.raises(ValueError, match="expected 50 candidates"):
        make_search(ids[:40], x[:40]).load_state(state)
    renamed = [f"other{i}" for i in range(50)]
    with pytest.raises(ValueError, match="unknown candidate ids"):
        make_search(renamed, x).load_state(state)


def test_exploration_fires_after_patience_uncertain_steps():
    ids, x, y = landscape(8, n=200, d=6)
    scores = dict(zip(ids, y.tolist(), strict=True))
    search = make_search(
        ids, x, n_initial=10, uncertainty_threshold=0.0, uncertainty_patience=2, n_explore=4
    )
    drive(search, scores, 10)
    drive(search, scores, 1)  # one uncertain step; the second uncertain iteration explores
    assert search.state().explorations == 0
    assert search.state().uncertain_streak == 1
    current = search.state().current_id
    first = search.ask()[0]
    state = search.state()
    assert state.explorations == 1
    event = state.log[-1]
    assert event.kind == "explore"
    assert event.uncertainty > 0
    evaluated = {cid for cid, _ in state.evaluated} | set(state.pending)
    free = [i for i, cid in enumerate(ids) if cid not in evaluated or cid == first]
    dist = (x[free] - x[ids.index(current)]).square().sum(-1)
    nearest = [ids[free[i]] for i in torch.argsort(dist)[:4]]
    assert list(event.ids) == nearest
    assert [first, *state.explore_queue] == nearest
    search.tell(first, scores[first])
    assert [search.ask()[0] for _ in range(3)] == nearest[1:]


def test_exploration_never_fires_below_the_threshold():
    ids, x, y = landscape(9, n=200, d=6)
    search = make_search(ids, x, n_initial=10, uncertainty_threshold=1e12, uncertainty_patience=1)
    drive(search, dict(zip(ids, y.tolist(), strict=True)), 40)
    state = search.state()
    assert state.explorations == 0
    assert state.steps == 30


def test_restart_jumps_to_the_best_point_after_tolerance_flat_steps():
    ids, x, _ = landscape(10, n=200, d=6)
    search = make_search(ids, x, n_initial=10, tolerance=2, uncertainty_threshold=1e12)
    initial = search.ask(10)
    for k, cid in enumerate(initial):
        search.tell(cid, 1.0 if k == 3 else 0.0)
    for _ in range(2):  # two steps that find nothing better
        (cid,) = search.ask()
        search.tell(cid, 0.0)
    assert search.state().restarts == 0
    search.ask()
    state = search.state()
    assert state.restarts == 1
    restart, step = state.log[-2], state.log[-1]
    assert restart.kind == "restart"
    assert restart.ids == (initial[3],)
    assert step.kind == "step"
    assert state.adam.t == 1  # Adam was reset, then took this one step


def test_asking_a_batch_before_telling_is_not_stalling():
    ids, x, _ = landscape(12, n=200, d=6)
    search = make_search(ids, x, n_initial=10, tolerance=2, uncertainty_threshold=1e12)
    for cid in search.ask(10):
        search.tell(cid, 0.5)
    batch = search.ask(5)
    state = search.state()
    assert len(set(batch)) == 5
    assert state.steps == 5
    assert state.restarts == 0


def test_gradient_trace_mode_runs():
    ids, x, y = landscape(11, n=100, d=5)
    search = make_search(ids, x, n_initial=10, uncertainty="gradient_trace")
    drive(search, dict(zip(ids, y.tolist(), strict=True)), 15)
    state = search.state()
    assert state.last_gradient_trace is not None
    assert state.last_gradient_trace >= 0
    assert state.last_variance is not None
    assert state.last_grad_norm is not None


def test_add_candidates_validates_input():
    search = ZOPOSearch(ZOPOConfig())
    with pytest.raises(ValueError, match="NaN"):
        search.add_candidates(["a"], np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="must be str"):
        search.add_candidates([1], np.zeros((1, 2)))  # type: ignore[list-item]
    search.add_candidates(["a", "a", "b"], np.eye(3))  # duplicate within a call: first wins
    assert search.candidate_ids == ["a", "b"]
