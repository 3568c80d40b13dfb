"""Reading the JSON eval formats: JSONL, a JSON list, instruction-induction and BBH.

* JSONL: one object per line.
* JSON list: ``[{"input": ..., "output": ...}, ...]``.
* BBH: ``{"examples": [{"input": ..., "target": ...}, ...]}``.
* Instruction induction: ``{"metadata": ..., "examples": {"1": {"input": ..., "output": ...}}}``,
  where some tasks carry several acceptable answers (``possible_translations``) and
  ``common_concept`` has no ``input``: its input is ``items`` joined with ", " and its
  targets are ``all_common_concepts``.

Each reader returns plain records with the line they start on; choosing the input and
target fields is left to the loader so every format shares one set of rules.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring
from typing import Any

from optimizers.tasks.errors import DataError
from optimizers.tasks.limits import LoadLimits, RawRow

JSONL = "JSONL"
JSON_LIST = "JSON list"
BBH = "BBH"
INSTRUCTION_INDUCTION = "instruction-induction"

EXAMPLE_SHAPE = '{"input": "...", "output": "..."}'


class JsonNumber(float):
    """A JSON number with a fraction or exponent that remembers how it was written.

    ``str()`` gives the source spelling, so ``2.50`` or ``1e3`` reach the prompt as
    written instead of as Python's ``2.5`` / ``1000.0``.
    """

    __slots__ = ("text",)
    text: str

    def __new__(cls, text: str) -> JsonNumber:
        """Parse ``text`` as a float and keep the spelling."""
        number = super().__new__(cls, text)
        number.text = text
        return number

    def __str__(self) -> str:
        return self.text


def parse_json(text: str, where: str, limits: LoadLimits, line: int | None = None) -> Any:
    """Parse one JSON document, turning every failure into ``DataError``.

    ``line`` is the file line ``text`` starts on (JSONL); for a whole document the
    decoder's own line/column are used. Beyond the decoder's own checks, an object
    naming a key twice (which value was meant?) and a lone UTF-16 surrogate escape
    (``"\\ud800"``: a string no file, database or HTTP request can hold) are errors;
    ``NaN``/``Infinity`` keep their spelling.
    """
    try:
        value = json.loads(
            text,
            parse_float=JsonNumber,
            parse_constant=JsonNumber,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as exc:
        raise DataError(
            where,
            f"invalid JSON at column {exc.colno}: {_explain(exc, text)}",
            line if line is not None else exc.lineno,
        ) from None
    except _DuplicateKeyError as exc:
        lines = _key_lines(text, exc.key) if line is None else []
        shown = f" (lines {lines[0]} and {lines[1]})" if len(lines) == 2 else ""
        raise DataError(
            where,
            f"the key {json.dumps(exc.key, ensure_ascii=False)} appears twice in one object"
            f"{shown}; keys must be unique",
            line or (lines[1] if len(lines) == 2 else _duplicate_line(text)),
        ) from None
    except RecursionError:
        raise DataError(where, _too_deep(limits), line or _deep_line(text, limits)) from None
    except ValueError as exc:  # e.g. an integer with thousands of digits
        raise DataError(where, f"invalid JSON: {exc}", line) from None
    if _depth_exceeds(value, limits.max_json_depth):
        raise DataError(where, _too_deep(limits), line or _deep_line(text, limits))
    if _SURROGATE_ESCAPE.search(text) and _has_lone_surrogate(value):
        raise DataError(
            where,
            "a string holds a lone UTF-16 surrogate escape (\\ud800-\\udfff without its pair); "
            "it is not a character: fix or remove it",
            line,
        )
    return value


class _DuplicateKeyError(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook``: a dict, unless a key repeats (the decoder keeps the last)."""
    record = dict(pairs)
    if len(record) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKeyError(key)
            seen.add(key)
    return record


def _key_lines(text: str, key: str) -> list[int]:
    """Lines where ``"key":`` is written (a courtesy: escapes in the key can hide it)."""
    pattern = re.compile(re.escape(json.dumps(key, ensure_ascii=False)) + r"[ \t\r\n]*+:")
    return [text.count("\n", 0, match.start()) + 1 for match in pattern.finditer(text)]


_STRICT_KEYS = json.JSONDecoder(object_pairs_hook=_unique_keys)


