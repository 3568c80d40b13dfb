"""The plain loop of one optimizer: ask, score on dev, tell, until the budget or a stop.

Everything a fair comparison needs (the dev evaluation, the budget, de-duplication,
constraints, the prompt memory, the events) is :class:`~optimizers.search.Search`'s;
a :class:`Runner` only drives one optimizer through it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from optimizers.base import Optimizer, OptimizerContext
from optimizers.budget import Budget
from optimizers.events import Stopped
from optimizers.outcome import RunOutcome
from optimizers.search import Search
from optimizers.tasks.example import Example


class Runner:
    """Runs one optimizer against the dev split under a budget, until a limit."""

    def __init__(
        self,
        optimizer: Optimizer,
        context: OptimizerContext,
        dev: Sequence[Example],
        budget: Budget,
        **search_options: Any,
    ) -> None:
        """``search_options`` are :class:`Search`'s (``on_event``, ``should_stop``, ...)."""
        self.optimizer = optimizer
        self.search = Search(context, dev, budget, **search_options)

    @classmethod
    def over(cls, optimizer: Optimizer, search: Search) -> Runner:
        """A runner driving ``optimizer`` within an existing search."""
        runner = cls.__new__(cls)
        runner.optimizer, runner.search = optimizer, search
        return runner

    async def run(self) -> RunOutcome:
        """Score the seed prompt, then alternate ask → score → tell until a limit."""
        search = self.search
        outcome = await search.start()
        try:
            # stuck is checked first, also before the first step: a resumed search may be
            while (reason := "no new candidates" if search.stuck else search.exhausted()) is None:
                if await search.step(self.optimizer) is None:
                    break
            if reason is not None:
                outcome.stopped = reason
        except (asyncio.CancelledError, KeyboardInterrupt):
            outcome.stopped = "interrupted"
        outcome.wall_time_s = search.seconds
        search.on_event(Stopped(step=outcome.steps, reason=outcome.stopped))
        return outcome
