"""The gains report's target checks, on synthetic records where every number is known."""

from __future__ import annotations

import json

import pytest
from gains_report import (
    MET,
    MISSED,
    UNDECIDED,
    Records,
    check_targets,
    load,
    main,
    render,
    task_row,
)

TASKS = [f"t{i}" for i in range(10)]
SEEDS = (0, 1, 2)


def run(
    task: str,
    seed: int,
    *,
    initial: float = 0.2,
    final: float = 0.6,
    ci: tuple[float, float] | None = None,
    search_calls: int = 200,
    wall: float = 200.0,
    scores: dict | None = None,
) -> dict:
    """A run record as bench/gains.py writes it."""
    diff = final - initial
    low, high = ci if ci is not None else (diff - 0.1, diff + 0.1)
    return {
        "task": task,
        "seed": seed,
        "optimizer": "auto",
        "budget": None,
        "seed_prompt": "Answer the question.",
        "best_prompt": "better" if final != initial else "Answer the question.",
        "initial_test": {"mean": initial, "ci95": [initial - 0.1, initial + 0.1], "n": 40},
        "final_test": {"mean": final, "ci95": [final - 0.1, final + 0.1], "n": 40},
        "test_difference": {"diff": diff, "ci95": [low, high], "p": 0.01, "n": 40},
        "test_scores": scores,
        "changed_parts": ["instruction"] if final != initial else [],
        "guard": {"passed": final != initial},
        "calls": search_calls + 80,
        "search_calls": search_calls,
        "wall_time_s": wall,
        "stopped": "budget",
    }


def hand(task: str, seed: int, index: int, mean: float) -> dict:
    return {
        "task": task,
        "seed": seed,
        "prompt_index": index,
        "prompt": f"hand-written #{index + 1}",
        "test": {"mean": mean, "ci95": [mean - 0.1, mean + 0.1], "n": 40},
    }


def peer(task: str, seed: int, test: float, calls: int, name: str = "MIPROv2", **extra) -> dict:
    return {
        "task": task,
        "seed": seed,
        "optimizer": name,
        "test": {"mean": test, "ci95": [test - 0.1, test + 0.1], "n": 40},
        "compile_calls": calls,
        "test_calls": 40,
        "wall_s": 100.0,
        "error": None,
        **extra,
    }


def records(
    *,
    final: dict[str, float] | None = None,
    hand_mean: float = 0.5,
    runs_override: list[dict] | None = None,
    peers: list[dict] | None = None,
    tasks: list[str] = TASKS,
) -> Records:
    """Every task and seed measured; by default all five targets are met."""
    final = final or {}
    runs = runs_override or [
        run(task, seed, final=final.get(task, 0.6)) for task in tasks for seed in SEEDS
    ]
    hands = [
        hand(task, seed, index, hand_mean - 0.1 * index)
        for task in tasks
        for seed in SEEDS
        for index in (0, 1)
    ]
    if peers is None:
        peers = [peer(task, seed, 0.55, 300) for task in tasks for seed in SEEDS]
    return Records(runs={"auto": runs}, hand_written=hands, peers=peers)


def statuses(recs: Records) -> dict[str, str]:
    return {t.key: t.status for t in check_targets(recs, tasks=TASKS, seeds=SEEDS)}


def target_line(text: str, key: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith(f"- ({key})")]
    return line


def missed_line(recs: Records, key: str) -> str:
    """The report's line for target ``key``, which must be missed, and say so."""
    assert statuses(recs)[key] == MISSED
    line = target_line(render(recs, tasks=TASKS, seeds=SEEDS), key)
    assert "**MISSED**" in line
    return line


def test_every_target_met_and_said_so_in_the_report():
    recs = records()
    assert statuses(recs) == dict.fromkeys("abcde", MET)
    text = render(recs, tasks=TASKS, seeds=SEEDS)
    for key in "abcde":
        assert "**MET**" in target_line(text, key)
    assert "Met: a, b, c, d, e. Missed: none." in text


def test_a_needs_eight_tasks_at_or_above_the_better_hand_written_instruction():
    two_below = records(final={"t0": 0.45, "t1": 0.45})  # hand-written best: 0.5
    assert statuses(two_below)["a"] == MET
    line = missed_line(records(final={"t0": 0.45, "t1": 0.45, "t2": 0.45}), "a")
    assert "7 of 10 tasks" in line
    assert "t2 0.450 < 0.500" in line
    equal = records(final={"t0": 0.5, "t1": 0.5, "t2": 0.5})  # matching counts
    assert statuses(equal)["a"] == MET


