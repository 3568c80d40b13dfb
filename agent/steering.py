"""Plain-word steering: what a person's message asks the run to do.

Steering must work with the smallest model, so the common requests are read
deterministically: "stop", "try GPO now", "keep it under 30 words", "remove
the 30 words rule", "budget 40". Anything else is kept as a message for the
planner (and, if it reads like a rule, as a directive for the meta-prompts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from agent.state import OPTIMIZER_ACTIONS
from optimizers.constraints import hard_checks

_STOP = re.compile(r"^\s*(?:stop|halt|enough|finish|that'?s enough|pause)\b", re.IGNORECASE)
_OPTIMIZER = re.compile(
    r"\b(?:try|use|switch to|run|go with|do)\s+(?:a\s+|an\s+)?(" + "|".join(OPTIMIZER_ACTIONS)
    + r"|textual gradients?|text ?grad)\b",
    re.IGNORECASE,
)  # fmt: skip
_BUDGET = re.compile(r"\bbudget\s*(?:to|of|=|:)?\s*(\d+)\b", re.IGNORECASE)
_REMOVE = re.compile(
    r"^\s*(?:remove|drop|forget|delete)\s+(?:the\s+)?(?:constraint|rule|directive)?\s*[:\"']?(.*?)[\"']?\s*$",
    re.IGNORECASE,
)
_RULE_WORDS = re.compile(
    r"\b(?:keep|must|never|always|don't|do not|at most|under|no more than|avoid|only|should)\b",
    re.IGNORECASE,
)


@dataclass
class Steering:
    """What one message asks for; empty fields mean "no change"."""

    stop: bool = False
    optimizer: str | None = None
    budget_queries: int | None = None
    add_directives: list[str] = field(default_factory=list)
    remove_directives: list[str] = field(default_factory=list)

    @property
    def understood(self) -> bool:
        """True when the message asked for something concrete."""
        return bool(
            self.stop
            or self.optimizer
            or self.budget_queries
            or self.add_directives
            or self.remove_directives
        )


_FILLER = {"the", "rule", "constraint", "directive", "limit", "about", "on", "of", "a"}


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def _optimizer_name(word: str) -> str:
    word = word.lower()
    return "textgrad" if word.startswith("text") else word


def read_steering(message: str, directives: list[str]) -> Steering:
    """Interpret ``message`` given the standing ``directives``."""
    steering = Steering()
    text = message.strip()
    if not text:
        return steering
    if _STOP.match(text):
        steering.stop = True
        return steering
    if (match := _REMOVE.match(text)) is not None:
        wanted = _words(match.group(1)) - _FILLER
        steering.remove_directives = [d for d in directives if wanted and wanted <= _words(d)]
        return steering
    if (match := _OPTIMIZER.search(text)) is not None:
        steering.optimizer = _optimizer_name(match.group(1))
    if (match := _BUDGET.search(text)) is not None:
        steering.budget_queries = int(match.group(1))
    if hard_checks(text) or (_RULE_WORDS.search(text) and not steering.understood):
        steering.add_directives = [text]
    return steering
