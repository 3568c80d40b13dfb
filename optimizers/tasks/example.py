"""The unit of evaluation data: an input with one or more acceptable targets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Example:
    """One eval example.

    ``targets`` holds every acceptable answer (never empty); metrics score a
    prediction against the best-matching one. ``source`` says where the example
    came from (``file:line``) so errors and reports can point back at it.
    """

    id: str
    input: str
    targets: tuple[str, ...]
    source: str = ""
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def target(self) -> str:
        """The canonical target, shown to people and to optimizers as the label."""
        return self.targets[0]


@dataclass(frozen=True, slots=True)
class Task:
    """A named set of examples as loaded from one file (before splitting)."""

    name: str
    examples: tuple[Example, ...]
    path: str = ""

    def __len__(self) -> int:
        return len(self.examples)
