"""Property-based fuzzing of the eval loaders: a DataError or a correct Task, quickly.

Every loader is reached through ``load_task`` with each file extension it dispatches on.
Three kinds of input: arbitrary bytes, bytes assembled from the tokens the formats are
made of (so the parsers get past their first character), and well-formed CSV / JSON
built from strategies, where a load must give back exactly what was written.

A DataError whose message says "could not be loaded" is the loader's last-resort
wrapper around an unexpected exception: a bug, and a failure here. The runs are
derandomised (the same examples in CI every time) and keep no example database; each
example has a 5 s deadline, far above the milliseconds a load takes, so only a
pathological (e.g. quadratic) case trips it.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from optimizers.tasks import DataError, LoadLimits, Task, load_task

pytestmark = pytest.mark.timeout(120)

SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".txt", "")
LIMITS = LoadLimits(max_bytes=200_000, max_rows=500, max_field_chars=2_000)

FUZZ = settings(
    max_examples=300,
    deadline=timedelta(seconds=5),
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

_names = itertools.count()


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def load(folder: Path, data: bytes, suffix: str) -> Task | DataError:
    """Write ``data`` to a fresh file and load it: the Task, or the DataError raised."""
    path = folder / f"f{next(_names)}{suffix}"
    path.write_bytes(data)
    try:
        outcome: Task | DataError = load_task(path, limits=LIMITS)
    except DataError as error:
        outcome = error
    finally:
        path.unlink()
    if isinstance(outcome, DataError):
        assert "could not be loaded" not in str(outcome), f"loader bug: {outcome!r}"
        assert outcome.path == str(path)
        assert str(outcome).startswith(str(path))
        event(f"refused: {' '.join(outcome.problem.split()[:3])}")  # --hypothesis-show-statistics
        return outcome
    check_task(outcome)
    event("loaded")
    return outcome


def check_task(task: Task) -> None:
    """What every loaded task guarantees, whatever the file looked like."""
    assert 1 <= len(task) <= LIMITS.max_rows
    ids = [example.id for example in task.examples]
    assert len(ids) == len(set(ids))
    for example in task.examples:
        assert isinstance(example.input, str)
        assert example.input.strip()
        assert len(example.input) <= LIMITS.max_field_chars
        assert example.targets
        assert all(isinstance(t, str) and t.strip() for t in example.targets)
        assert all(len(t) <= LIMITS.max_field_chars for t in example.targets)
        example.input.encode("utf-8")  # no lone surrogates: every string can be stored or sent
        for target in example.targets:
            target.encode("utf-8")


# --- arbitrary and token-built bytes ------------------------------------------------

TOKENS = [
    b"{", b"}", b"[", b"]", b":", b",", b";", b"\t", b"\n", b"\r\n", b"\r", b" ", b'"',
    b'"input"', b'"output"', b'"examples"', b'"target"', b"input", b"output", b"question",
    b"answer", b"1", b"-0.5e3", b"NaN", b"null", b"true", b"\\", b"\\u0041", b"\\ud800",
    b"\\ud83d\\ude00", b"\xef\xbb\xbf", b"\xff\xfe", b"\x00", b"\x1b[31m", b"\xc3\x28",
    b"\xe2\x82", b"=cmd|' /C calc'!A0", b"@SUM(A1)", b"+1", b"caf\xc3\xa9", b"x" * 50,
]  # fmt: skip


@FUZZ
@given(data=st.binary(max_size=3_000), suffix=st.sampled_from(SUFFIXES))
def test_arbitrary_bytes(folder: Path, data: bytes, suffix: str) -> None:
    load(folder, data, suffix)


@FUZZ
@given(tokens=st.lists(st.sampled_from(TOKENS), max_size=120), suffix=st.sampled_from(SUFFIXES))
def test_bytes_built_from_format_tokens(folder: Path, tokens: list[bytes], suffix: str) -> None:
    load(folder, b"".join(tokens), suffix)


# --- well-formed files: a load returns exactly what was written ----------------------

# Text a person writes: any character but control ones (those are the byte fuzzers' job;
# a file full of them is refused as binary), line breaks and tabs included.
characters = st.characters(
    codec="utf-8", exclude_categories=["Cc", "Cs"], include_characters="\n\t\r"
)
cells = st.text(characters, min_size=1, max_size=40).filter(str.strip)
names = st.sampled_from(["input", "output", "target", "question", "text", "label", "id"]) | st.text(
    characters, max_size=12
)


@FUZZ
@given(
    rows=st.lists(st.tuples(cells, cells), min_size=1, max_size=30),
    extra=st.lists(names, max_size=3),
    delimiter=st.sampled_from([",", "\t", ";"]),
)
def test_written_csv_loads_back_exactly(
    folder: Path, rows: list[tuple[str, str]], extra: list[str], delimiter: str
) -> None:
    extra = [name for name in dict.fromkeys(extra) if name.strip() and name not in _ROLE_NAMES]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(["input", "output", *extra])
    for index, (question, answer) in enumerate(rows):
        writer.writerow([question, answer, *[f"v{index}"] * len(extra)])
    suffix = ".tsv" if delimiter == "\t" else ".csv"
    outcome = load(folder, buffer.getvalue().encode("utf-8"), suffix)
    if isinstance(outcome, DataError):  # the one allowed refusal: an example twice
        assert len(set(rows)) < len(rows)
        assert "duplicate example" in str(outcome)
        return
    assert [(e.input, e.targets) for e in outcome.examples] == [(q, (a,)) for q, a in rows]


_ROLE_NAMES = {"input", "output", "target", "question", "text", "label", "prompt", "answer",
               "query", "sentence", "expected", "x", "y"}  # fmt: skip

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | cells
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=4),
    max_leaves=12,
)  # fmt: skip
records = st.fixed_dictionaries(
    {"input": cells, "output": cells | st.lists(cells, min_size=1, max_size=3)},
    optional={"meta": json_values, "notes": json_values},
)


def targets_of(output: str | list[str]) -> tuple[str, ...]:
    """The loader's targets: every listed answer once, in order."""
    return tuple(dict.fromkeys(output if isinstance(output, list) else [output]))