def test_a_compares_means_over_seeds_not_single_seeds():
    runs = [run(task, seed, final=0.6) for task in TASKS for seed in SEEDS]
    for task in ("t0", "t1", "t2"):  # one bad seed each: mean (0.3 + 0.6 + 0.6) / 3 = 0.5
        runs[TASKS.index(task) * 3] = run(task, 0, final=0.3)
    assert statuses(records(runs_override=runs))["a"] == MET
    for task in ("t0", "t1", "t2"):  # worse: mean 0.467 < 0.5 on three tasks
        runs[TASKS.index(task) * 3] = run(task, 0, final=0.2)
    assert statuses(records(runs_override=runs))["a"] == MISSED


def test_a_is_undecided_while_the_missing_tasks_could_still_decide_it():
    five = [run(task, seed) for task in TASKS[:5] for seed in SEEDS]
    assert statuses(records(runs_override=five))["a"] == UNDECIDED
    eight = [run(task, seed) for task in TASKS[:8] for seed in SEEDS]
    assert statuses(records(runs_override=eight))["a"] == MET  # 8 good: nothing can undo it
    three_bad = [run(task, seed, final=0.1) for task in TASKS[:3] for seed in SEEDS]
    assert statuses(records(runs_override=three_bad))["a"] == MISSED  # at most 7 can be good


def test_b_flips_at_a_mean_gain_of_a_quarter():
    at = [run(t, s, initial=0.25, final=0.5) for t in TASKS for s in SEEDS]
    assert statuses(records(runs_override=at, hand_mean=0.1))["b"] == MET
    below = [run(t, s, initial=0.26, final=0.5) for t in TASKS for s in SEEDS]
    line = missed_line(records(runs_override=below, hand_mean=0.1), "b")
    assert "+0.240" in line


def test_b_is_a_mean_over_tasks_so_one_big_gain_can_carry_it():
    runs = [run(t, s, initial=0.3, final=0.5) for t in TASKS for s in SEEDS]  # +0.2 each
    runs[:3] = [run("t0", s, initial=0.0, final=0.8) for s in SEEDS]  # +0.8: mean +0.26
    assert statuses(records(runs_override=runs, hand_mean=0.1))["b"] == MET


def test_c_flips_on_one_run_significantly_below_its_seed():
    runs = [run(t, s) for t in TASKS for s in SEEDS]
    runs[4] = run("t1", 1, initial=0.6, final=0.5, ci=(-0.2, 0.0))  # touches 0: not significant
    assert statuses(records(runs_override=runs))["c"] == MET
    runs[4] = run("t1", 1, initial=0.6, final=0.5, ci=(-0.2, -0.01))
    line = missed_line(records(runs_override=runs), "c")
    assert "t1 seed 1 -0.100" in line


def test_c_missed_is_final_even_with_runs_missing():
    runs = [run("t0", 0, initial=0.6, final=0.4, ci=(-0.3, -0.1))]
    assert statuses(records(runs_override=runs))["c"] == MISSED
    assert statuses(records(runs_override=[run("t0", 0)]))["c"] == UNDECIDED


@pytest.mark.parametrize(
    ("calls", "wall", "expected"),
    [(250, 300.0, MET), (251, 300.0, MISSED), (250, 301.0, MISSED), (100, 50.0, MET)],
)
def test_d_checks_the_median_run_calls_and_time(calls, wall, expected):
    runs = [run(t, s, search_calls=calls, wall=wall) for t in TASKS for s in SEEDS]
    assert statuses(records(runs_override=runs))["d"] == expected


def test_d_is_a_median_so_a_few_long_runs_do_not_miss_it():
    runs = [run(t, s) for t in TASKS for s in SEEDS]
    runs[:14] = [run(r["task"], r["seed"], search_calls=900, wall=2000.0) for r in runs[:14]]
    assert statuses(records(runs_override=runs))["d"] == MET  # 14 of 30 over: median within
    runs[:16] = [run(r["task"], r["seed"], search_calls=900, wall=2000.0) for r in runs[:16]]
    line = missed_line(records(runs_override=runs), "d")
    assert "900 search calls (over 250)" in line


