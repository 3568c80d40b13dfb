"""Plain-word steering: what a person's message asks the run to do.

Steering must work with the smallest model, so the common requests are read
deterministically: "stop", "pause", "resume", "try GPO now", "keep it under 30
words", "remove the 30 words rule", "budget 40", "accept 7", "roll back to 3".
Anything else is kept as a message for the planner (and, if it reads like a
rule, as a directive for the meta-prompts). Candidate references ("7", "#7",
a prompt's text) are kept as written; :mod:`agent.graph.candidates` resolves them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from optimizers.propose.constraints import hard_checks
from optimizers.registry import canonical, name_pattern

_STOP = re.compile(r"^\s*(?:stop|halt|enough|finish|that'?s enough)\b", re.IGNORECASE)
# A pause only when the whole message asks for it: "wait, use zopo" is not a pause.
_FILLER_TAIL = (
    r"(?:\s+(?:the|a|it|run|search|optimi[sz]ation|please|now|here|for|moment|second|minute|bit))*"
)
_PAUSE = re.compile(
    r"^\s*(?:please\s+)?(?:pause|hold on|hold|wait)" + _FILLER_TAIL + r"\s*[.!]*\s*$",
    re.IGNORECASE,
)
_RESUME = re.compile(
    r"^\s*(?:please\s+)?(?:resume|unpause|continue|go on|carry on|keep going|go ahead)\b",
    re.IGNORECASE,
)
# "accept" takes any reference; the softer verbs only a number or a quoted prompt, so that
# "choose shorter words" stays a note for the planner.
_REFERENCE = r"(?:(?:candidate|prompt|number|no\.?)\s*)?#?\s*\d+\s*[.!]?|[\"“'‘].+"
_ACCEPT = re.compile(
    rf"^\s*(?:accept\s+(?:the\s+)?(.+?)|(?:choose|pick|select|go with)\s+({_REFERENCE}))\s*$",
    re.IGNORECASE,
)
_ROLL_BACK = re.compile(
    r"^\s*(?:roll\s*back|revert|go back)\s+(?:to\s+)?(?:the\s+)?(.+?)\s*$", re.IGNORECASE
)
_OPTIMIZER = re.compile(
    r"\b(?:try|use|switch to|run|go with|do|with)\s+(?:a\s+|an\s+)?(" + name_pattern() + r")\b",
    re.IGNORECASE,
)
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
    pause: bool = False
    resume: bool = False
    optimizer: str | None = None
    budget_queries: int | None = None
    add_directives: list[str] = field(default_factory=list)
    remove_directives: list[str] = field(default_factory=list)
    remove_asked: str | None = None
    """What a "remove ..." message named (even when no directive matched it)."""
    accept: str | None = None
    """The candidate to end the run with, as written ("7", "#7", a prompt's text)."""
    roll_back: str | None = None
    """The candidate to roll back to, as written."""

    @property
    def command(self) -> bool:
        """True when the message asks something of a run (not a rule for its prompts)."""
        return bool(
            self.stop
            or self.pause
            or self.resume
            or self.optimizer
            or self.budget_queries
            or self.remove_asked is not None
            or self.accept
            or self.roll_back
        )

    @property
    def urgent(self) -> bool:
        """True when the step going on should end now: stop, pause, a switch, accept, roll back."""
        return bool(self.stop or self.pause or self.optimizer or self.accept or self.roll_back)

    @property
    def understood(self) -> bool:
        """True when the message asked for something concrete."""
        return self.command or bool(self.add_directives)


_FILLER = {"the", "rule", "constraint", "directive", "limit", "about", "on", "of", "a"}


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text.lower()))


def read_steering(message: str, directives: list[str]) -> Steering:
    """Interpret ``message`` given the standing ``directives``."""
    steering = Steering()
    text = message.strip()
    if not text:
        return steering
    if _STOP.match(text):
        steering.stop = True
        return steering
    if _PAUSE.match(text):
        steering.pause = True
        return steering
    if (match := _ACCEPT.match(text)) is not None:
        steering.accept = match.group(1) or match.group(2)
        return steering
    if (match := _ROLL_BACK.match(text)) is not None:
        steering.roll_back = match.group(1)
        return steering
    if (match := _REMOVE.match(text)) is not None:
        steering.remove_asked = match.group(1)
        wanted = _words(match.group(1)) - _FILLER
        steering.remove_directives = [d for d in directives if wanted and wanted <= _words(d)]
        return steering
    if _RESUME.match(text):
        steering.resume = True
    if (match := _OPTIMIZER.search(text)) is not None:
        steering.optimizer = canonical(match.group(1))
    if (match := _BUDGET.search(text)) is not None:
        steering.budget_queries = int(match.group(1))
    if hard_checks(text) or (_RULE_WORDS.search(text) and not steering.understood):
        steering.add_directives = [text]
    return steering


FollowUp = Literal["continue", "wait", "refine"]
"""After a run has finished: go on from its best prompt, hold, or go on under a new rule."""

_WAIT = re.compile(r"^\s*(?:please\s+)?(?:hold on|hold|wait|hang on|one moment)\b", re.IGNORECASE)
_FEEDBACK = re.compile(
    r"^\s*(?:please\s+)?(?:(?:can|could|would)\s+(?:you|it|we)\s+(?:make|be|sound|add|mention|"
    r"include|drop|use|say|get)\b|make\s+(?:it|the prompt|them)|it\s+(?:should|must|needs?)|"
    r"(?:be|sound)\s+\w+er\b|shorter|longer|simpler|clearer|friendlier|more\b|less\b|"
    r"fewer\b|add\b|mention\b|include\b|drop\b)",
    re.IGNORECASE,
)
_AGAIN = re.compile(r"^\s*(?:again|more|try again|one more)\s*[.!]?\s*$", re.IGNORECASE)
_FOLLOW_UP_WORDS = 12  # a longer message is a new prompt, whatever its first words


def read_follow_up(message: str) -> FollowUp | None:
    """What a message sent after a run has finished asks for, or None for a new prompt.

    "carry on" continues from the run's best prompt; "hold on" starts nothing; "make it
    shorter", "it should mention refunds", "keep it under 30 words" continue from the
    best prompt with the message as a rule. A message that reads as a prompt is one.
    """
    text = message.strip()
    if not text or len(text.split()) > _FOLLOW_UP_WORDS:
        return None
    if _WAIT.match(text):
        return "wait"
    if _RESUME.match(text) or _AGAIN.match(text):
        return "continue"
    steering = read_steering(text, [])
    if _FEEDBACK.match(text) or steering.add_directives:
        return "refine"
    return None