def _duplicate_line(text: str) -> int | None:
    """Start line of the first example (of a list, or of ``"examples"``) repeating a key."""
    try:
        pos = _skip(text, 0)
        if text[pos] == "{":
            pos = _member(text, pos, "examples")
        offsets = _elements(text, pos)
    except (ValueError, IndexError, KeyError):
        return None
    for _, offset in offsets:
        try:
            _STRICT_KEYS.raw_decode(text, offset)
        except _DuplicateKeyError:
            return text.count("\n", 0, offset) + 1
        except (ValueError, RecursionError):
            return None
    return None


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _has_lone_surrogate(value: Any) -> bool:
    """Whether any string (key or value) holds a surrogate: the decoder pairs valid ones."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return True
        elif isinstance(node, dict):
            stack.extend(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


_DECODER_MESSAGES = {
    "Unterminated string starting at": 'a string whose closing " is missing',
    "Invalid control character at": (
        "a raw control character (a line break or tab) inside a string; write it as \\n or \\t"
    ),
    "Invalid \\escape": "an invalid backslash escape inside a string",
    "Extra data": "more data after the end of the JSON document",
}


def _explain(exc: json.JSONDecodeError, text: str) -> str:
    message = _DECODER_MESSAGES.get(exc.msg, exc.msg)
    before = text[max(0, exc.pos - 1000) : exc.pos].rstrip()
    if exc.msg.startswith(("Expecting value", "Expecting property name")) and before.endswith(","):
        message += " (a trailing comma before it?)"
    return message


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
    if isinstance(document, list):
        kind, container, path = JSON_LIST, document, ()
    elif isinstance(document, dict):
        container = document.get("examples")
        path = ("examples",)
        if isinstance(container, dict):
            kind = INSTRUCTION_INDUCTION
        elif isinstance(container, list):
            kind = BBH
        elif "examples" in document:
            raise DataError(
                where,
                '"examples" must be a list of example objects (BBH) or an object of numbered '
                f"examples (instruction induction), found {describe_json(container)}",
            )
        else:
            keys = ", ".join(f'"{key}"' for key in list(document)[:10]) or "none"
            raise DataError(
                where,
                "expected a list of examples like [" + EXAMPLE_SHAPE + ", ...] or an object with "
                f'"examples", found an object with keys: {keys}',
            )
    else:
        raise DataError(
            where,
            f"expected a list of examples like [{EXAMPLE_SHAPE}, ...], "
            f"found {describe_json(document)}",
        )
    if not container:
        raise DataError(where, f"no examples: the {kind} file's example list is empty")
    if len(container) > limits.max_rows:
        raise DataError(where, _too_many(limits, len(container)))
    starts = _element_lines(text, path)
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
    return kind, rows


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


_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SKIPPER = json.JSONDecoder()


def _element_lines(text: str, path: tuple[str, ...]) -> list[tuple[str | None, int]] | None:
    """Start line (and key, for objects) of each element of the container at ``path``.

    The stdlib decoder does not report positions, so this walks the already-validated
    text a second time. Any surprise returns ``None``: lines are a courtesy.
    """
    try:
        pos = _skip(text, 0)
        for key in path:
            pos = _member(text, pos, key)
        offsets = _elements(text, pos)
    except (ValueError, IndexError, KeyError):
        return None
    lines: list[tuple[str | None, int]] = []
    line, previous = 1, 0
    for key, offset in offsets:
        line += text.count("\n", previous, offset)
        previous = offset
        lines.append((key, line))
    return lines


def _skip(text: str, pos: int) -> int:
    match = _WHITESPACE.match(text, pos)
    return match.end() if match else pos


def _member(text: str, pos: int, wanted: str) -> int:
    """Offset of the value of member ``wanted`` of the object starting at ``pos``."""
    if text[pos] != "{":
        raise ValueError("not an object")
    pos = _skip(text, pos + 1)
    while text[pos] != "}":
        key, pos = scanstring(text, pos + 1)
        pos = _skip(text, _skip(text, pos) + 1)  # past ':'
        if key == wanted:
            return pos
        _, pos = _SKIPPER.raw_decode(text, pos)
        pos = _skip(text, pos)
        if text[pos] == ",":
            pos = _skip(text, pos + 1)
    raise KeyError(wanted)


def _elements(text: str, pos: int) -> list[tuple[str | None, int]]:
    """(key or None, value offset) of each element of the array/object at ``pos``."""
    is_object = text[pos] == "{"
    close = "}" if is_object else "]"
    out: list[tuple[str | None, int]] = []
    pos = _skip(text, pos + 1)
    while text[pos] != close:
        key = None
        if is_object:
            key, pos = scanstring(text, pos + 1)
            pos = _skip(text, _skip(text, pos) + 1)
        out.append((key, pos))
        _, pos = _SKIPPER.raw_decode(text, pos)
        pos = _skip(text, pos)
        if text[pos] == ",":
            pos = _skip(text, pos + 1)
    return out


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether containers nest more than ``limit`` deep (the top container is depth 1)."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


_DEPTH_TOKENS = re.compile(r'[^"\\\[\]{}]+|\\.|"|[\[\]{}]|\\', re.DOTALL)


def _deep_line(text: str, limits: LoadLimits) -> int | None:
    """Line where nesting first exceeds the limit (only run once a file is known too deep)."""
    depth, in_string = 0, False
    for token in _DEPTH_TOKENS.finditer(text):
        char = token.group()
        if char == '"':
            in_string = not in_string
        elif not in_string and char in "[{":
            depth += 1
            if depth > limits.max_json_depth:
                return text.count("\n", 0, token.start()) + 1
        elif not in_string and char in "]}":
            depth -= 1
    return None


def _too_deep(limits: LoadLimits) -> str:
    return (
        f"JSON nested too deeply: more than {limits.max_json_depth} levels of lists/objects "
        "(LoadLimits.max_json_depth); examples should be flat objects"
    )


def _too_many(limits: LoadLimits, count: int | None = None) -> str:
    found = f"{count:,} examples, " if count is not None else ""
    return f"too many rows: {found}more than {limits.max_rows:,} examples (LoadLimits.max_rows)"
