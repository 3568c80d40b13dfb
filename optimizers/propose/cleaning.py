"""Turning a small model's reply into a usable instruction, or a reason to reject it.

SmolLM2-135M writes a few sensible instructions in ten; the rest quote the demos back,
chat ("Sure! Here is…"), run on, or trail off. :func:`clean_instruction` keeps the
first instruction-like block, strips lead-ins and chat debris, and rejects echoes and
fragments, saying why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from optimizers.propose.proposals import MAX_CHARS
from optimizers.propose.safe_text import MAX_REPLY_CHARS, strip_control
from optimizers.tasks.example import Example

MIN_WORDS = 3
MAX_WORDS = 80
MIN_ECHO_WORDS = 4


_LEAD_PHRASE = re.compile(
    r"^(?:[^\n:]{0,40}[:\n]\s*)?(?:the|this|my|your)\s+(?:new\s+|original\s+|given\s+)?"
    r"instructions?(?:\s+[\w']+){0,5}?\s+(?:was|is|were|are|would\s+be)"
    r"(?:\s+to\b\s*[:,\-]?|\s*[:,\-])\s*",
    re.IGNORECASE,
)
"""'The instruction was to', its variants, and at most a short label line before it."""
_QUOTED = (
    re.compile(r"^[\"“]([^\"“”]+)[\"”]([.!?]?)$"),
    re.compile(r"^[`'‘](.+)[`'’]([.!?]?)$", re.DOTALL),
)
_LEAD_INS = (
    (re.compile(r"^(?:sure|okay|ok|certainly)[,!.]?\s+", re.IGNORECASE), "stripped a lead-in"),
    (
        re.compile(r"^(?:instruction|answer|task|output)\s*:\s*", re.IGNORECASE),
        "stripped a label",
    ),
    (re.compile(r"^to\s+(?=[a-z])", re.IGNORECASE), "stripped a leading 'to'"),
    (re.compile(r"^i\s+want\s+you\s+to\s+", re.IGNORECASE), "stripped 'I want you to'"),
    (re.compile(r"^(?:[-*•]|\d+[.)])\s+"), "stripped a list marker"),
)
_CHAT_DEBRIS = re.compile(
    r"<\|[^|>]*+\|>|</?s>|<\s*+/?\s*+(?:START|END)\s*+>|\*\*", re.IGNORECASE
)  # possessive: '<' and a long run of spaces must not backtrack
_STOP_LINE = re.compile(r"^\s*(?:input|output|example|demo|pair)s?\s*\d*\s*:", re.IGNORECASE)
_TRAILING_CHAT = re.compile(
    r"(?<!\s)\s*+(?:i hope (?:this|that) helps|hope this helps|let me know|feel free to|note:)"
    r".*$",
    re.IGNORECASE | re.DOTALL,
)
_SENTENCE_END = re.compile(r"[.!?](?=\s|$)")


def _words(text: str) -> list[str]:
    return text.split()


def normalise_key(text: str) -> str:
    """Case-, whitespace- and end-punctuation-insensitive identity for de-duplication."""
    text = re.sub(r"\s+", " ", text).strip().lower()
    return text.rstrip(" .!?;:")


def _plain(text: str) -> str:
    """Lowercase words only: for recognising echoes of demos."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def _unquote(text: str) -> str:
    """Drop quotes around the whole text (keeping a final period); inner quotes stay."""
    text = text.strip()
    for pattern in _QUOTED:
        if (match := pattern.match(text)) is not None:
            return (match.group(1).strip() + match.group(2)).strip()
    return text


def _first_block(text: str) -> str:
    """The first paragraph, up to a blank line or an echoed ``Input:``/``Output:`` line."""
    kept: list[str] = []
    for line in text.split("\n"):
        if _STOP_LINE.match(line):
            break
        if not line.strip():
            if kept:
                break
            continue
        kept.append(line.strip())
    return " ".join(kept)


def _echo(text: str, demos: Sequence[Example]) -> str | None:
    """Name the demo the text merely repeats, if any."""
    plain = _plain(text)
    for i, demo in enumerate(demos, start=1):
        for role, value in (("input", demo.input), ("output", demo.target)):
            other = _plain(value)
            if not other:
                continue
            if plain == other or (plain and plain in other):
                return f"echoes the {role} of demo {i}"
            if len(other.split()) >= MIN_ECHO_WORDS and other in plain:
                return f"contains the {role} of demo {i} verbatim"
    return None


@dataclass(frozen=True)
class Cleaned:
    """A reply cleaned into an instruction: ``problem`` is why it is unusable, if it is."""

    text: str
    notes: tuple[str, ...] = ()
    problem: str | None = None

    @property
    def ok(self) -> bool:
        """Usable as a prompt."""
        return self.problem is None


