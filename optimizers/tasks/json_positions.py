"""Where each element of a JSON array or object starts in the text.

The stdlib decoder does not report positions, so these walk an already-validated
text a second time; error messages use them to name lines. They raise
``ValueError``, ``IndexError`` or ``KeyError`` on a surprise, and callers then go
without lines: lines are a courtesy.
"""

from __future__ import annotations

import json
import re
from json.decoder import scanstring

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_SKIPPER = json.JSONDecoder()


def element_lines(text: str, path: tuple[str, ...]) -> list[tuple[str | None, int]] | None:
    """Start line (and key, for objects) of each element of the container at ``path``.

    ``path`` is the member keys leading to it from the top (``("examples",)``, or
    ``()`` for a top-level list). Any surprise returns ``None``: lines are a courtesy.
    """
    try:
        pos = skip_space(text, 0)
        for key in path:
            pos = member_offset(text, pos, key)
        offsets = element_offsets(text, pos)
    except (ValueError, IndexError, KeyError):
        return None
    lines: list[tuple[str | None, int]] = []
    line, previous = 1, 0
    for key, offset in offsets:
        line += text.count("\n", previous, offset)
        previous = offset
        lines.append((key, line))
    return lines


def skip_space(text: str, pos: int) -> int:
    """Offset of the first non-whitespace character at or after ``pos``."""
    match = _WHITESPACE.match(text, pos)
    return match.end() if match else pos


def member_offset(text: str, pos: int, wanted: str) -> int:
    """Offset of the value of member ``wanted`` of the object starting at ``pos``."""
    if text[pos] != "{":
        raise ValueError("not an object")
    pos = skip_space(text, pos + 1)
    while text[pos] != "}":
        key, pos = scanstring(text, pos + 1)
        pos = skip_space(text, skip_space(text, pos) + 1)  # past ':'
        if key == wanted:
            return pos
        _, pos = _SKIPPER.raw_decode(text, pos)
        pos = skip_space(text, pos)
        if text[pos] == ",":
            pos = skip_space(text, pos + 1)
    raise KeyError(wanted)


def element_offsets(text: str, pos: int) -> list[tuple[str | None, int]]:
    """(key or None, value offset) of each element of the array/object at ``pos``."""
    is_object = text[pos] == "{"
    close = "}" if is_object else "]"
    out: list[tuple[str | None, int]] = []
    pos = skip_space(text, pos + 1)
    while text[pos] != close:
        key = None
        if is_object:
            key, pos = scanstring(text, pos + 1)
            pos = skip_space(text, skip_space(text, pos) + 1)
        out.append((key, pos))
        _, pos = _SKIPPER.raw_decode(text, pos)
        pos = skip_space(text, pos)
        if text[pos] == ",":
            pos = skip_space(text, pos + 1)
    return out
