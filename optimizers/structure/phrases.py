"""Phrase-level edits of an instruction, in the manner of GrIPS (Prasad et al. 2022).

GrIPS edits the instruction without a generator model: it splits it into phrases
and deletes one, swaps two, or adds one from a bank, keeping an edit when it scores
better. Our phrases are sentences and clauses; the bank of phrases to add is a data
file shipped with the package (``phrase_bank.json``), not code.
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

_SPLIT = re.compile(r"(?<=[.!?;:,])\s+(?=\w)")


@dataclass(frozen=True)
class PhraseBank:
    """Phrases to add, and lead-ins to put before an instruction."""

    add: tuple[str, ...]
    lead_ins: tuple[str, ...]


@lru_cache(maxsize=1)
def default_bank() -> PhraseBank:
    """The bank shipped with the package."""
    data = json.loads(resources.files(__package__).joinpath("phrase_bank.json").read_text())
    return PhraseBank(tuple(data["add"]), tuple(data["lead_ins"]))


def phrases(instruction: str) -> list[str]:
    """The instruction cut into sentences and clauses."""
    return [part.strip() for part in _SPLIT.split(instruction.strip()) if part.strip()]


def _join(parts: list[str]) -> str:
    """Phrases back into a sentence: capitalised, ending in a full stop, not a comma."""
    text = " ".join(parts).strip().rstrip(",")
    if text and text[-1] not in ".!?:;":
        text += "."
    return text[:1].upper() + text[1:] if text else text


def delete(instruction: str, rng: random.Random) -> str | None:
    """The instruction without one of its phrases (None when it has only one)."""
    parts = phrases(instruction)
    if len(parts) < 2:
        return None
    del parts[rng.randrange(len(parts))]
    return _join(parts)


def swap(instruction: str, rng: random.Random) -> str | None:
    """The instruction with two of its phrases exchanged (None when it has one)."""
    parts = phrases(instruction)
    if len(parts) < 2:
        return None
    i, j = rng.sample(range(len(parts)), 2)
    parts[i], parts[j] = parts[j], parts[i]
    return _join(parts)


def add(instruction: str, rng: random.Random, bank: PhraseBank | None = None) -> str | None:
    """The instruction with a bank phrase it does not have yet, at its start or end."""
    bank = bank or default_bank()
    present = instruction.lower()
    fresh = [p for p in bank.add if p.lower().rstrip(".") not in present]
    if not fresh:
        return None
    phrase = rng.choice(fresh)
    parts = phrases(instruction)
    parts.insert(rng.choice([0, len(parts)]), phrase)
    return _join(parts)


def lead_in(instruction: str, rng: random.Random, bank: PhraseBank | None = None) -> str | None:
    """The instruction behind a lead-in such as "Task:" (None if it has one already)."""
    bank = bank or default_bank()
    if any(instruction.startswith(lead) for lead in bank.lead_ins):
        return None
    return f"{rng.choice(bank.lead_ins)} {instruction.strip()}"


EDITS = {"delete": delete, "swap": swap, "add": add, "lead_in": lead_in}
