import numpy as np
import pytest

from memory.prompt_record import PromptRecord
from memory.prompt_store import PromptStore
from optimizers.gpo import Trajectory, retrieve
from optimizers.gpo.retrieval import by_importance, by_recency
from optimizers.gpo.trajectory import TRAJECTORY_SUFFIX, entry_id

# (text, dev score); the last one is the current prompt.
STEPS = [
    ("Classify the sentiment of the movie review as positive or negative.", 0.3),
    ("Translate the sentence into French.", 0.9),
    ("Add the two numbers and give the sum.", 0.1),
    ("Decide whether the review of the film is positive or negative.", 0.5),
    ("Write a haiku about the ocean.", 0.2),
    ("Tell whether this movie review is positive or negative.", 0.4),
]


@pytest.fixture
def main_store(tmp_path, bundled_embedder):
    with PromptStore.embedded(tmp_path / "chroma", bundled_embedder) as store:
        yield store


@pytest.fixture
def trajectory(main_store):
    built = Trajectory.beside(main_store, task="sentiment", run="r1")
    for step, (text, score) in enumerate(STEPS):
        built.append(text, score, step=step, source="seed" if step == 0 else "gpo")
    return built


def texts(records):
    return [record.text for record in records]


def test_lives_in_a_sibling_collection(main_store, trajectory):
    assert trajectory.store.collection_name == "prompts" + TRAJECTORY_SUFFIX
    assert (main_store.count(), trajectory.store.count()) == (0, len(STEPS))
    assert main_store.scored("sentiment") == []
    stored = trajectory.store.trajectory("r1")
    assert [(r.text, r.dev_score, r.step) for r in stored] == [
        (text, score, step) for step, (text, score) in enumerate(STEPS)
    ]
    assert stored[3].parents == (stored[2].id,)
    assert trajectory.ids[2] == entry_id("r1", STEPS[2][0], 2)


def test_relevance_is_the_current_prompt_then_the_most_similar(trajectory, bundled_embedder):
    chosen = retrieve(trajectory, "relevance", 3)
    assert chosen[0].text == STEPS[-1][0]
    # The two other sentiment prompts, most similar first.
    vectors = bundled_embedder.embed([text for text, _ in STEPS])
    similarity = vectors[:-1] @ vectors[-1]
    expected = [STEPS[i][0] for i in np.argsort(-similarity)[:2]]
    assert set(expected) == {STEPS[0][0], STEPS[3][0]}
    assert texts(chosen[1:]) == expected
    assert [r.dev_score for r in chosen] == [0.4, *(dict(STEPS)[t] for t in expected)]


def test_recency_is_the_last_k_newest_first(trajectory):
    assert texts(retrieve(trajectory, "recency", 3)) == [STEPS[5][0], STEPS[4][0], STEPS[3][0]]


def test_importance_is_the_top_k_scores(trajectory):
    assert texts(retrieve(trajectory, "importance", 3)) == [
        STEPS[1][0],
        STEPS[3][0],
        STEPS[5][0],
    ]


def test_k_larger_than_the_trajectory(trajectory):
    for mode in ("relevance", "recency", "importance"):
        assert len(retrieve(trajectory, mode, 10)) == len(STEPS)


def test_a_prompt_chosen_twice_is_shown_once(main_store):
    built = Trajectory.beside(main_store, task="t", run="r2")
    built.append("Say positive or negative.", 0.2, step=0, source="seed")
    built.append("Answer with positive or negative.", 0.6, step=1, source="gpo")
    built.append("Say positive or negative.", 0.2, step=2, source="gpo")
    assert len(built) == 3  # two entries of one prompt
    assert texts(retrieve(built, "relevance", 3)) == [
        "Say positive or negative.",
        "Answer with positive or negative.",
    ]
    assert texts(retrieve(built, "recency", 3)) == [
        "Say positive or negative.",
        "Answer with positive or negative.",
    ]
    assert [r.step for r in retrieve(built, "importance", 3)] == [1, 2]  # newer on ties


def test_other_runs_and_stale_entries_never_leak_in(main_store, trajectory):
    other = Trajectory.beside(main_store, task="sentiment", run="r9")
    other.append("Is the film review positive or negative?", 1.0, step=0, source="seed")
    # An entry of run r1 left by an earlier attempt, not in this trajectory's ids.
    trajectory.store.add(
        [
            PromptRecord(
                id=entry_id("r1", "Is this movie review positive or negative?", 99),
                text="Is this movie review positive or negative?",
                task="sentiment", run="r1", step=99, source="gpo", dev_score=1.0,
            )
        ]
    )  # fmt: skip
    assert texts(retrieve(trajectory, "relevance", 3))[1:] in (
        [STEPS[0][0], STEPS[3][0]],
        [STEPS[3][0], STEPS[0][0]],
    )


def test_load_reads_the_entries_back(main_store, trajectory):
    again = Trajectory.beside(main_store, task="sentiment", run="r1")
    again.load(trajectory.ids)
    assert [(r.text, r.dev_score) for r in again.entries] == STEPS
    assert again.entries[0].embedding is not None
    with pytest.raises(ValueError, match="not in Chroma collection"):
        again.load(["missing@0"])


def test_selection_helpers_and_errors(trajectory):
    assert by_recency([], 3) == []
    assert by_importance(trajectory.entries, 1)[0].dev_score == 0.9
    with pytest.raises(ValueError, match="k must be"):
        retrieve(trajectory, "recency", 0)
    with pytest.raises(ValueError, match="retrieval mode"):
        retrieve(trajectory, "random", 3)
    empty = Trajectory(trajectory.store, task="sentiment", run="none")
    with pytest.raises(LookupError, match="empty"):
        retrieve(empty, "relevance", 3)
