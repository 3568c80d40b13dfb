"""The end-to-end benchmark's report, on hand-made run records where every number is known."""

from __future__ import annotations

import numpy as np
import pytest
from end_to_end_report import best_so_far, findings, results_table, summarize


def run_record(method: str, seed: int, initial: list[float], final: list[float], dev: list):
    """A run as bench/end_to_end.py records it; ``dev`` lists (score, reused) in order."""
    return {
        "task": "toy",
        "method": method,
        "seed": seed,
        "budget": 4,
        "seed_prompt": "seed",
        "best_prompt": "seed" if final == initial else "better",
        "initial_test": sum(initial) / len(initial),
        "final_test": sum(final) / len(final),
        "test_initial": initial,
        "test_final": final,
        "best_dev": max(score for score, _ in dev),
        "dev_queries": sum(not reused for _, reused in dev),
        "trajectory": [{"dev": score, "reused": reused} for score, reused in dev],
        "usage": {
            "task": {"calls": 10 * (seed + 1), "prompt_tokens": 100, "completion_tokens": 5},
            "opt": {"calls": 2, "prompt_tokens": 50, "completion_tokens": 20},
        },
        "wall_time_s": 3.0,
    }


def test_best_so_far_skips_reused_prompts_and_keeps_the_last_best_after_an_early_stop():
    record = run_record("x", 0, [0.0], [0.0], [(0.2, False), (0.5, True), (0.4, False)])
    np.testing.assert_allclose(best_so_far(record, 4), [0.2, 0.4, 0.4, 0.4])
    longer = run_record("x", 0, [0.0], [0.0], [(0.1, False)] * 3 + [(0.9, False)] * 3)
    np.testing.assert_allclose(best_so_far(longer, 4), [0.1, 0.1, 0.1, 0.9])


def test_pooled_difference_is_the_mean_of_per_seed_differences_paired_by_example():
    runs = [
        run_record("gain", 0, [0, 0, 1, 1], [1, 1, 1, 1], [(0.5, False), (0.75, False)]),
        run_record("gain", 1, [0, 1, 1, 1], [1, 1, 1, 0], [(0.5, False), (0.5, False)]),
        run_record("same", 0, [0, 0, 1, 1], [0, 0, 1, 1], [(0.5, False)]),
        run_record("same", 1, [0, 1, 1, 1], [0, 1, 1, 1], [(0.5, False)]),
    ]
    gain, same = summarize(runs)
    per_seed = [0.5, 0.0]  # (1.0 - 0.5) and (0.75 - 0.75)
    assert gain.paired.diff == pytest.approx(np.mean(per_seed))
    assert gain.paired.n == 8
    assert (gain.paired.wins, gain.paired.losses, gain.paired.ties) == (3, 1, 4)
    assert gain.initial[0] == pytest.approx(5 / 8)
    assert gain.final[0] == pytest.approx(7 / 8)
    assert gain.kept_seed == 0
    assert same.paired.diff == 0
    assert same.kept_seed == 2
    assert gain.mean_of("usage.task.calls") == 15
    assert gain.tokens("opt") == 70
    np.testing.assert_allclose(gain.curves, [[0.5, 0.75, 0.75, 0.75], [0.5, 0.5, 0.5, 0.5]])

    table = "\n".join(results_table([gain, same]))
    assert "| toy | gain | 2 | 0.625 | 0.875 [" in table
    assert f"**+0.250** [{gain.paired.interval.low:+.3f}," in table
    assert "| toy | same | 2 | 0.625 | 0.625 [" in table
    text = "\n".join(findings([gain, same]))
    assert "largest mean change +0.250 (gain)" in text
    assert "stayed the seed prompt in 2 of 4 runs" in text


def test_findings_name_an_interval_above_zero_only_when_there_is_one():
    wins = [run_record("up", s, [0] * 20, [1] * 20, [(0.0, False), (1.0, False)]) for s in (0, 1)]
    flat = [run_record("flat", s, [0, 1] * 10, [0, 1] * 10, [(0.5, False)]) for s in (0, 1)]
    text = "\n".join(findings(summarize(wins + flat)))
    assert "interval above 0 for up. The answer" in text  # "flat" is not listed with it
