"""Every malformed file must fail with a DataError a person can act on."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from optimizers.tasks import ColumnMapping, DataError, LoadLimits, load_task
from tests.data_error_checks import assert_error_says

BAD = Path(__file__).resolve().parents[2] / "data" / "bad"

# file name -> (line the error names, or None; words the message must contain)
CORPUS: dict[str, tuple[int | None, tuple[str, ...]]] = {
    "empty.csv": (None, ("empty", "0 bytes")),
    "blank.jsonl": (None, ("empty", "whitespace")),
    "header_only.csv": (None, ("no examples", "header", '"input"', '"output"')),
    "no_header.csv": (
        None,
        ("no input column", '"I loved it"', "header", "question", "ColumnMapping"),
    ),
    "missing_target.csv": (
        None,
        ("no target column", '"input", "comment"', "output, target, answer, label"),
    ),
    "ambiguous_input.csv": (None, ("ambiguous input", '"question"', '"text"', "ColumnMapping")),
    "ragged.csv": (3, ("expected 2 cells", "found 3", "line 1")),
    "empty_input.csv": (3, ("input", "empty")),
    "empty_target.jsonl": (2, ("target", "empty")),
    "empty_target_list.json": (3, ("target", "empty list")),
    "duplicate.csv": (4, ("duplicate", "line 2")),
    "duplicate.jsonl": (2, ("duplicate", "line 1")),
    "invalid.json": (4, ("invalid JSON", "column 1", "trailing comma")),
    "bad_line.jsonl": (3, ("invalid JSON", "column 26")),
    "not_object.jsonl": (2, ("expected a JSON object", "list")),
    "deep.json": (2, ("nested too deeply", "20", "max_json_depth")),
    "latin1.csv": (3, ("not valid UTF-8", "byte offset 25", "0xe9", "save the file as UTF-8")),
    "utf16.csv": (None, ("UTF-16", "expected UTF-8")),
    "unclosed_quote.csv": (3, ("never closed",)),
    "text_after_quote.csv": (2, ("after a closing quote",)),
    "wrong_shape.json": (None, ("expected a list of examples", '"examples"', '"data"')),
    "examples_not_list.json": (None, ('"examples" must be', '"oops"')),
    "scalar.json": (None, ("expected a list of examples", "number 42")),
    "list_of_strings.json": (1, ("example 1", '"a"', "expected an object")),
    "ii_missing_output.json": (8, ('example "2"', 'no "output" field', '"input"')),
    "ii_duplicate_key.json": (4, ('"1"', "appears twice", "lines 3 and 4")),
    "duplicate_header.csv": (1, ('"input"', "twice", "columns 1 and 3")),
    "null_input.jsonl": (2, ("input", "must be text", "null")),
    "nested_target.jsonl": (1, ("target", "must be text", "object")),
    "missing_field.jsonl": (2, ('no "output" field', '"answr"')),
}


def check(error: DataError, path: Path, line: int | None, words: tuple[str, ...]) -> None:
    assert path.name in str(error)
    assert error.path == str(path)
    assert_error_says(error, line, words)


def test_corpus_is_complete() -> None:
    on_disk = {path.name for path in BAD.iterdir()}
    assert on_disk == set(CORPUS), "every bad file needs an expectation (and vice versa)"
    assert len(CORPUS) >= 18


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_bad_file(name: str) -> None:
    line, words = CORPUS[name]
    with pytest.raises(DataError) as info:
        load_task(BAD / name)
    check(info.value, BAD / name, line, words)


# --- generated here rather than committed -------------------------------------------


def load_error(path: Path, **kwargs: object) -> DataError:
    with pytest.raises(DataError) as info:
        load_task(path, **kwargs)  # type: ignore[arg-type]
    return info.value


def test_missing_file(tmp_path: Path) -> None:
    check(load_error(tmp_path / "nope.csv"), tmp_path / "nope.csv", None, ("not found",))


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "data.csv"
    folder.mkdir()
    check(load_error(folder), folder, None, ("directory",))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    check(load_error(fifo), fifo, None, ("not a regular file",))


def test_nul_bytes_are_binary(tmp_path: Path) -> None:
    path = tmp_path / "blob.csv"
    path.write_bytes(b"input,output\nab\x00cd,x\n")
    check(load_error(path), path, 2, ("binary", "NUL", "byte offset 15"))


@pytest.mark.parametrize(
    ("name", "data", "word"),
    [
        ("book.csv", b"PK\x03\x04" + bytes(range(256)) * 4, "xlsx"),
        ("chart.json", b"\x89PNG\r\n\x1a\n" + bytes(64), "PNG"),
        ("data.jsonl", b"\x1f\x8b\x08\x00" + bytes(range(1, 200)), "gzip"),
        ("noise.csv", bytes(range(1, 9)) * 200, "control bytes"),
    ],
)
def test_binary_formats_are_named(tmp_path: Path, name: str, data: bytes, word: str) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    check(load_error(path), path, None, ("binary data", word))


def test_oversized_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as handle:  # sparse: 60 MB on paper, nothing to read
        handle.truncate(60_000_000)
    check(load_error(path), path, None, ("too large", "60,000,000 bytes", "max_bytes"))


def test_max_bytes_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "small.csv"
    path.write_text("input,output\n" + "a,b\n" * 100, encoding="utf-8")
    error = load_error(path, limits=LoadLimits(max_bytes=100))
    check(error, path, None, ("too large", "100 bytes"))


@pytest.mark.parametrize(
    ("name", "body", "line"),
    [
        ("many.csv", "input,output\n" + "".join(f"q{i},a\n" for i in range(6)), 7),
        (
            "many.jsonl",
            "".join(json.dumps({"input": f"q{i}", "output": "a"}) + "\n" for i in range(6)),
            6,
        ),
        ("many.json", json.dumps([{"input": f"q{i}", "output": "a"} for i in range(6)]), None),
    ],
)
def test_too_many_rows(tmp_path: Path, name: str, body: str, line: int | None) -> None:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    check(
        load_error(path, limits=LoadLimits(max_rows=5)), path, line, ("too many rows", "max_rows")
    )


@pytest.mark.parametrize(
    ("name", "body", "words"),
    [
        (
            "long.csv",
            "input,output\nshort,ok\n" + "x" * 50 + ",ok\n",
            ('"input" cell', "50 characters"),
        ),
        (
            "long.jsonl",
            '{"input": "a", "output": "b"}\n' + json.dumps({"input": "q", "output": "y" * 50}),
            ('target ("output")', "50 characters"),
        ),
    ],
)
def test_field_too_long(tmp_path: Path, name: str, body: str, words: tuple[str, ...]) -> None:
    path = tmp_path / name
    path.write_text(body, encoding="utf-8")
    error = load_error(path, limits=LoadLimits(max_field_chars=40))
    check(error, path, 3 if name.endswith(".csv") else 2, ("too long", "max_field_chars", *words))


def test_unclosed_quote_swallowing_a_big_file(tmp_path: Path) -> None:
    path = tmp_path / "runaway.csv"
    path.write_text('input,output\n"oops,a\n' + "row,b\n" * 40_000, encoding="utf-8")
    check(load_error(path), path, 2, ('"', "never closed"))


@pytest.mark.parametrize("name", ["deep.json", "deep.jsonl"])
def test_pathological_nesting_does_not_crash(tmp_path: Path, name: str) -> None:
    depth = sys.getrecursionlimit() * 50
    path = tmp_path / name
    path.write_text("[" * depth + "]" * depth + "\n", encoding="utf-8")
    check(load_error(path), path, 1, ("nested too deeply",))


def test_giant_integer(tmp_path: Path) -> None:
    path = tmp_path / "int.jsonl"
    path.write_text('{"input": "a", "output": ' + "9" * 5000 + "}\n", encoding="utf-8")
    check(load_error(path), path, 1, ("invalid JSON", "digits"))


def test_ambiguous_target_in_json(tmp_path: Path) -> None:
    path = tmp_path / "both.json"
    path.write_text(json.dumps([{"input": "q", "output": "m", "answer": "g"}]), encoding="utf-8")
    check(load_error(path), path, None, ("ambiguous target", '"output"', '"answer"'))


def test_input_list_is_not_text(tmp_path: Path) -> None:
    path = tmp_path / "listy.jsonl"
    path.write_text('{"input": ["a", "b"], "output": "c"}\n', encoding="utf-8")
    check(load_error(path), path, 1, ("input", "must be text", "list of 2 items"))


def test_separator_leaving_nothing(tmp_path: Path) -> None:
    path = tmp_path / "bars.csv"
    path.write_text("input,output\nq,|\n", encoding="utf-8")
    error = load_error(path, columns=ColumnMapping(target_separator="|"))
    check(error, path, 2, ("target", "empty"))
