"""User directives in plain words, and the hard checks some of them imply.

People steer with sentences like "keep it under 30 words", "must keep the JSON
format", "never mention competitors". Every directive goes into the
meta-prompts (soft: the optimizer model is asked to respect it). The ones whose
meaning is unambiguous also become hard checks: a candidate that breaks one is
not scored (no query is spent on it) and can never be chosen as best.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NUMBER = r"(\d+)"
_MAX_WORDS = re.compile(
    rf"\b(?:at most|under|no more than|fewer than|less than|max(?:imum)?(?: of)?|up to|within)\s+"
    rf"{_NUMBER}\s+words?\b",
    re.IGNORECASE,
)
_MUST_CONTAIN = re.compile(
    r"\b(?:must|should|always)\s+(?:keep|contain|include|mention|say)\s+[\"“']([^\"”']+)[\"”']",
    re.IGNORECASE,
)
_NEVER = re.compile(
    r"\b(?:never|don't|do not|must not|mustn't|should not|shouldn't)\s+"
    r"(?:mention|say|use|include|contain)\s+[\"“']?([^\"”'.,;]+)[\"”']?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Check:
    """One hard rule derived from a directive."""

    directive: str
    kind: str  # "max_words", "must_contain", "must_not_contain"
    value: str | int

    def violation(self, prompt: str) -> str | None:
        """Why ``prompt`` breaks this rule, or None if it does not."""
        if self.kind == "max_words":
            words = len(prompt.split())
            limit = int(self.value)
            return None if words <= limit else f"{words} words, the limit is {limit}"
        needle = str(self.value).strip().lower()
        present = needle in prompt.lower()
        if self.kind == "must_contain" and not present:
            return f"does not contain {self.value!r}"
        if self.kind == "must_not_contain" and present:
            return f"mentions {self.value!r}"
        return None


def hard_checks(directive: str) -> list[Check]:
    """The unambiguous rules in one directive (often none: then it is soft only)."""
    checks: list[Check] = []
    for match in _MAX_WORDS.finditer(directive):
        limit = int(match.group(1))
        strict = match.group(0).lower().startswith(("under", "fewer", "less"))
        checks.append(Check(directive, "max_words", limit - 1 if strict else limit))
    checks += [
        Check(directive, "must_contain", m.group(1)) for m in _MUST_CONTAIN.finditer(directive)
    ]
    checks += [
        Check(directive, "must_not_contain", m.group(1).strip())
        for m in _NEVER.finditer(directive)
        if m.group(1).strip()
    ]
    return checks


@dataclass(frozen=True)
class Constraints:
    """All standing directives; ``violations`` applies the hard ones."""

    directives: tuple[str, ...] = ()

    @property
    def checks(self) -> list[Check]:
        """Every hard check, in directive order."""
        return [check for directive in self.directives for check in hard_checks(directive)]

    def violations(self, prompt: str) -> list[str]:
        """What ``prompt`` breaks, each naming the directive (empty when admissible)."""
        found = []
        for check in self.checks:
            if (why := check.violation(prompt)) is not None:
                found.append(f"{why} ({check.directive!r})")
        return found

    def with_directive(self, directive: str) -> Constraints:
        """A copy with one more directive (blank or repeated ones are ignored)."""
        directive = directive.strip()
        if not directive or directive in self.directives:
            return self
        return Constraints((*self.directives, directive))
