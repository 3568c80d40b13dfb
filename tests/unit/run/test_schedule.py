"""How many steps an optimizer's schedule gets from the budget (GPO's T, textgrad's rounds)."""

from __future__ import annotations

from agent.run.session import total_steps
from optimizers.budget import Budget
from optimizers.gpo import GPO
from optimizers.textgrad import TextGrad
from optimizers.zopo.optimizer import ZOPOOptimizer


def test_alone_with_racing_a_schedule_spans_the_call_budget():
    default = Budget.default()  # 250 calls, 40 dev examples below
    assert total_steps(GPO, default, 40) == 1  # a full dev pass per query: auto's share
    assert total_steps(GPO, default, 40, racing_block=5) == 5  # 41 queries, 8 a step
    assert total_steps(GPO, Budget(max_queries=30), 40, racing_block=5) == 3  # queries rule
    assert total_steps(GPO, default, 4, racing_block=5) == 7  # never more than a dev pass


def test_only_schedules_that_end_their_optimizer_span_the_budget():
    assert GPO.schedule_ends_run
    assert TextGrad.schedule_ends_run
    assert not ZOPOOptimizer.schedule_ends_run  # its domain is sized by its steps: unchanged