def shapes(items: list[dict[str, Any]]) -> dict[str, tuple[str, bytes]]:
    """The same records as JSONL, a JSON list, BBH and instruction-induction files."""
    as_bbh = [{"input": r["input"], "target": r["output"]} for r in items]
    return {
        "jsonl": (".jsonl", "".join(json.dumps(r) + "\n" for r in items).encode()),
        "list": (".json", json.dumps(items, indent=1, ensure_ascii=False).encode()),
        "bbh": (".json", json.dumps({"examples": as_bbh}).encode()),
        "ii": (
            ".json",
            json.dumps({"examples": {str(i + 1): r for i, r in enumerate(items)}}).encode(),
        ),
    }


@FUZZ
@given(
    items=st.lists(records, min_size=1, max_size=20),
    shape=st.sampled_from(["jsonl", "list", "bbh", "ii"]),
)
def test_written_json_loads_back_exactly(
    folder: Path, items: list[dict[str, Any]], shape: str
) -> None:
    suffix, data = shapes(items)[shape]
    outcome = load(folder, data, suffix)
    expected = [(r["input"], targets_of(r["output"])) for r in items]
    if isinstance(outcome, DataError):
        assert shape not in ("bbh", "ii"), f"benchmark formats drop repeats: {outcome}"
        assert len(set(expected)) < len(expected)
        assert "duplicate example" in str(outcome)
        return
    loaded = [(e.input, e.targets) for e in outcome.examples]
    assert loaded == (list(dict.fromkeys(expected)) if shape in ("bbh", "ii") else expected)


@FUZZ
@given(value=json_values, suffix=st.sampled_from([".json", ".jsonl"]))
def test_any_json_document(folder: Path, value: Any, suffix: str) -> None:
    load(folder, json.dumps(value).encode(), suffix)
