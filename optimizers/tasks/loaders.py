"""Loading an eval file (CSV/TSV, JSONL, JSON list, instruction-induction, BBH) into a ``Task``.

The format comes from the extension, then the content. Whatever the format, one set
of rules picks the input and target fields, turns values into text and validates
them, so a bad file always fails with a ``DataError`` naming the file, the line and
what was expected — never a parser traceback.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optimizers.tasks.csv_format import choose_delimiter, read_csv
from optimizers.tasks.errors import DataError
from optimizers.tasks.example import Example, Task
from optimizers.tasks.json_formats import (
    BBH,
    INSTRUCTION_INDUCTION,
    JSONL,
    describe_json,
    first_line_is_object,
    read_json,
    read_jsonl,
)
from optimizers.tasks.limits import LoadLimits, RawRow, read_text

INPUT_NAMES = ("input", "question", "text", "prompt", "query", "sentence", "x")
TARGET_NAMES = ("output", "target", "answer", "label", "expected", "y")
# Single-letter names are a last resort: ``{"input", "x"}`` means ``input``.
_WEAK_NAMES = frozenset({"x", "y"})
# Published benchmarks ship a few exact repeats; they are dropped, not fatal there.
_BENCHMARK_FORMATS = frozenset({INSTRUCTION_INDUCTION, BBH})
_CSV_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_JSONL_SUFFIXES = frozenset({".jsonl", ".ndjson"})


@dataclass(frozen=True, kw_only=True)
class ColumnMapping:
    """Which column/key holds the input and which the target.

    ``None`` guesses from common names (case-insensitive). ``target_separator``
    splits a target cell such as ``"car|automobile"`` into several acceptable targets.
    """

    input: str | None = None
    target: str | None = None
    target_separator: str | None = None

    def __post_init__(self) -> None:
        for name in ("input", "target", "target_separator"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"ColumnMapping.{name} must be a non-empty string or None")
        if self.input is not None and self.input == self.target:
            raise ValueError(f'ColumnMapping input and target are both "{self.input}"')


def load_task(
    path: str | Path,
    *,
    columns: ColumnMapping = ColumnMapping(),
    limits: LoadLimits = LoadLimits(),  # noqa: B008 - frozen, safe to share
    name: str | None = None,
) -> Task:
    """Load an eval file as a ``Task`` named ``name`` (default: the file's stem).

    Raises ``DataError`` for anything that makes the file unusable.
    """
    file = Path(path)
    where = str(path)
    try:
        text = read_text(file, limits)
        kind, rows = read_rows(file, text, where, limits)
        examples = _examples(rows, kind, columns, limits, where, file.name)
    except DataError:
        raise
    except MemoryError:
        raise DataError(where, "the file is too large to load into memory") from None
    except Exception as exc:  # a loader bug must still read as a data problem, not a crash
        raise DataError(where, f"could not be loaded ({type(exc).__name__}: {exc})") from exc
    return Task(name=name or file.stem, examples=tuple(examples), path=where)


def read_rows(file: Path, text: str, where: str, limits: LoadLimits) -> tuple[str, list[RawRow]]:
    """The file's format name and its raw rows, before columns are chosen (previews reuse it)."""
    suffix = file.suffix.lower()
    stripped = text.lstrip("\ufeff \t\r\n")
    looks_json = stripped.startswith(("{", "["))
    if suffix in _CSV_SUFFIXES and not looks_json:
        delimiter = choose_delimiter(text, _CSV_SUFFIXES[suffix])
        kind = "TSV" if delimiter == "\t" else "CSV"
        return kind, read_csv(text, where, limits, delimiter)[1]
    if looks_json or suffix in _JSONL_SUFFIXES or suffix == ".json":
        if stripped.startswith("["):
            return read_json(text, where, limits)
        if first_line_is_object(text):
            if _one_line(stripped) and (suffix not in _JSONL_SUFFIXES or '"examples"' in stripped):
                return read_json(text, where, limits)
            return JSONL, read_jsonl(text, where, limits)
        if suffix in _JSONL_SUFFIXES:
            return JSONL, read_jsonl(text, where, limits)
        return read_json(text, where, limits)
    delimiter = choose_delimiter(text, ",")
    return ("TSV" if delimiter == "\t" else "CSV"), read_csv(text, where, limits, delimiter)[1]


def _one_line(text: str) -> bool:
    return "\n" not in text.rstrip()


def _examples(
    rows: list[RawRow],
    kind: str,
    columns: ColumnMapping,
    limits: LoadLimits,
    where: str,
    filename: str,
) -> list[Example]:
    """One example per row; an exact repeat is an error (dropped in published benchmarks)."""
    input_key, target_key = _input_and_target_keys(rows, kind, columns, where)
    examples: list[Example] = []
    seen: dict[tuple[str, tuple[str, ...]], int] = {}
    for row in rows:
        example = _example(row, columns, input_key, target_key, limits, where, filename)
        key = (example.input, example.targets)
        if key in seen:
            first = examples[seen[key]]
            if kind in _BENCHMARK_FORMATS:
                first.meta.setdefault("duplicate_ids", []).append(row.id)
                continue
            raise DataError(
                where,
                f"duplicate example: the same input and target as {_place(first)} "
                f"(ids {first.id} and {row.id}); remove one of them",
                row.line,
            )
        seen[key] = len(examples)
        examples.append(example)
    return examples


def _input_and_target_keys(
    rows: list[RawRow], kind: str, columns: ColumnMapping, where: str
) -> tuple[str, str]:
    """The fields holding the input and the target ("" where a derived value serves)."""
    keys = _keys(rows)
    table = kind in ("CSV", "TSV")
    fixed = kind == INSTRUCTION_INDUCTION
    need_input = columns.input is None and any(
        not (row.derived and "input" in row.derived) for row in rows
    )
    need_target = columns.target is None and any(
        not (row.derived and "targets" in row.derived) for row in rows
    )
    # A named column is settled first so guessing the other one never picks it.
    if columns.target is not None:
        target_key = _column("target", columns.target, True, keys, None, fixed, table, where)
        input_key = _column(
            "input", columns.input, need_input, keys, target_key, fixed, table, where
        )
    else:
        input_key = _column("input", columns.input, need_input, keys, None, fixed, table, where)
        target_key = _column("target", None, need_target, keys, input_key, fixed, table, where)
    if input_key and input_key == target_key:
        raise DataError(
            where, f'the input and the target are the same field "{input_key}"; name two fields'
        )
    return input_key, target_key


def _example(
    row: RawRow,
    columns: ColumnMapping,
    input_key: str,
    target_key: str,
    limits: LoadLimits,
    where: str,
    filename: str,
) -> Example:
    """One row as an example: its input and targets checked, its other fields kept as meta."""
    raw_input, input_used, input_name = _value_of(row, columns.input, input_key, "input", where)
    raw_target, target_used, target_name = _value_of(
        row, columns.target, target_key, "target", where
    )
    text = _input_text(raw_input, input_name, row, where)
    targets = _targets(raw_target, target_name, columns.target_separator, row, where)
    _check_lengths(text, targets, input_name, target_name, limits, row, where)
    used = set(input_used) | set(target_used)
    return Example(
        id=row.id,
        input=text,
        targets=targets,
        source=f"{filename}:{row.line}" if row.line is not None else filename,
        meta={key: value for key, value in row.fields.items() if key not in used},
    )


def _keys(rows: list[RawRow]) -> list[str]:
    """Every field name, in order of first appearance."""
    keys: dict[str, None] = {}
    for row in rows:
        for key in row.fields:
            if key not in keys:
                keys[key] = None
    return list(keys)


def _column(
    role: str,
    explicit: str | None,
    needed: bool,
    keys: list[str],
    exclude: str | None,
    fixed: bool,
    table: bool,
    where: str,
) -> str:
    """Pick the field holding ``role`` ("input"/"target"): named, fixed by the format or guessed."""
    noun = "column" if table else "field"
    found = ", ".join(f'"{key}"' for key in keys[:12]) + (" ..." if len(keys) > 12 else "")
    if explicit is not None:
        if explicit in keys:
            return explicit
        folded = [key for key in keys if key.casefold() == explicit.casefold()]
        if len(folded) == 1:
            return folded[0]
        raise DataError(
            where,
            f'no {noun} named "{explicit}" (ColumnMapping.{role}); found {noun}s: {found}',
        )
    if not needed:
        return ""
    if fixed:  # instruction induction: the schema names them
        return "input" if role == "input" else "output"
    names = INPUT_NAMES if role == "input" else TARGET_NAMES
    matches = [key for key in keys if key != exclude and key.strip().casefold() in names]
    strong = [key for key in matches if key.strip().casefold() not in _WEAK_NAMES]
    chosen = strong or matches
    if len(chosen) > 1:
        listed = ", ".join(f'"{key}"' for key in chosen)
        raise DataError(
            where,
            f"ambiguous {role} {noun}: {listed} could each be the {role}; choose one with "
            f'ColumnMapping({role}="...")',
        )
    if chosen:
        return chosen[0]
    expected = ", ".join(names[:-1]) + f" or {names[-1]}"
    hint = "; the first row must be a header row naming the columns" if table else ""
    raise DataError(
        where,
        f"no {role} {noun}: found {noun}s {found}; expected one named {expected} "
        f'(any case){hint}, or name it with ColumnMapping({role}="...")',
    )


def _value_of(
    row: RawRow, given: str | None, key: str, role: str, where: str
) -> tuple[Any, tuple[str, ...], str]:
    """A row's input or target, the fields it came from, and their name for errors.

    A known schema's derived value wins unless the user named a column.
    """
    derived = (row.derived or {}).get("input" if role == "input" else "targets")
    if given is None and derived is not None:
        value, used = derived
        return value, tuple(used), "+".join(used)
    return _field(row, key, role, where), (key,), key


def _field(row: RawRow, key: str, role: str, where: str) -> Any:
    try:
        return row.fields[key]
    except KeyError:
        has = ", ".join(f'"{name}"' for name in row.fields) or "no fields"
        raise DataError(
            where,
            f'{_prefix(row)}no "{key}" field for the {role} (this example has: {has})',
            row.line,
        ) from None


def _input_text(value: Any, name: str, row: RawRow, where: str) -> str:
    if isinstance(value, list) and name == "items":  # instruction induction: common_concept
        parts = [
            _scalar(item, f'item {i} of "items"', row, where) for i, item in enumerate(value, 1)
        ]
        text = ", ".join(parts)
    else:
        text = _scalar(value, f'the input ("{name}")', row, where)
    if not text.strip():
        raise DataError(where, f'{_prefix(row)}the input ("{name}") is empty', row.line)
    return text


def _targets(
    value: Any, name: str, separator: str | None, row: RawRow, where: str
) -> tuple[str, ...]:
    if isinstance(value, list):
        if not value:
            raise DataError(
                where, f'{_prefix(row)}the target ("{name}") is an empty list', row.line
            )
        candidates = [
            _scalar(item, f'target {i} of "{name}"', row, where) for i, item in enumerate(value, 1)
        ]
    else:
        candidates = [_scalar(value, f'the target ("{name}")', row, where)]
    if separator is not None:
        candidates = [piece.strip() for text in candidates for piece in text.split(separator)]
    # Several acceptable answers: blank alternatives are dropped, repeats kept once.
    targets = tuple(dict.fromkeys(text for text in candidates if text.strip()))
    if not targets:
        raise DataError(where, f'{_prefix(row)}the target ("{name}") is empty', row.line)
    return targets


def _scalar(value: Any, what: str, row: RawRow, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    expected = "text (a string, number or boolean)"
    raise DataError(
        where, f"{_prefix(row)}{what} must be {expected}, found {describe_json(value)}", row.line
    )


def _check_lengths(
    text: str,
    targets: tuple[str, ...],
    input_name: str,
    target_name: str,
    limits: LoadLimits,
    row: RawRow,
    where: str,
) -> None:
    limit = limits.max_field_chars
    for what, value in [(f'the input ("{input_name}")', text)] + [
        (f'the target ("{target_name}")', target) for target in targets
    ]:
        if len(value) > limit:
            raise DataError(
                where,
                f"{_prefix(row)}{what} is too long: {len(value):,} characters, over the limit "
                f"of {limit:,} (LoadLimits.max_field_chars)",
                row.line,
            )


def _prefix(row: RawRow) -> str:
    """Name the example when the line alone does not (instruction-induction keys, no line)."""
    if row.line is not None and row.id.startswith("row-"):
        return ""
    if row.id.startswith("row-"):
        return f"example {row.id[4:]}: "
    return f'example "{row.id}": '


def _place(example: Example) -> str:
    line = example.source.rpartition(":")[2]
    return f"line {line}" if line.isdigit() else f"example {example.id}"
