"""Parsing one JSON document strictly, every failure a ``DataError`` a person can act on.

Beyond the decoder's own checks: a key named twice in one object, a lone UTF-16
surrogate escape and nesting deeper than ``LoadLimits.max_json_depth`` are errors,
each with the line it is on where it can be found. Numbers with a fraction or an
exponent keep their spelling (:class:`JsonNumber`).
"""

from __future__ import annotations

import json
import re
from typing import Any

from optimizers.tasks.errors import DataError
from optimizers.tasks.json_positions import element_offsets, member_offset, skip_space
from optimizers.tasks.limits import LoadLimits


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
        pos = skip_space(text, 0)
        if text[pos] == "{":
            pos = member_offset(text, pos, "examples")
        offsets = element_offsets(text, pos)
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
