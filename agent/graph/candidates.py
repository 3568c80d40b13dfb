"""How a person names a candidate of the run: "7", "#7", "candidate 7" or its exact text.

The numbers are :class:`~optimizers.runner.RunOutcome` numbers: the 0-based
index in the run's trajectory, the seed being #0. The report's ``trajectory``,
the UI's candidate table and steering ("accept 7", "roll back to 3") all use
them, so one number names one row everywhere.
"""

from __future__ import annotations

import re

from optimizers.outcome import RunOutcome

_NUMBER = re.compile(
    r"^(?:(?:candidate|prompt|number|no\.?)\s*)?#?\s*(\d+)\s*[.!]?$", re.IGNORECASE
)
_QUOTES = "\"'“”‘’`"


class CandidateNotFound(LookupError):
    """A reference that names no candidate of the run; the message is for the person."""


def resolve_candidate(outcome: RunOutcome | None, reference: str) -> int:
    """The number of the candidate ``reference`` names in ``outcome``.

    A number ("7", "#7", "candidate 7") is taken as a number even when some
    prompt's text is "7" (quoted, '"7"' is that text); anything else must be a
    scored prompt's exact text (whitespace-insensitive, surrounding quotes ignored).
    """
    if outcome is None or not outcome.history:
        raise CandidateNotFound("no candidate is scored yet (not even the starting prompt)")
    text = reference.strip()
    if (match := _NUMBER.match(text)) is not None:
        number = int(match.group(1))
        try:
            outcome.candidate(number)
        except LookupError as error:
            raise CandidateNotFound(str(error)) from None
        return number
    text = text.strip(_QUOTES).strip()
    number = outcome.number_of(text)
    if number is None and text.endswith((".", "!")):  # "accept Be brief." ends a sentence too
        number = outcome.number_of(text.rstrip(".!").strip(_QUOTES))
    if number is None:
        raise CandidateNotFound(
            f"no scored prompt has the text {text!r}; name it by its number "
            f"(#0 to #{len(outcome.history) - 1}) or its exact text"
        )
    return number


def describe_candidate(outcome: RunOutcome, number: int) -> str:
    """One line naming a candidate for the chat: ``#7 (dev 0.625): 'the prompt'``."""
    scored = outcome.candidate(number)
    return f"#{number} (dev {scored.score:.3f}): {scored.candidate.text!r}"