def clean_instruction(raw: str, *, demos: Sequence[Example] = ()) -> Cleaned:
    """Turn a model reply into an instruction; the notes say what cleaning did.

    Replies complete "The instruction was to ..."; that phrase (and its variants "The
    instructions are to:", "The new instruction is to", "The sentence is: The
    instruction was to") is stripped. Then: the first paragraph only (up to a blank
    line or an ``Input:`` / ``Output:`` line), lead-ins ("Sure,", "Instruction:", "to",
    "I want you to", list markers), chat-template debris, ``<START>``/``<END>`` tags and
    markdown emphasis, surrounding quotes, chatty endings ("I hope this helps"), and an
    unfinished last sentence (an answer cut off by the token limit) are removed; the
    first letter is capitalised and a period added. Control characters and terminal
    escapes go first (:func:`~optimizers.propose.safe_text.strip_control`).
    Rejected: nothing left, fewer than 3 or more than 80 words, more than
    :data:`~optimizers.propose.proposals.MAX_CHARS` characters, a reply over
    :data:`~optimizers.propose.safe_text.MAX_REPLY_CHARS`, or an echo of a demo.
    """
    notes: list[str] = []
    if len(raw or "") > MAX_REPLY_CHARS:
        return Cleaned("", (), f"reply of {len(raw):,} characters, over {MAX_REPLY_CHARS:,}")
    text = _CHAT_DEBRIS.sub("", strip_control(raw or "")).strip()
    if not text:
        return Cleaned("", (), "empty reply")
    text = _strip_lead_ins(_first_paragraph(text, notes), notes)
    text = _unquote(_drop_endings(text, notes).strip().rstrip(" ,;:-"))
    if not text:
        return Cleaned("", tuple(notes), "nothing left after cleaning")
    text = _as_sentence(text, notes)
    return _judged(text, tuple(notes), demos)


def _first_paragraph(text: str, notes: list[str]) -> str:
    """Past "The instruction was to" (and its variants), the first paragraph only."""
    if (match := _LEAD_PHRASE.match(text)) is not None:
        text = text[match.end() :]
        notes.append("stripped 'The instruction was to'")
    block = _first_block(text)
    if block != re.sub(r"\s+", " ", text).strip():
        notes.append("kept the first paragraph")
    return block


def _strip_lead_ins(text: str, notes: list[str]) -> str:
    """Quotes and lead-ins off the front, until none is left (at most three rounds)."""
    for _ in range(3):  # lead-ins can stack: 'Sure! Instruction: "to classify ..."'
        before = text
        text = _unquote(text)
        for pattern, note in _LEAD_INS:
            if pattern.search(text):
                text = pattern.sub("", text, count=1)
                notes.append(note)
        if text == before:
            break
    return text


def _drop_endings(text: str, notes: list[str]) -> str:
    """A chatty ending ("I hope this helps") and an unfinished last sentence off the end."""
    if (match := _TRAILING_CHAT.search(text)) is not None and match.start() > 0:
        text = text[: match.start()]
        notes.append("dropped a chatty ending")
    text = _unquote(text)
    if text and text[-1] not in ".!?":
        ends = list(_SENTENCE_END.finditer(text))
        if ends and len(_words(text[: ends[-1].end()])) >= MIN_WORDS:
            text = text[: ends[-1].end()]
            notes.append("dropped an unfinished sentence")
    return text


def _as_sentence(text: str, notes: list[str]) -> str:
    """A capital first letter and an end mark (a period when there is none)."""
    if text[0].islower():
        text = text[0].upper() + text[1:]
        notes.append("capitalised")
    if text[-1] not in ".!?":
        text += "."
        notes.append("added a period")
    return text


def _judged(text: str, notes: tuple[str, ...], demos: Sequence[Example]) -> Cleaned:
    """The cleaned text, with a problem if it is too short, too long or an echo of a demo."""
    n_words = len(_words(text))
    if n_words < MIN_WORDS:
        return Cleaned(text, notes, f"too short ({n_words} words, need {MIN_WORDS})")
    if n_words > MAX_WORDS:
        return Cleaned(text, notes, f"too long ({n_words} words, at most {MAX_WORDS})")
    if len(text) > MAX_CHARS:
        return Cleaned(
            text[:MAX_CHARS],
            notes,
            f"too long ({len(text):,} characters, at most {MAX_CHARS:,})",
        )
    return Cleaned(text, notes, _echo(text, demos))


# ---------------------------------------------------------------------------- sampling
