from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from optimizers.tasks import ColumnMapping, DataError, LoadLimits, Task, load_task

GOOD = Path(__file__).resolve().parents[2] / "data" / "good"
SHARED = Path(__file__).resolve().parents[3].parent / "shared" / "data"
needs_shared = pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} is absent")


def rows(task: Task) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(e.id, e.input, e.targets) for e in task.examples]


def written(tmp_path: Path, name: str, text: str) -> Path:
    """A file ``name`` in ``tmp_path`` holding ``text`` (UTF-8)."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- each format on small good files -------------------------------------------------


def test_csv_keeps_cells_verbatim_and_points_at_lines() -> None:
    task = load_task(GOOD / "reviews.csv")
    assert task.name == "reviews"
    assert task.path == str(GOOD / "reviews.csv")
    assert len(task) == 9
    by_id = {e.id: e for e in task.examples}
    assert by_id["row-2"].input == "Slow, buggy, and overpriced"
    assert by_id["row-3"].input == "A review that spans\ntwo lines"
    assert by_id["row-4"].input == 'She said "wow" twice'
    # Formula-looking cells are plain text, never evaluated or altered.
    assert [by_id[f"row-{n}"].input for n in (5, 6, 7, 8)] == [
        "=SUM(A1:A9)",
        "+1 for the design",
        "-2 stars",
        "@admin fix this",
    ]
    # The multi-line cell occupies lines 4-5, so the next row starts on line 6;
    # the blank line 11 is skipped without using up a row id.
    assert by_id["row-3"].source == "reviews.csv:4"
    assert by_id["row-4"].source == "reviews.csv:6"
    assert by_id["row-9"].source == "reviews.csv:12"
    assert by_id["row-9"].input == "Works fine"
    assert by_id["row-1"].targets == ("positive",)
    assert by_id["row-1"].target == "positive"
    assert by_id["row-1"].meta == {"notes": "short"}


def test_tsv_by_extension_and_case_insensitive_guess() -> None:
    task = load_task(GOOD / "qa.tsv")
    assert rows(task) == [
        ("row-1", "What is 2 + 2?", ("4",)),
        ("row-2", "Capital of Peru?", ("Lima",)),
        ("row-3", "A comma, inside", ("yes, it works",)),
    ]


@pytest.mark.parametrize("name", ["bom.csv", "crlf.csv", "semicolon.csv"])
def test_csv_variants(name: str) -> None:
    task = load_task(GOOD / name)
    assert len(task) == 2
    assert task.examples[0].source == f"{name}:2"
    assert "\ufeff" not in task.examples[0].input
    assert not any(e.input.endswith("\r") or e.target.endswith("\r") for e in task.examples)


def test_jsonl_lists_numbers_bools_and_extra_fields() -> None:
    task = load_task(GOOD / "items.jsonl")
    assert rows(task) == [
        ("row-1", "big", ("small", "little")),
        ("row-2", "2.50 + 0", ("2.50",)),  # as written, not Python's 2.5
        ("row-3", "Is ice cold?", ("true",)),
        ("row-4", "Count to three", ("3",)),
        ("row-5", "naïve café", ("ok",)),
    ]
    assert task.examples[1].meta == {"source": "calc"}
    assert task.examples[4].source == "items.jsonl:5"


def test_json_list_guesses_text_and_label() -> None:
    task = load_task(GOOD / "list.json")
    assert rows(task) == [
        ("row-1", "I love it", ("positive",)),
        ("row-2", "I hate it", ("negative",)),
        ("row-3", "Not bad at all", ("positive",)),
    ]
    assert [e.source for e in task.examples] == ["list.json:2", "list.json:6", "list.json:10"]


def test_instruction_induction_sample() -> None:
    task = load_task(GOOD / "ii_sample.json")
    assert rows(task) == [
        # output first, then the other translations; blank alternatives dropped
        ("1", "house", ("Haus", "Gebäude")),
        # common_concept: items joined, all_common_concepts are the targets
        ("2", "violins, fishing, puppets", ("involve strings.", "use strings.")),
        # x/y are fields of the schema, not the input/target
        ("3", "7 5", ("12",)),
    ]
    assert task.examples[1].meta == {"concept": "involve strings."}
    assert task.examples[2].meta == {"x": 7, "y": 5}
    assert task.examples[0].source == "ii_sample.json:6"


def test_instruction_induction_explicit_column_overrides_schema(tmp_path: Path) -> None:
    example = {"input": "house", "output": "Haus", "possible_translations": ["Haus", "Gebäude"]}
    path = written(tmp_path, "translation.json", json.dumps({"examples": {"1": example}}))
    assert load_task(path).examples[0].targets == ("Haus", "Gebäude")
    task = load_task(path, columns=ColumnMapping(target="output"))
    assert task.examples[0].targets == ("Haus",)
    assert task.examples[0].meta == {"possible_translations": ["Haus", "Gebäude"]}


def test_bbh_sample() -> None:
    task = load_task(GOOD / "bbh_sample.json")
    assert rows(task) == [
        ("row-1", "not ( True ) is", ("False",)),
        ("row-2", "True and True is", ("True",)),
    ]
    assert task.examples[0].meta == {}


def test_multi_target_csv_with_separator_and_explicit_columns() -> None:
    columns = ColumnMapping(input="word", target="synonyms", target_separator="|")
    task = load_task(GOOD / "multi_target.csv", columns=columns)
    assert rows(task) == [
        ("row-1", "car", ("automobile", "auto")),
        ("row-2", "big", ("large", "huge")),
        ("row-3", "fast", ("quick",)),
    ]


def test_separator_applies_to_json_strings_too(tmp_path: Path) -> None:
    path = written(tmp_path, "sep.jsonl", '{"input": "a", "output": "x / y"}\n')
    task = load_task(path, columns=ColumnMapping(target_separator="/"))
    assert task.examples[0].targets == ("x", "y")


# --- column guessing and explicit override -------------------------------------------


def test_explicit_columns_override_guess_and_ignore_case() -> None:
    task = load_task(GOOD / "reviews.csv", columns=ColumnMapping(input="NOTES"))
    assert task.examples[0].input == "short"
    assert task.examples[0].targets == ("positive",)
    assert task.examples[0].meta == {"input": "Great battery life"}


def test_explicit_target_excludes_it_from_guessing(tmp_path: Path) -> None:
    path = written(tmp_path, "io.csv", "input,output,answer\nq,model said,gold\n")
    task = load_task(path, columns=ColumnMapping(target="answer"))
    assert task.examples[0].targets == ("gold",)
    assert task.examples[0].meta == {"output": "model said"}


def test_explicit_target_is_not_guessed_as_the_input(tmp_path: Path) -> None:
    path = written(tmp_path, "qt.csv", "question,text\nWhat is it?,a cat\n")
    task = load_task(path, columns=ColumnMapping(target="text"))
    assert rows(task) == [("row-1", "What is it?", ("a cat",))]
    with pytest.raises(DataError, match="same field"):
        load_task(path, columns=ColumnMapping(input="TEXT", target="text"))


def test_single_letter_names_are_a_last_resort(tmp_path: Path) -> None:
    path = written(tmp_path, "xy.csv", "x,input,y,output\n1,hello,2,hi\n")
    assert rows(load_task(path)) == [("row-1", "hello", ("hi",))]
    only = written(tmp_path, "only_xy.csv", "x,y\n1,2\n")
    assert rows(load_task(only)) == [("row-1", "1", ("2",))]


def test_explicit_column_that_does_not_exist() -> None:
    with pytest.raises(DataError) as info:
        load_task(GOOD / "reviews.csv", columns=ColumnMapping(input="review"))
    message = str(info.value)
    assert 'no column named "review"' in message
    assert '"input", "output", "notes"' in message


def test_column_mapping_and_limits_validate_their_values() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        ColumnMapping(target_separator="")
    with pytest.raises(ValueError, match="both"):
        ColumnMapping(input="a", target="a")
    with pytest.raises(ValueError, match="max_rows"):
        LoadLimits(max_rows=0)


def test_name_argument() -> None:
    assert load_task(GOOD / "qa.tsv", name="quiz").name == "quiz"


# --- detection by content ------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "renamed", "count"),
    [
        ("items.jsonl", "items.txt", 5),  # JSONL without its extension
        ("items.jsonl", "items.json", 5),  # JSONL named .json
        ("list.json", "list.jsonl", 3),  # a JSON list named .jsonl
        ("bbh_sample.json", "bbh.jsonl", 2),  # one-line BBH named .jsonl
        ("bbh_sample.json", "bbh", 2),  # no extension
        ("reviews.csv", "reviews.data", 9),  # CSV with an unknown extension
        ("qa.tsv", "qa.txt", 3),  # tabs found by content
        ("qa.tsv", "qa.csv", 3),  # a tab-separated .csv
    ],
)
def test_format_detected_by_content(tmp_path: Path, source: str, renamed: str, count: int) -> None:
    target = tmp_path / renamed
    shutil.copy(GOOD / source, target)
    assert len(load_task(target)) == count


# --- the real shared data ------------------------------------------------------------


def shared_files(kind: str) -> list[Path]:
    return sorted((SHARED / kind).glob("*.json")) if SHARED.is_dir() else []


@needs_shared
@pytest.mark.parametrize(
    "path",
    shared_files("bbh") + shared_files("instruction_induction/execute"),
    ids=lambda path: f"{path.parent.name}/{path.stem}",
)
def test_real_shared_file_loads(path: Path) -> None:
    task = load_task(path)
    assert len(task) > 0
    assert len({e.id for e in task.examples}) == len(task)
    for example in task.examples:
        assert example.input.strip()
        assert example.targets
        assert all(target.strip() for target in example.targets)
        assert example.source.startswith(path.name + ":")
    raw = json.loads(path.read_text(encoding="utf-8"))["examples"]
    dropped = sum(len(e.meta.get("duplicate_ids", [])) for e in task.examples)
    assert len(task) + dropped == len(raw)


@needs_shared
def test_real_translation_has_every_acceptable_answer() -> None:
    path = SHARED / "instruction_induction" / "execute" / "translation_en-de.json"
    first = load_task(path).examples[0]
    raw = json.loads(path.read_text(encoding="utf-8"))["examples"]["1"]
    assert first.id == "1"
    assert first.input == raw["input"]
    assert first.target == raw["output"]
    assert set(first.targets) == set(raw["possible_translations"]) | {raw["output"]}


@needs_shared
def test_real_common_concept_joins_items() -> None:
    path = SHARED / "instruction_induction" / "execute" / "common_concept.json"
    task = load_task(path)
    raw = json.loads(path.read_text(encoding="utf-8"))["examples"]
    third = next(e for e in task.examples if e.id == "3")
    assert third.input == ", ".join(raw["3"]["items"])
    assert third.targets == tuple(raw["3"]["all_common_concepts"])
    # examples 1 and 2 differ only in "concept": the repeat is dropped, and recorded
    assert "2" not in {e.id for e in task.examples}
    assert task.examples[0].meta["duplicate_ids"] == ["2"]


@needs_shared
def test_real_bbh_duplicates_are_dropped_not_fatal() -> None:
    task = load_task(SHARED / "bbh" / "sports_understanding.json")
    assert len(task) == 248


@needs_shared
def test_real_induce_translation_drops_blank_alternatives() -> None:
    task = load_task(SHARED / "instruction_induction" / "induce" / "translation_en-fr.json")
    assert len(task) == 2811
    assert all(all(t.strip() for t in e.targets) for e in task.examples)


# --- big files -----------------------------------------------------------------------


def test_100k_row_csv_loads(tmp_path: Path) -> None:
    # How fast: bench/loader_throughput.py (timings belong in benchmarks, not in tests).
    path = tmp_path / "big.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["input", "output"])
        writer.writerows((f"example number {i}, with a comma", str(i % 7)) for i in range(100_000))
    task = load_task(path)
    assert len(task) == 100_000
    assert task.examples[-1].id == "row-100000"


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_many_json_rows_load(tmp_path: Path, suffix: str) -> None:
    records = [{"input": f"question {i}", "output": [str(i), f"#{i}"]} for i in range(25_000)]
    if suffix == ".jsonl":
        text = "".join(json.dumps(r) + "\n" for r in records)
    else:
        text = json.dumps(records, indent=1)
    path = written(tmp_path, f"big{suffix}", text)
    task = load_task(path)
    assert len(task) == 25_000
    assert task.examples[-1].targets == ("24999", "#24999")
