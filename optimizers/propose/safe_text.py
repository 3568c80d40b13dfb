"""Model text made safe to keep and to show: no control characters, bounded length.

Whatever an LLM writes is data. Before a reply becomes a candidate prompt, a stored
record or a line on a terminal, terminal escape sequences (``ESC [31m``, OSC
titles/hyperlinks), other C0/C1 control characters (NUL, BEL, backspace, ...) and the
Unicode bidirectional overrides that make text display differently from what it is
("Trojan Source") are removed. Line breaks and tabs stay; ``\\r\\n`` and a lone ``\\r``
become ``\\n``. Nothing else changes (no Unicode normalisation), so a clean prompt
passes through byte for byte.
"""

from __future__ import annotations

import re

MAX_REPLY_CHARS = 100_000
"""Longest model reply read for a proposal; longer ones are refused whole.

Proposals are at most a few thousand characters; a reply 50 times longer is runaway
output, and refusing it keeps every later regular expression and record small.
"""

# ESC-introduced sequences: CSI (ESC [ params final), OSC (ESC ] ... BEL or ST), and
# two-character escapes (ESC followed by one byte). The 8-bit C1 forms (U+009B CSI,
# U+009D OSC) are matched too. Possessive quantifiers keep every match linear.
_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*+[ -/]*+[@-~]?"  # CSI ... final byte
    r"|(?:\x1b\]|\x9d)[^\x07\x1b\x9c]*+(?:\x07|\x1b\\|\x9c)?"  # OSC ... BEL or ST
    r"|\x1b[@-Z\\-_]?"  # other escapes (and a bare ESC)
)
_LINE_BREAKS = re.compile(r"\r\n?")
# C0 controls except tab and line feed, DEL, C1 controls, and the bidi embeddings,
# overrides and isolates (U+202A-U+202E, U+2066-U+2069).
_CONTROL_CLASS = r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]"
_CONTROL = re.compile(_CONTROL_CLASS + "+")
_CONTROL_CHAR = re.compile(_CONTROL_CLASS)


def strip_control(text: str) -> str:
    """``text`` without escape sequences, control characters or bidi overrides."""
    if not text:
        return ""
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _LINE_BREAKS.sub("\n", text)
    return _CONTROL.sub("", text)


def show_control(text: str) -> str:
    """``text`` with every control character written visibly (``\\x1b``, ``\\u202e``).

    For messages about data: a column named ``"inp\\x1b[31mut"`` must read as that, not
    as ``"input"`` (stripped) nor as a colour change (raw).
    """
    return _CONTROL_CHAR.sub(_escaped, text)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
