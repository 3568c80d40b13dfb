"""Reading the JSON eval formats: JSONL, a JSON list, instruction-induction and BBH.

* JSONL: one object per line.
* JSON list: ``[{"input": ..., "output": ...}, ...]``.
* BBH: ``{"examples": [{"input": ..., "target": ...}, ...]}``.
* Instruction induction: ``{"metadata": ..., "examples": {"1": {"input": ..., "output": ...}}}``,
  where some tasks carry several acceptable answers (``possible_translations``) and
  ``common_concept`` has no ``input``: its input is ``items`` joined with ", " and its
  targets are ``all_common_concepts``.

Each reader returns plain records with the line they start on; choosing the input and
target fields is left to the loader so every format shares one set of rules. Parsing
itself is strict (:mod:`optimizers.tasks.strict_json`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from optimizers.tasks.errors import DataError
from optimizers.tasks.json_positions import element_lines
from optimizers.tasks.limits import LoadLimits, RawRow
from optimizers.tasks.strict_json import parse_json

JSONL = "JSONL"
JSON_LIST = "JSON list"
BBH = "BBH"
INSTRUCTION_INDUCTION = "instruction-induction"

EXAMPLE_SHAPE = '{"input": "...", "output": "..."}'

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""JSONL lines end in LF, CRLF or a lone CR (a raw CR inside a JSON string is invalid)."""


def first_line_is_object(text: str) -> bool:
    """Whether the first non-blank line is a complete JSON object (a JSONL file)."""
    for raw in _LINE_BREAK.split(text):
        if raw.strip():
            try:
                return isinstance(json.loads(raw), dict)
            except (ValueError, RecursionError):
                return False
    return False


def read_jsonl(text: str, where: str, limits: LoadLimits) -> list[RawRow]:
    """Read one JSON object per non-blank line."""
    rows: list[RawRow] = []
    for number, raw in enumerate(_LINE_BREAK.split(text), start=1):
        if not raw.strip():
            continue
        record = parse_json(raw, where, limits, number)
        if not isinstance(record, dict):
            raise DataError(
                where,
                f"expected a JSON object on each line like {EXAMPLE_SHAPE}, "
                f"found {describe_json(record)}",
                number,
            )
        if len(rows) >= limits.max_rows:
            raise DataError(where, _too_many(limits), number)
        rows.append(RawRow(f"row-{len(rows) + 1}", number, record))
    if not rows:
        raise DataError(where, "no examples: the file has no JSON lines")
    return rows


def read_json(text: str, where: str, limits: LoadLimits) -> tuple[str, list[RawRow]]:
    """Read a JSON document in one of the list/BBH/instruction-induction shapes.

    Returns the format name and the records. A ``.json`` file that is really JSONL
    (one object per line) is read as JSONL.
    """
    try:
        document = parse_json(text, where, limits)
    except DataError as exc:
        if "more data after the end" in exc.problem and first_line_is_object(text):
            return JSONL, read_jsonl(text, where, limits)
        raise
    kind, container, path = _example_container(document, where)
    if not container:
        raise DataError(where, f"no examples: the {kind} file's example list is empty")
    if len(container) > limits.max_rows:
        raise DataError(where, _too_many(limits, len(container)))
    return kind, _example_rows(text, kind, container, path, where)


def _example_container(document: Any, where: str) -> tuple[str, Any, tuple[str, ...]]:
    """The format a document's shape names, its examples, and the keys leading to them."""
    if isinstance(document, list):
        return JSON_LIST, document, ()
    if not isinstance(document, dict):
        raise DataError(
            where,
            f"expected a list of examples like [{EXAMPLE_SHAPE}, ...], "
            f"found {describe_json(document)}",
        )
    container = document.get("examples")
    if isinstance(container, dict):
        return INSTRUCTION_INDUCTION, container, ("examples",)
    if isinstance(container, list):
        return BBH, container, ("examples",)
    if "examples" in document:
        raise DataError(
            where,
            '"examples" must be a list of example objects (BBH) or an object of numbered '
            f"examples (instruction induction), found {describe_json(container)}",
        )
    keys = ", ".join(f'"{key}"' for key in list(document)[:10]) or "none"
    raise DataError(
        where,
        "expected a list of examples like [" + EXAMPLE_SHAPE + ", ...] or an object with "
        f'"examples", found an object with keys: {keys}',
    )


def _example_rows(
    text: str, kind: str, container: Any, path: tuple[str, ...], where: str
) -> list[RawRow]:
    """One row per example object, with the line it starts on when the walk finds it."""
    starts = element_lines(text, path)
    if isinstance(container, dict):  # repeated keys were refused by parse_json
        items = list(container.items())
    else:
        items = [(None, value) for value in container]
    if starts is not None and len(starts) != len(items):
        starts = None  # the walk disagrees with the decoder: go without lines
    rows: list[RawRow] = []
    for index, (key, record) in enumerate(items):
        line = starts[index][1] if starts else None
        label = f'example "{key}"' if key is not None else f"example {index + 1}"
        if not isinstance(record, dict):
            raise DataError(
                where,
                f"{label} is {describe_json(record)}; expected an object like {EXAMPLE_SHAPE}",
                line,
            )
        row_id = key if key is not None else f"row-{index + 1}"
        derived = _instruction_induction(record) if kind == INSTRUCTION_INDUCTION else None
        rows.append(RawRow(row_id, line, record, derived))
    return rows


def describe_json(value: Any) -> str:
    """Name a JSON value's kind for a message: 'a list', 'the number 3', ..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {json.dumps(shown, ensure_ascii=False)}"
    if isinstance(value, list):
        return f"a list of {len(value)} items"
    return "an object"


def _instruction_induction(record: dict[str, Any]) -> dict[str, Any] | None:
    """Derive the input/targets instruction-induction tasks define beyond input/output."""
    derived: dict[str, Any] = {}
    items = record.get("items")
    if "input" not in record and isinstance(items, list):
        derived["input"] = (items, ("items",))
    concepts = record.get("all_common_concepts")
    translations = record.get("possible_translations")
    if isinstance(concepts, list):
        derived["targets"] = (concepts, ("all_common_concepts",))
    elif isinstance(translations, list) and "output" in record:
        derived["targets"] = (
            [record["output"], *translations],
            ("output", "possible_translations"),
        )
    return derived or None


def _too_many(limits: LoadLimits, count: int | None = None) -> str:
    found = f"{count:,} examples, " if count is not None else ""
    return f"too many rows: {found}more than {limits.max_rows:,} examples (LoadLimits.max_rows)"