def test_e_needs_the_score_and_no_more_calls_than_the_best_peer():
    assert statuses(records())["e"] == MET  # 0.6 vs 0.55, 200 vs 300 calls
    better = [
        peer(t, s, 0.65 if t in ("t0", "t1", "t2") else 0.55, 300) for t in TASKS for s in SEEDS
    ]
    assert statuses(records(peers=better))["e"] == MISSED
    cheaper = [
        peer(t, s, 0.55, 150 if t in ("t7", "t8", "t9") else 300) for t in TASKS for s in SEEDS
    ]
    line = missed_line(records(peers=cheaper), "e")
    assert "t9 0.600 / 200 calls vs MIPROv2 0.550 / 150" in line
    two = [peer(t, s, 0.65 if t in ("t0", "t1") else 0.55, 300) for t in TASKS for s in SEEDS]
    assert statuses(records(peers=two))["e"] == MET


def test_e_compares_against_the_best_peer_per_task_and_skips_failed_runs():
    peers = [peer(t, s, 0.55, 300) for t in TASKS for s in SEEDS]
    # a second optimizer scores higher on three tasks, but only on seeds that failed
    peers += [
        peer(t, s, 0.9, 10, name="BootstrapFewShot", error="timeout")
        for t in ("t0", "t1", "t2")
        for s in SEEDS
    ]
    assert statuses(records(peers=peers))["e"] == MET
    peers += [peer(t, 0, 0.9, 10, name="COPRO") for t in ("t0", "t1", "t2")]
    assert statuses(records(peers=peers))["e"] == MISSED


def test_e_also_reports_the_looser_reading_against_a_peer_that_pays_nothing():
    free = [peer(t, s, 0.3, 0, name="LabeledFewShot") for t in TASKS for s in SEEDS]
    line = missed_line(records(peers=free), "e")  # 0.6 > 0.3, but 200 calls > 0
    assert "for fewer calls': 10 of 10 measured tasks" in line
    tied = [peer(t, s, 0.6, 0, name="LabeledFewShot") for t in TASKS for s in SEEDS]
    line = target_line(render(records(peers=tied), tasks=TASKS, seeds=SEEDS), "e")
    assert "for fewer calls': 0 of 10 measured tasks" in line


def test_e_is_undecided_without_peers():
    recs = records(peers=[])
    assert statuses(recs)["e"] == UNDECIDED
    assert "**NOT DECIDED**" in target_line(render(recs, tasks=TASKS, seeds=SEEDS), "e")


def test_task_row_pools_the_seeds_examples_and_keeps_the_better_hand_written_prompt():
    scores = [
        {"ids": ["a", "b"], "initial": [0.0, 0.0], "final": [1.0, 0.0]},
        {"ids": ["c", "d"], "initial": [0.0, 1.0], "final": [1.0, 1.0]},
    ]
    runs = [
        run("t0", 0, initial=0.0, final=0.5, scores=scores[0]),
        run("t0", 1, initial=0.5, final=1.0, scores=scores[1]),
    ]
    hands = [hand("t0", s, 0, 0.3) for s in (0, 1)] + [hand("t0", s, 1, 0.7) for s in (0, 1)]
    row = task_row(runs, hands, "t0")
    assert row is not None
    assert row.initial.mean == pytest.approx(0.25)
    assert row.final.mean == pytest.approx(0.75)
    assert row.diff.mean == pytest.approx(0.5)
    assert row.diff.low is not None
    assert row.diff.low <= 0.5 <= row.diff.high
    assert row.hand is not None
    assert row.hand.index == 1
    assert row.hand.score.mean == pytest.approx(0.7)
    assert row.parts == "instruction 2/2"


def test_main_writes_the_report_from_the_json_files(tmp_path):
    recs = records(final={"t0": 0.1, "t1": 0.1, "t2": 0.1})
    results = tmp_path / "gains"
    results.mkdir()
    (results / "runs_auto.json").write_text(json.dumps({"records": recs.runs["auto"]}))
    (results / "runs_zopo.json").write_text(json.dumps({"records": recs.runs["auto"][:3]}))
    (results / "hand_written.json").write_text(json.dumps({"records": recs.hand_written}))
    (tmp_path / "peers.json").write_text(json.dumps(recs.peers))
    loaded = load(results, tmp_path / "peers.json")
    assert sorted(loaded.runs) == ["auto", "zopo"]
    assert len(loaded.peers) == len(recs.peers)
    main(["--results-dir", str(results), "--peers", str(tmp_path / "peers.json"),
          "--tasks", *TASKS])  # fmt: skip
    text = (tmp_path / "gains.md").read_text()
    assert "**MISSED**" in target_line(text, "a")
    assert "## `zopo` alone" in text
    assert "## PromptPilot's default run beside DSPy" in text
    assert "| t0 | 0.100 / 200 | 0.550 / 300 | MIPROv2 ✗ |" in text
