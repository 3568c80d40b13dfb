"""Uploaded eval files: type and size checks, stored copies, previews, column guesses."""

from __future__ import annotations

from pathlib import Path

import pytest

from optimizers.tasks import ColumnMapping, DataError, SplitSpec
from ui.chat.uploads import (
    MAX_UPLOAD_BYTES,
    builtin_name,
    data_error_text,
    preview_data,
    store_upload,
)

DATA = Path(__file__).resolve().parents[2] / "data"
FRACTIONS = SplitSpec(train=0.3, dev=0.3, test=0.4)


def test_an_upload_is_kept_once_under_the_home(tmp_path):
    first = store_upload(DATA / "good" / "reviews.csv", tmp_path, name="reviews.csv")
    again = store_upload(DATA / "good" / "reviews.csv", tmp_path, name="reviews.csv")
    assert first == again
    assert first.parent.parent == tmp_path / "uploads"
    assert first.name == "reviews.csv"
    assert first.read_bytes() == (DATA / "good" / "reviews.csv").read_bytes()


@pytest.mark.parametrize(
    ("name", "found"),
    [("data.xlsx", "a .xlsx file"), ("notes", "a file without an extension")],
)
def test_other_file_types_are_refused_by_name(tmp_path, name, found):
    source = tmp_path / "upload.bin"
    source.write_bytes(b"input,output\na,b\n")
    with pytest.raises(DataError, match=f"expected .csv, .tsv, .jsonl, .json, found {found}"):
        store_upload(source, tmp_path / "home", name=name)


def test_files_over_the_limit_are_refused(tmp_path):
    source = tmp_path / "big.csv"
    with source.open("wb") as handle:
        handle.truncate(MAX_UPLOAD_BYTES + 1)
    with pytest.raises(DataError, match="over the app's limit of 20 MB"):
        store_upload(source, tmp_path / "home")


def test_preview_guesses_columns_and_shows_raw_rows():
    preview = preview_data(str(DATA / "good" / "reviews.csv"), split=FRACTIONS)
    assert preview.columns == ["input", "output", "notes"]
    assert (preview.input_column, preview.target_column) == ("input", "output")
    assert preview.rows[0] == ["Great battery life", "positive", "short"]
    assert preview.examples == sum(preview.sizes.values())
    rendered = preview.status.replace("\\", "")  # Markdown escapes gone
    assert rendered.startswith(f"Loaded {preview.examples} examples from reviews.csv")


def test_named_columns_are_used_and_a_bad_name_is_a_clear_error(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text(
        "\n".join(f'{{"q": "question {i}", "a": "answer {i}", "x": "{i}"}}' for i in range(6)),
        encoding="utf-8",
    )
    preview = preview_data(str(path), columns=ColumnMapping(input="q", target="a"), split=FRACTIONS)
    assert (preview.input_column, preview.target_column) == ("q", "a")
    with pytest.raises(DataError, match='no field named "nope"'):
        preview_data(str(path), columns=ColumnMapping(input="nope", target="a"))


def test_multiple_targets_are_matched_to_their_column():
    preview = preview_data(str(DATA / "good" / "list.json"), split=FRACTIONS)
    assert preview.target_column is not None
    assert preview.target_column in preview.columns


def test_malformed_files_name_the_file_and_line_without_the_stored_path(tmp_path):
    stored = store_upload(DATA / "bad" / "unclosed_quote.csv", tmp_path, name="mine.csv")
    with pytest.raises(DataError) as caught:
        preview_data(str(stored))
    text = data_error_text(caught.value, "mine.csv")
    assert text.startswith("mine.csv")
    assert str(tmp_path) not in text


def test_split_sizes_that_do_not_fit_are_an_error():
    with pytest.raises(ValueError, match="need 60 examples"):
        preview_data(str(DATA / "good" / "reviews.csv"), split=SplitSpec(train=20, dev=20, test=20))


def test_builtin_names():
    assert builtin_name("builtin:review_sentiment") == "review_sentiment"
    assert builtin_name("word_count") == "word_count"
    assert builtin_name("reviews.csv") is None
    preview = preview_data("review_sentiment")
    assert preview.data == "builtin:review_sentiment"
    assert preview.examples == 100
