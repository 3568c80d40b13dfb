import threading
from collections.abc import Callable

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings

from memory.chroma_client import parse_url
from memory.embeddings import Embedder
from memory.prompt_record import PromptRecord, prompt_id
from memory.prompt_store import PromptStore

SENTIMENT = [
    "Decide whether the movie review is positive or negative.",
    "Classify the sentiment of the review as positive or negative.",
    "Tell me if this customer feedback is happy or unhappy.",
    "Is the review good or bad? Answer positive or negative.",
]
ANTONYMS = [
    "Write a word that means the opposite of the input word.",
    "Give the antonym of the given word.",
]


class Renamed:
    """A real embedder under another name: the store must refuse its vectors."""

    def __init__(self, inner: Embedder, name: str, dim: int | None = None) -> None:
        self.inner = inner
        self.name = name
        self.dim = inner.dim if dim is None else dim

    def embed(self, texts):
        return self.inner.embed(texts)


def check_round_trip(
    open_store: Callable[[Embedder], PromptStore],
    embedder: Embedder,
    *,
    between: Callable[[], None] = lambda: None,
) -> None:
    """Everything a store must do, for any backend; ``between`` runs before reopening.

    ``open_store(embedder)`` must open the same (initially empty) collection each time.
    """
    store = open_store(embedder)
    assert store.count() == 0
    assert store.nearest("anything") == []

    # -- add: ids, embeddings, insertion order across batches -------------------------
    seed = PromptRecord(text=SENTIMENT[0], task="sentiment", run="r1", step=0, source="seed")
    added = store.add(
        [
            seed,
            PromptRecord(
                text=SENTIMENT[1], task="sentiment", run="r1", step=1, source="ape",
                parents=(seed.id,), dev_score=0.5,
            ),
            PromptRecord(
                text=SENTIMENT[2], task="sentiment", run="r1", step=1, source="gpo",
                parents=(seed.id,), dev_score=0.25,
            ),
        ]
    )  # fmt: skip
    late_seed = store.add(
        [PromptRecord(text=SENTIMENT[3], task="sentiment", run="r1", step=0, source="user")]
    )[0]
    other = store.add(
        [
            PromptRecord(text=ANTONYMS[0], task="antonyms", run="r2", step=0, source="seed"),
            PromptRecord(
                text=ANTONYMS[1], task="antonyms", run="r2", step=1, source="zopo", dev_score=0.9
            ),
            # The sentiment seed again, in another run: another record.
            PromptRecord(text=SENTIMENT[0], task="sentiment", run="r3", step=0, source="seed"),
        ]
    )
    assert store.count() == 7
    assert [r.id for r in added] == [prompt_id("r1", t) for t in SENTIMENT[:3]]
    assert other[2].id != added[0].id
    for record in [*added, late_seed, *other]:
        assert record.embedding is not None
        assert record.embedding.shape == (embedder.dim,)
        np.testing.assert_allclose(record.embedding, embedder.embed([record.text])[0], atol=1e-5)

    # -- get / set_scores ------------------------------------------------------------
    got = store.get(added[1].id)
    assert got == added[1]
    assert got.parents == (seed.id,)
    assert got.dev_score == 0.5
    assert got.test_score is None
    np.testing.assert_allclose(got.embedding, added[1].embedding, atol=1e-5)
    assert store.get("no-such-id") is None
    store.set_scores(seed.id, dev=0.75)
    store.set_scores(seed.id, test=0.5)
    assert (store.get(seed.id).dev_score, store.get(seed.id).test_score) == (0.75, 0.5)
    with pytest.raises(KeyError, match="no-such-id"):
        store.set_scores("no-such-id", dev=1.0)
    with pytest.raises(ValueError, match="dev=, test="):
        store.set_scores(seed.id)
    # Adding a known prompt again keeps its scores and its place in insertion order.
    again = store.add([seed])[0]
    assert (again.dev_score, again.test_score) == (0.75, 0.5)
    assert store.count() == 7

    # -- nearest ---------------------------------------------------------------------
    query = "Say if the film review is positive or negative."
    hits = store.nearest(query, k=3, task="sentiment")
    assert len(hits) == 3
    assert all(r.task == "sentiment" for r, _ in hits)
    sims = [s for _, s in hits]
    assert sims == sorted(sims, reverse=True)
    q = embedder.embed([query])[0]
    for record, sim in hits:
        assert sim == pytest.approx(float(q @ record.embedding), abs=1e-4)
        assert store.get(record.id) == record
    vector_hits = store.nearest(q, k=3, task="sentiment")
    assert [r.id for r, _ in vector_hits] == [r.id for r, _ in hits]
    assert {r.id for r, _ in store.nearest(query, k=10)} == {
        r.id for r in [*added, late_seed, *other]
    }
    assert len(store.nearest(query, k=10, task="sentiment")) == 5
    # Within a task the antonym prompts are invisible; across tasks they come first.
    antonym_query = "Output the opposite of the word."
    assert store.nearest(antonym_query, k=1)[0][0].task == "antonyms"
    assert store.nearest(antonym_query, k=1, task="sentiment")[0][0].task == "sentiment"
    in_run = store.nearest(query, k=10, task="sentiment", run="r3")
    assert [r.id for r, _ in in_run] == [other[2].id]
    best = hits[0][0].id
    excluded = store.nearest(query, k=3, task="sentiment", exclude_ids=[best])
    assert len(excluded) == 3
    assert best not in {r.id for r, _ in excluded}
    with pytest.raises(ValueError, match="k must be"):
        store.nearest(query, k=0)
    with pytest.raises(ValueError, match="shape"):
        store.nearest(np.ones(3, dtype=np.float32))

    # -- scored / trajectory ---------------------------------------------------------
    scored = store.scored("sentiment")
    assert [(r.text, r.dev_score) for r in scored] == [
        (SENTIMENT[0], 0.75),
        (SENTIMENT[1], 0.5),
        (SENTIMENT[2], 0.25),
    ]
    assert all(r.embedding is not None and r.embedding.shape == (embedder.dim,) for r in scored)
    assert store.scored("sentiment", run="r3") == []
    assert [r.text for r in store.scored("antonyms")] == [ANTONYMS[1]]
    trajectory = store.trajectory("r1")
    assert [r.text for r in trajectory] == [SENTIMENT[0], SENTIMENT[3], SENTIMENT[1], SENTIMENT[2]]
    assert [r.step for r in trajectory] == [0, 0, 1, 1]
    assert store.trajectory("no-such-run") == []

    # -- reopen: everything is found again -------------------------------------------
    before = {
        "count": store.count(),
        "trajectory": store.trajectory("r1"),
        "scored": store.scored("sentiment"),
        "nearest": [r.id for r, _ in store.nearest(query, k=4)],
    }
    store.close()
    between()
    store = open_store(embedder)
    assert store.count() == before["count"]
    assert store.trajectory("r1") == before["trajectory"]
    assert store.scored("sentiment") == before["scored"]
    assert [r.id for r, _ in store.nearest(query, k=4)] == before["nearest"]
    reread = store.get(added[1].id)
    assert reread == added[1]
    np.testing.assert_allclose(reread.embedding, added[1].embedding, atol=1e-5)
    store.close()

    # -- another embedder cannot open the collection ---------------------------------
    with pytest.raises(ValueError, match="other-model"):
        open_store(Renamed(embedder, "other-model"))
    with pytest.raises(ValueError, match="dim 8"):
        open_store(Renamed(embedder, embedder.name, dim=8))


