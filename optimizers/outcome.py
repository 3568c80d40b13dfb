"""What a run found, numbered as people refer to it, and which prompt it hands back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from optimizers.base import Scored, prompt_key
from optimizers.budget import StopReason
from optimizers.propose.constraints import Constraints
from optimizers.selection.guard import GuardDecision, guard


@dataclass
class RunOutcome:
    """What a run found, in the order it found it.

    A candidate's *number* is its 0-based index in :attr:`history`: the seed is
    #0, and a prompt scored again (reused) gets a new number. It is the order of
    the report's ``trajectory``, of the UI's candidate table and the ``number``
    of each ``"scored"`` event; :meth:`numbered` and :meth:`candidate` are the
    one definition, so "accept 7" means the same row everywhere.
    """

    seed: Scored
    history: list[Scored] = field(default_factory=list)  # every scored candidate, seed first
    constraints: Constraints = field(default_factory=Constraints)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # broke a hard constraint
    steps: int = 0
    queries: int = 0
    stopped: StopReason = "converged"
    stop_detail: str = ""  # the optimizer's own reason, when it has one
    wall_time_s: float = 0.0
    rolled_back: set[int] = field(default_factory=set)
    """Numbers that no longer count as best (:meth:`roll_back`); they stay in the history."""
    accepted: int | None = None
    """The number the person chose as the answer (:meth:`accept`); it overrides the scores."""

    def numbered(self) -> list[tuple[int, Scored]]:
        """Every scored candidate with its number, seed (#0) first."""
        return list(enumerate(self.history))

    def candidate(self, number: int) -> Scored:
        """The candidate numbered ``number``; an unknown number is a ``LookupError``."""
        if not 0 <= number < len(self.history):
            last = len(self.history) - 1
            raise LookupError(
                f"there is no candidate #{number}: numbers go from #0 (the seed) to #{last}"
            )
        return self.history[number]

    def number_of(self, text: str) -> int | None:
        """The first number of the prompt ``text`` (whitespace-insensitive), or None."""
        key = prompt_key(text)
        return next(
            (
                n
                for n, s in self.numbered()
                if key in (s.candidate.key, prompt_key(s.candidate.text))
            ),
            None,
        )

    def counts(self, number: int) -> bool:
        """Whether candidate ``number`` may be chosen as best now.

        It must be scored on all of dev (not dropped by racing), meet the rules and
        not be rolled back.
        """
        scored = self.history[number]
        return (
            scored.complete
            and number not in self.rolled_back
            and not self.constraints.violations(scored.candidate.text)
        )

    @property
    def best_number(self) -> int:
        """The number of the run's answer: the person's choice, else the best admissible score.

        Without an accepted candidate it is the best dev score among the prompts
        that meet every hard constraint and were not rolled back (earliest wins a
        tie). Constraints can be added while a run goes on, so admissibility is
        checked now, against the current ones. When nothing qualifies, the seed
        (#0) is the answer.
        """
        if self.accepted is not None:
            return self.accepted
        allowed = [n for n in range(len(self.history)) if self.counts(n)]
        return max(allowed, key=lambda n: self.history[n].score) if allowed else 0

    @property
    def best(self) -> Scored:
        """The run's answer (see :attr:`best_number`)."""
        return self.history[self.best_number] if self.history else self.seed

    @property
    def verdict(self) -> GuardDecision:
        """Whether the best candidate may replace the seed (:mod:`optimizers.selection.guard`)."""
        if self.accepted is not None:
            return GuardDecision(True, f"candidate #{self.accepted} was chosen by you")
        best = self.best_number
        if best == 0 or self.history[best].candidate.key == self.seed.candidate.key:
            return GuardDecision(False, "no candidate scored above the starting prompt on dev")
        return guard(self.seed.dev, self.history[best].dev)

    @property
    def answer_number(self) -> int:
        """The number of the prompt the run hands back: the best if it passes the guard, else #0."""
        return self.best_number if self.verdict.passed else 0

    @property
    def answer(self) -> Scored:
        """The prompt the run hands back (see :attr:`answer_number`)."""
        return self.history[self.answer_number] if self.history else self.seed

    def roll_back(self, number: int) -> Scored:
        """Make every candidate scored after ``number`` stop counting as best; returns the best.

        Only the choice of best changes: the rolled-back candidates stay in the
        history with their real scores, optimizers have been told them and keep
        using them (GPO's trajectory, ZOPO's surrogate), and candidates scored
        from now on count again, so they can beat ``number``. Rolling back to a
        candidate that was itself rolled back makes it count again. The best
        becomes ``number`` if it is admissible and nothing better before it counts.
        """
        self.candidate(number)
        self.rolled_back |= set(range(number + 1, len(self.history)))
        self.rolled_back.discard(number)
        return self.best

    def accept(self, number: int) -> Scored:
        """Make candidate ``number`` the answer, whatever its score (it must meet the rules)."""
        scored = self.candidate(number)
        if violations := self.constraints.violations(scored.candidate.text):
            raise ValueError(f"candidate #{number} breaks a rule: {'; '.join(violations)}")
        if not scored.complete:
            raise ValueError(
                f"candidate #{number} was dropped after {scored.dev.n} dev examples (clearly "
                "worse than the best): it has no full dev score to stand on"
            )
        self.accepted = number
        return scored
