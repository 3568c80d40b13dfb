"""One run's live objects: data, evaluator, prompt memory, search and optimizers.

None of this is checkpointed (it holds models, connections and tensors); it is
rebuilt from the request and restored from the checkpointed snapshot when a
run resumes. It is also the one place where the test split is touched:
:meth:`RunSession.report`, after the search.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Callable
from typing import Any

from agent.llm.runtime import ModelRuntime
from agent.run.evaluate import resolve_task
from agent.run.request import OptimizeRequest
from agent.run.workspace import Workspace
from memory.embeddings import Embedder, SentenceTransformerEmbedder
from memory.prompt_record import prompt_id
from memory.prompt_store import PromptStore
from optimizers.base import Optimizer, OptimizerContext
from optimizers.budget import Budget
from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.evaluation.evaluator import EvalResult, Evaluator, compare
from optimizers.evaluation.metrics import get_metric
from optimizers.evaluation.stats import PairedComparison
from optimizers.evaluation.templates import parse_template
from optimizers.events import EventFn
from optimizers.propose.constraints import Constraints
from optimizers.propose.domain import CandidateDomain
from optimizers.propose.domain_optimizer import DomainOptimizer
from optimizers.registry import AUTO, optimizer_class
from optimizers.search import Search
from optimizers.selection.racing import RacingConfig
from optimizers.tasks import split_task


def total_steps(
    optimizer: type[Optimizer], budget: Budget, dev_size: int, *, racing_block: int | None = None
) -> int:
    """How many ask/tell rounds the budget allows (GPO decays its step size over it).

    A call budget is turned into queries at one dev pass per query: short schedules,
    right when the methods of ``auto`` share the budget. ``racing_block`` (an optimizer
    whose schedule ends it, run alone, with racing) counts a query at the first racing
    block and its proposal call instead, since most candidates stop there: its schedule
    then spans the budget (the default 250 calls on 40 dev examples gave GPO one step).
    """
    if budget.max_queries is not None:
        queries = budget.max_queries
    elif budget.max_calls is not None:
        per_query = dev_size if racing_block is None else min(dev_size, racing_block + 1)
        queries = max(2, budget.max_calls // max(1, per_query))
    else:
        queries = 100
    return max(1, (queries - 1) // optimizer.queries_per_step)


class RunSession:
    """Everything a run needs in memory; build with :meth:`open`, end with :meth:`close`."""

    def __init__(
        self,
        *,
        run: str,
        request: OptimizeRequest,
        runtime: ModelRuntime,
        embedder: Embedder,
        store: PromptStore,
        on_event: EventFn | None = None,
        should_stop: Callable[[], bool] | None = None,
        planner: ChatCaller | None = None,
    ) -> None:
        if runtime.task is None or runtime.optimizer is None:
            raise ValueError("a run needs both the task and the optimizer model started")
        self.run = run
        self.request = request
        self.planner = planner
        self.started = time.monotonic()
        self._inbox: list[str] = []
        self._inbox_lock = threading.Lock()
        self.runtime = runtime
        self.embedder = embedder
        self.store = store
        task = resolve_task(request.data, columns=request.columns)
        test_task = (
            resolve_task(request.test_data, columns=request.columns) if request.test_data else None
        )
        self.task = task
        self.splits = split_task(task, request.split_spec, test_task=test_task)
        self.evaluator = Evaluator(
            runtime.task,
            metric=get_metric(request.metric),
            template=parse_template(request.template),
        )
        self.context = OptimizerContext(
            task=task.name,
            run=run,
            seed_prompt=request.prompt,
            train=self.splits.train,
            evaluator=self.evaluator,
            proposer=runtime.optimizer,
            embedder=embedder,
            store=store,
            rng=random.Random(request.seed),
            dev_size=len(self.splits.dev),
            total_steps=1,  # set per optimizer in :meth:`optimizer`
            directives=request.directives,
        )
        self.search = Search(
            self.context, self.splits.dev, request.budget,
            on_event=on_event, should_stop=should_stop,
            racing=RacingConfig() if request.racing else None,
        )  # fmt: skip
        self.optimizers: dict[str, Optimizer] = {}
        self.domain: CandidateDomain | None = None

    @classmethod
    def open(
        cls,
        request: OptimizeRequest,
        runtime: ModelRuntime,
        *,
        workspace: Workspace,
        run: str,
        embedder: Embedder | None = None,
        on_event: EventFn | None = None,
        should_stop: Callable[[], bool] | None = None,
        planner: ChatCaller | None = None,
    ) -> RunSession:
        """Open the workspace's prompt memory and build the session."""
        embedder = embedder or SentenceTransformerEmbedder.bundled()
        store = workspace.open_prompt_store(embedder)
        try:
            return cls(
                run=run, request=request, runtime=runtime, embedder=embedder, store=store,
                on_event=on_event, should_stop=should_stop, planner=planner,
            )  # fmt: skip
        except BaseException:
            store.close()
            raise

    def send(self, text: str, *, interrupt: bool = False) -> None:
        """Queue a steering message from the person; the planner reads it at its next turn.

        With ``interrupt`` (stop, pause, a switch of method) the step going on ends at its
        next candidate, so the planner's next turn comes within seconds. Safe to call
        from any thread (the UI calls it while the run goes on).
        """
        with self._inbox_lock:
            self._inbox.append(text)
            if interrupt:
                self.search.interrupt()

    def drain_inbox(self) -> list[str]:
        """Take every queued steering message, oldest first; steps may spend again."""
        with self._inbox_lock:
            self.search.resume_steps()  # a message sent after this interrupts again
            texts, self._inbox = self._inbox, []
        return texts

    def close(self) -> None:
        """Release the prompt memory."""
        self.store.close()

    def optimizer(self, name: str, state: dict[str, Any] | None = None) -> Optimizer:
        """The run's optimizer ``name``, created on first use (from ``state`` when resuming).

        Each optimizer gets its own random stream, derived from the run seed and
        its name, so switching methods never changes another method's draws.
        ZOPO, APE and random search pick from one candidate domain per run, built
        from the same stream whichever of them asks first: for one seed they
        compare on the same candidates, and the domain is generated only once.
        """
        if name not in self.optimizers:
            cls = optimizer_class(name)
            shares_domain = issubclass(cls, DomainOptimizer)
            stream = "domain" if shares_domain else name
            context = OptimizerContext(
                **{
                    **vars(self.context),
                    "rng": random.Random(f"{self.request.seed}:{stream}"),
                    "total_steps": total_steps(
                        cls,
                        self.request.budget,
                        len(self.splits.dev),
                        racing_block=self._racing_block(cls),
                    ),
                }
            )
            if shares_domain:
                self.domain = self.domain or CandidateDomain(self.embedder)
                optimizer = cls(context, domain=self.domain)
            else:
                optimizer = cls(context)
            if state:
                optimizer.load_state_dict(state)
            self.optimizers[name] = optimizer
        return self.optimizers[name]

    def _racing_block(self, cls: type[Optimizer]) -> int | None:
        """The first racing block if ``cls`` runs alone and its schedule ends it, else None.

        See :func:`total_steps`.
        """
        racing = self.search.racing
        alone = self.request.optimizer != AUTO and cls.schedule_ends_run
        return racing.first_block if alone and racing is not None else None

    def set_directives(self, directives: tuple[str, ...]) -> None:
        """Change the standing constraints: hard checks and meta-prompts follow at once."""
        self.context.directives = directives
        for optimizer in self.optimizers.values():
            optimizer.context.directives = directives
        self.search.constraints = Constraints(directives)
        if self.search.outcome is not None:
            self.search.outcome.constraints = self.search.constraints

    def set_budget(self, budget: Budget) -> None:
        """Change the limits; the next step checks against the new ones."""
        self.search.budget = budget

    async def report(self) -> tuple[EvalResult | None, EvalResult | None, PairedComparison | None]:
        """Score seed and answer on test, once the search is over: the only use of test.

        The answer is the best prompt if it passes the guard against regressions
        (:attr:`~optimizers.runner.RunOutcome.answer`), else the seed.
        """
        if self.evaluator.examples_seen["test"]:
            raise RuntimeError("the test split was evaluated during the search")
        outcome = await self.search.start()
        answer = outcome.answer.candidate
        try:
            seed_test = await self.evaluator.evaluate(
                self.request.prompt, self.splits.test, split="test"
            )
            best_test = await self.evaluator.evaluate(answer.prompt, self.splits.test, split="test")
        except asyncio.CancelledError:  # aborted during the report: keep what the search found
            return None, None, None
        self.store.set_scores(prompt_id(self.run, answer.identity), test=best_test.mean)
        self.store.set_scores(prompt_id(self.run, self.request.prompt), test=seed_test.mean)
        return seed_test, best_test, compare(seed_test, best_test)