# --------------------------------------------------------------------------------------
# Embedded (PersistentClient) store
# --------------------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path, bundled_embedder):
    with PromptStore.embedded(tmp_path / "chroma", bundled_embedder) as opened:
        yield opened


def test_round_trip_embedded(tmp_path, bundled_embedder):
    check_round_trip(
        lambda embedder: PromptStore.embedded(tmp_path / "chroma", embedder), bundled_embedder
    )


def test_collections_are_separate(tmp_path, bundled_embedder):
    path = tmp_path / "chroma"
    with (
        PromptStore.embedded(path, bundled_embedder, collection="one") as one,
        PromptStore.embedded(path, bundled_embedder, collection="two") as two,
    ):
        one.add([PromptRecord(text="a prompt", task="t", run="r", step=0, source="seed")])
        assert (one.count(), two.count()) == (1, 0)
        assert one.collection_name == "one"
        assert two.embedder is bundled_embedder


def test_duplicates_in_one_batch_are_stored_once(store):
    first = PromptRecord(text="same", task="t", run="r", step=0, source="seed")
    second = PromptRecord(text="same", task="t", run="r", step=2, source="ape", dev_score=0.5)
    returned = store.add([first, second])
    assert store.count() == 1
    assert returned[0] == returned[1] == store.get(first.id)
    assert store.get(first.id).step == 2


def test_concurrent_adds(store):
    def worker(n: int) -> None:
        for i in range(5):
            store.add(
                [PromptRecord(text=f"prompt {n}-{i}", task="t", run=f"r{n}", step=i, source="seed")]
            )
            store.set_scores(prompt_id(f"r{n}", f"prompt {n}-{i}"), dev=i / 10)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert store.count() == 20
    for n in range(4):
        assert [r.step for r in store.trajectory(f"r{n}")] == list(range(5))
        assert [r.dev_score for r in store.scored("t", run=f"r{n}")] == [0.4, 0.3, 0.2, 0.1, 0.0]


