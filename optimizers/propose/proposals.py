"""Reading a new prompt out of an optimizer model's reply, however it was written.

Meta-prompts ask for ``<START>new prompt<END>``. Small models forget the closing
tag, wrap the prompt in quotes or code fences, prepend "Here is the new
prompt:", or answer with nothing usable. Parsing tries the strict form first and
falls back step by step; it never raises, and it says which rule matched or why
nothing did, so rejected proposals can be shown to people.

Replies are model output, i.e. untrusted data: control characters and terminal escapes
are stripped (:func:`optimizers.propose.safe_text.strip_control`), a proposal is capped at
:data:`MAX_CHARS`, a reply over :data:`~optimizers.propose.safe_text.MAX_REPLY_CHARS` is refused
whole, and every pattern runs in linear time, so a megabyte of hostile output costs
milliseconds. Text that looks like code or a tool call is only ever text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from optimizers.propose.safe_text import MAX_REPLY_CHARS, strip_control

MIN_WORDS = 2
MAX_CHARS = 2_000

# Possessive quantifiers (``*+``) and no leading ``.*?``: every search is linear.
_START_TAG = re.compile(r"<\s*+START\s*+>", re.IGNORECASE)
_END_TAG = re.compile(r"<\s*+/?\s*+END\s*+>", re.IGNORECASE)
_FENCE = re.compile(r"```[a-zA-Z]*+\n?(.*?)```", re.DOTALL)
_QUOTED = re.compile(r"[\"“]([^\"“”\n]{12,}+)[\"”]")
_LEAD_IN = re.compile(
    r"^\s*(?:sure[,!.]?\s*)?(?:here(?:'s| is)\s+(?:the|a|my)\s+(?:new|improved|revised|updated)?\s*"
    r"(?:prompt|instruction)s?\s*[:\-]?|(?:new|improved|revised|updated)\s+(?:prompt|instruction)"
    r"\s*[:\-]|(?:prompt|instruction)\s*:)\s*",
    re.IGNORECASE,
)
_TAG_DEBRIS = re.compile(r"<\s*+/?\s*+(?:START|END)\s*+>", re.IGNORECASE)


@dataclass(frozen=True)
class ParsedProposal:
    """The prompt found in a reply (``None`` if none), and how or why not."""

    text: str | None
    rule: str  # "tags", "open tag", "close tag", "code fence", "quoted", "plain", or "rejected"
    problem: str | None = None


def _clean(text: str) -> str:
    text = _TAG_DEBRIS.sub(" ", text)
    text = _LEAD_IN.sub("", text.strip())
    text = text.strip().strip("\"'`“”‘’").strip()
    return re.sub(r"[ \t]+", " ", text)


_ECHO = re.compile(r"<\s*+prompt\s*+>|^[ \t]*+(?:input|output)\s*+:", re.IGNORECASE | re.MULTILINE)


def _check(text: str, rule: str) -> ParsedProposal:
    cleaned = _clean(text)
    if len(cleaned) > MAX_CHARS:
        return ParsedProposal(None, "rejected", f"{rule}: longer than {MAX_CHARS} characters")
    if _ECHO.search(cleaned):
        return ParsedProposal(None, "rejected", f"{rule}: echoes the meta-prompt or the template")
    if len(cleaned.split()) < MIN_WORDS:
        return ParsedProposal(None, "rejected", f"{rule}: fewer than {MIN_WORDS} words")
    return ParsedProposal(cleaned, rule)


def _tagged(reply: str) -> tuple[str, str] | None:
    """The text between tags, after an opening tag only, or before a closing tag only."""
    start = _START_TAG.search(reply)
    if start is not None:
        end = _END_TAG.search(reply, start.end())
        if end is not None and reply[start.end() : end.start()].strip():
            return "tags", reply[start.end() : end.start()]
        if reply[start.end() :].strip():
            return "open tag", reply[start.end() :]
    end = _END_TAG.search(reply)
    if end is not None and reply[: end.start()].strip():
        return "close tag", reply[: end.start()]
    return None


def parse_proposal(reply: str) -> ParsedProposal:
    """Extract the proposed prompt from ``reply`` (never raises)."""
    if len(reply) > MAX_REPLY_CHARS:
        return ParsedProposal(
            None, "rejected", f"reply of {len(reply):,} characters, over {MAX_REPLY_CHARS:,}"
        )
    reply = strip_control(reply)
    if not reply.strip():
        return ParsedProposal(None, "rejected", "empty reply")
    if (found := _tagged(reply)) is not None:
        rule, text = found
        return _check(text, rule)
    if (match := _FENCE.search(reply)) is not None and match.group(1).strip():
        return _check(match.group(1), "code fence")
    if (quoted := _QUOTED.search(reply)) is not None:
        return _check(quoted.group(1), "quoted")
    first_line = next(line for line in reply.strip().splitlines() if line.strip())
    return _check(first_line, "plain")


def constraints_block(directives: Sequence[str]) -> str:
    """The user's standing constraints as a meta-prompt section ('' when there are none)."""
    if not directives:
        return ""
    lines = "\n".join(f"- {directive}" for directive in directives)
    return f"The new prompt must respect these constraints from the user:\n{lines}\n"
