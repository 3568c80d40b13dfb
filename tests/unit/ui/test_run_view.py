"""What the Inspect panel computes from a run's view: plot data, rows, diff, PCA map, meters."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.figure import Figure

from optimizers.evaluation.chat_calls import Usage
from ui.panels import inspect as rv
from ui.panels.embedding_map import embedding_map, pca_2d
from ui.panels.figures import map_figure, score_figure
from ui.panels.run_view import EmbeddingMap, Limits, RunView, Used, ViewEntry


def entry(prompt, dev, source="gpo", step=1, reused=False, meta=None, rolled_back=False):
    return ViewEntry(
        prompt=prompt, dev=dev, source=source, step=step, reused=reused, ci95=(dev, dev),
        complete=True, examples=8, parts={}, meta=meta or {}, rolled_back=rolled_back,
    )  # fmt: skip


TRAJECTORY = [
    entry("Answer the question.", 0.25, "seed", 0),
    entry("Classify the sentiment.", 0.5),
    entry("Answer the question.", 0.25, "gpo", 1, reused=True),
    entry("Classify the review sentiment.", 0.75, "zopo", 2, meta={"uncertainty": 0.4}),
    entry("Say good or bad.", 0.5, "zopo", 3, meta={"uncertainty": 0.9}, rolled_back=True),
]


def test_queries_count_only_fresh_scores():
    assert rv.queries_spent(TRAJECTORY) == [1, 2, 2, 3, 4]


def test_score_series_has_a_line_per_method_and_a_running_best():
    series = rv.score_series(TRAJECTORY)
    assert series.lines == {
        "seed": ([1], [0.25]),
        "gpo": ([2], [0.5]),
        "zopo": ([3, 4], [0.75, 0.5]),
    }
    assert series.best_so_far == ([1, 2, 3, 4], [0.25, 0.5, 0.75, 0.75])
    assert series.best == (3, 0.75)


def test_the_search_s_choice_of_best_wins_over_the_top_score():
    # a later rule can make the top scorer inadmissible: the view shows the search's choice
    assert rv.best_index(TRAJECTORY, "Say good or bad.") == 4
    assert rv.best_index(TRAJECTORY) == 3
    assert rv.best_index([]) is None


def test_candidate_rows_number_the_trajectory_and_measure_words_changed():
    rows = rv.candidate_rows(TRAJECTORY)
    assert [row[0] for row in rows] == [0, 1, 2, 3, 4]
    assert rows[0][5] == 0
    assert rows[1][5] == 2  # "Answer" and "question." replaced
    assert rows[2][3] == "gpo (seen before)"
    assert rows[3][1:5] == ["Classify the review sentiment.", 0.75, "zopo", 3]
    assert rows[4][3] == "zopo (rolled back)"
    assert [row[4] for row in rows] == [1, 2, 2, 3, 4]  # the run's steps, as the chat says


def test_steps_are_numbered_over_the_whole_run_not_per_method():
    # each method counts its own steps: textgrad's step 1 comes after gpo's step 2
    trajectory = [
        entry("Seed.", 0.1, "seed", 0),
        entry("A.", 0.2, "gpo", 1),
        entry("B.", 0.3, "gpo", 1),
        entry("C.", 0.3, "gpo", 2),
        entry("D.", 0.4, "textgrad", 1),
        entry("A.", 0.2, "textgrad", 1, reused=True),
        entry("E.", 0.5, "gpo", 3),
    ]
    assert rv.run_steps(trajectory) == [1, 2, 2, 3, 4, 4, 5]
    assert [row[4] for row in rv.candidate_rows(trajectory)] == [1, 2, 2, 3, 4, 4, 5]
    assert rv.run_steps([]) == []


def test_word_diff_marks_added_and_removed_words_and_keeps_the_rest():
    pieces = rv.word_diff("Answer the question briefly.", "Answer the review question.")
    assert "".join(t for t, label in pieces if label != "removed") == "Answer the review question."
    assert "".join(t for t, label in pieces if label != "added") == "Answer the question briefly."
    assert rv.diff_counts(pieces) == (2, 2)
    assert rv.word_diff("same words", "same words") == [("same words", None)]


def test_example_rows_keep_the_order_given_failures_first():
    class Result:
        def __init__(self, score, output):
            self.score, self.output = score, output
            self.input, self.targets, self.error = "x", ("positive", "pos"), None

    view = rv.examples_view([Result(1.0, "positive"), Result(0.0, "meh")])
    assert [e.score for e in view] == [0.0, 1.0]
    assert rv.example_rows(view)[0] == [0.0, "x", "positive | pos", "meh", ""]


def test_pca_recovers_the_plane_of_points_on_it():
    rng = np.random.default_rng(0)
    plane = rng.normal(size=(2, 10))
    coords = rng.normal(size=(30, 2)) * [3.0, 1.0]
    points = coords @ plane + 5.0
    projection = pca_2d(points)
    assert sum(projection.explained) == pytest.approx(1.0)
    assert projection.explained[0] > projection.explained[1]
    # distances within the plane are kept exactly by an orthonormal projection
    xy = projection.apply(points)
    assert np.linalg.norm(xy[0] - xy[1]) == pytest.approx(np.linalg.norm(points[0] - points[1]))


def test_pca_of_one_point_is_the_origin_and_bad_shapes_fail():
    assert pca_2d(np.ones((1, 4))).apply(np.ones((1, 4))).tolist() == [[0.0, 0.0]]
    with pytest.raises(ValueError, match=r"shape \(n, d\)"):
        pca_2d(np.ones(4))


def test_embedding_map_has_one_point_per_prompt_and_the_zopo_path_in_order():
    vectors = np.eye(4)[:, :4] + 0.1
    emap = embedding_map(TRAJECTORY, vectors)
    assert emap.numbers == [0, 1, 3, 4]  # #2 repeats #0
    assert emap.scores == [0.25, 0.5, 0.75, 0.5]
    assert emap.path == [2, 3]
    assert emap.best == 2
    assert emap.uncertainty == [None, None, 0.4, 0.9]
    assert EmbeddingMap.from_dict(emap.to_dict()) == emap
    with pytest.raises(ValueError, match="expected 4 vectors"):
        embedding_map(TRAJECTORY, vectors[:3])


def test_embedding_map_projects_the_surrogate_on_the_same_plane():
    class View:
        texts = ("a", "b", "c", "d")
        embeddings = np.eye(4) + 0.1
        mean = np.array([0.1, 0.2, 0.3, 0.4])
        std = np.array([0.0, 0.5, 0.7, 1.0])

    emap = embedding_map(TRAJECTORY, np.eye(4) + 0.1, surrogate=View())
    assert emap.field.std == [0.0, 0.5, 0.7, 1.0]
    assert emap.field.xy == emap.xy  # same points, same plane
    assert EmbeddingMap.from_dict(emap.to_dict()) == emap


def test_budget_meter_shows_use_against_limits():
    view = RunView(
        run="r",
        used=Used(queries=5, calls=40, seconds=75),
        limits=Limits(max_queries=10),
        usage={"task": Usage(prompt_tokens=1000, completion_tokens=200, cache_hits=3)},
    )
    text = rv.budget_markdown(view)
    assert "**Dev queries** 5 —" in text
    assert "50% of 10" in text
    assert "**Paid LLM calls** 40 — no limit (3 answered from the cache" in text
    assert "1,200" in text
    assert "1:15" in text


@pytest.mark.parametrize(
    ("view", "line"),
    [
        (None, "no run yet"),
        ({"status": "starting"}, "running · starting: loading the data and the models"),
        ({"status": "running", "steps": 3, "best_dev": 0.5}, "running · step 3 · best dev 0.500"),
        ({"status": "waiting", "question": "Paused after 3 dev queries."}, "paused"),
        ({"status": "waiting", "question": "Keep going?"}, "waiting: Keep going?"),
        ({"status": "finished"}, "finished"),
        ({"status": "error", "detail": "cannot reach"}, "error: cannot reach"),
    ],
)
def test_status_line(view, line):
    assert rv.status_line(None if view is None else RunView(run="r", **view)) == line


def test_figures_draw_data_and_say_when_there_is_none():
    assert isinstance(score_figure(rv.score_series([])), Figure)
    figure = score_figure(rv.score_series(TRAJECTORY))
    (ax,) = figure.axes
    assert {line.get_label() for line in ax.lines} >= {"seed", "gpo", "zopo", "best so far", "best"}
    emap = embedding_map(TRAJECTORY, np.eye(4) + 0.1)
    figure = map_figure(emap)
    assert "ZOPO path" in [line.get_label() for line in figure.axes[0].lines]
    assert map_figure(None).axes[0].texts[0].get_text().startswith("the map needs")