def test_nearest_within_given_ids(store):
    records = store.add(
        [
            PromptRecord(text=text, task="sentiment", run="r", step=i, source="gpo")
            for i, text in enumerate(SENTIMENT)
        ]
    )
    allowed = [records[2].id, records[3].id, records[3].id, "p-not-stored"]
    hits = store.nearest(SENTIMENT[0], k=5, ids=allowed)
    assert {record.id for record, _ in hits} == {records[2].id, records[3].id}
    assert hits[0][1] >= hits[1][1]
    assert store.nearest(SENTIMENT[0], k=1, ids=allowed, exclude_ids=[hits[0][0].id]) == [hits[1]]
    assert store.nearest(SENTIMENT[0], ids=[]) == []
    with pytest.raises(ValueError, match="sequence of ids"):
        store.nearest(SENTIMENT[0], ids=records[0].id)


def test_sibling_shares_the_client_not_the_records(store, bundled_embedder):
    sibling = store.sibling("prompts-extra")
    assert sibling.collection_name == "prompts-extra"
    assert sibling.embedder is bundled_embedder
    sibling.add([PromptRecord(text="a prompt", task="t", run="r", step=0, source="seed")])
    assert (store.count(), sibling.count()) == (0, 1)
    sibling.close()  # does not own the client: the main store still works
    assert store.sibling("prompts-extra").count() == 1
    with pytest.raises(ValueError, match="another collection"):
        store.sibling("prompts")


def test_add_nothing(store):
    assert store.add([]) == []
    with pytest.raises(TypeError, match="PromptRecord"):
        store.add([{"text": "x"}])


def test_refuses_foreign_collections(tmp_path, bundled_embedder):
    path = tmp_path / "chroma"
    client = chromadb.PersistentClient(
        path=str(path), settings=Settings(anonymized_telemetry=False)
    )
    client.create_collection("plain", embedding_function=None)
    client.create_collection(
        "euclid",
        configuration={"hnsw": {"space": "l2"}},
        metadata={"embedder": bundled_embedder.name, "embedder_dim": bundled_embedder.dim},
        embedding_function=None,
    )
    with pytest.raises(ValueError, match="not made by PromptStore"):
        PromptStore.embedded(path, bundled_embedder, collection="plain")
    with pytest.raises(ValueError, match="'l2' distance"):
        PromptStore.embedded(path, bundled_embedder, collection="euclid")
    client.close()


# --------------------------------------------------------------------------------------
# Records and URLs
# --------------------------------------------------------------------------------------


def test_record_id_is_stable_and_run_scoped():
    a = PromptRecord(text="Do it.", task="t", run="r", step=0, source="seed")
    b = PromptRecord(text="Do it.", task="t", run="r", step=3, source="ape", dev_score=1)
    assert a.id == b.id == prompt_id("r", "Do it.")
    assert prompt_id("other", "Do it.") != a.id
    assert PromptRecord(id="mine", text="x", task="t", run="r", step=0, source="s").id == "mine"
    assert isinstance(b.dev_score, float)


def test_record_equality_ignores_the_embedding():
    a = PromptRecord(text="x", task="t", run="r", step=0, source="s", embedding=np.ones(3))
    b = PromptRecord(text="x", task="t", run="r", step=0, source="s")
    assert a == b
    assert hash(a) == hash(b)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"step": -1}, "step must be >= 0"),
        ({"step": 1.5}, "step must be an integer"),
        ({"task": ""}, "task must be a non-empty string"),
        ({"dev_score": float("nan")}, "finite"),
        ({"test_score": "0.5"}, "number or None"),
        ({"parents": "p-1"}, "sequence of ids"),
        ({"text": None}, "text must be a string"),
    ],
)
def test_record_validation(fields, message):
    values = {"text": "x", "task": "t", "run": "r", "step": 0, "source": "seed"} | fields
    with pytest.raises(ValueError, match=message):
        PromptRecord(**values)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8123", ("127.0.0.1", 8123, False)),
        ("http://chroma.internal/", ("chroma.internal", 8000, False)),
        ("https://chroma.example.com", ("chroma.example.com", 443, True)),
    ],
)
def test_parse_url(url, expected):
    assert parse_url(url) == expected


@pytest.mark.parametrize(
    "url",
    ["localhost:8000", "ftp://host:1", "http://host:1/api/v2", "http://u:p@host:1", "http://"],
)
def test_remote_rejects_bad_urls(url, bundled_embedder):
    with pytest.raises(ValueError, match=r"URL|credentials"):
        PromptStore.remote(url, bundled_embedder)
