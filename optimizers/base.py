"""The contract every optimizer follows: ask for candidates, be told their scores.

Optimizers are plain objects. They never see the test split and never score on
dev themselves: the search (:mod:`optimizers.search`) scores what they propose,
enforces the budget, reuses the score of a prompt seen before, and records the
trajectory. That keeps each algorithm small and makes them comparable at equal
budget.
"""

from __future__ import annotations

import math
import random
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from memory.embeddings import Embedder
from memory.prompt_store import PromptStore
from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.evaluation.evaluator import EvalResult, Evaluator
from optimizers.evaluation.structured_prompt import StructuredPrompt
from optimizers.tasks.example import Example


def prompt_key(text: str) -> str:
    """Prompts that differ only in surrounding or repeated whitespace are one prompt."""
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """A prompt an optimizer proposes, with where it came from.

    ``meta`` carries optimizer-specific facts people want to inspect (GPO's edit
    distance and budget, the critique that led to a textual-gradient edit).
    """

    text: str
    source: str  # "seed", "structure", "ape", "paraphrase", "zopo", "gpo", "textgrad", "user"…
    step: int
    parents: tuple[str, ...] = ()  # identities of the prompts it was derived from
    meta: dict[str, Any] = field(default_factory=dict, compare=False)
    structure: StructuredPrompt | None = None
    """The prompt's parts when it has more than an instruction; ``text`` is then its text."""

    def __post_init__(self) -> None:
        if self.structure is not None and self.structure.text != self.text:
            raise ValueError("a structured candidate's text must be its structure's text")

    @classmethod
    def structured(cls, prompt: StructuredPrompt, **fields: Any) -> Candidate:
        """A candidate for ``prompt`` (a plain one stays plain: same identity as its text)."""
        return cls(text=prompt.text, structure=None if prompt.is_plain else prompt, **fields)

    @property
    def key(self) -> str:
        """Identity for de-duplication."""
        return self.structure.key if self.structure is not None else prompt_key(self.text)

    @property
    def prompt(self) -> str | StructuredPrompt:
        """What the evaluator scores."""
        return self.structure if self.structure is not None else self.text

    @property
    def parts(self) -> StructuredPrompt:
        """The prompt's parts (a plain prompt is all instruction)."""
        return self.structure or StructuredPrompt.plain(self.text)

    @property
    def identity(self) -> str:
        """What the prompt memory's id is made of: the text, plus the layout when it has one."""
        if self.structure is None or self.structure.layout is None:
            return self.text
        return self.structure.key


@dataclass(frozen=True)
class Scored:
    """A candidate with its dev evaluation (``reused`` when the prompt was seen before)."""

    candidate: Candidate
    dev: EvalResult
    reused: bool = False
    complete: bool = True
    """False when racing dropped it after a few dev blocks: ``dev`` then covers those only."""

    @property
    def score(self) -> float:
        """The dev mean: what optimizers maximise."""
        return self.dev.mean


ASK_SHARE = 0.5
NO_CALL_LIMIT = 1 << 30
"""The calls left when calls are not limited: more than any run could pay."""


def _no_call_limit() -> int:
    return NO_CALL_LIMIT


def _no_time_limit() -> float:
    return math.inf


@dataclass(frozen=True)
class Allowance:
    """What the run's budget still allows, read live; the runner sets it before each ask.

    Optimizers that pay for calls inside ``ask`` (train evaluations, model proposals)
    spend only a :meth:`share` of it, so one step never runs the budget over and
    leaves calls to score what it proposes.
    """

    calls_left: Callable[[], int] = _no_call_limit
    seconds_left: Callable[[], float] = _no_time_limit

    def for_ask(self) -> Share:
        """The share one ask may spend: half of what is left, half kept for dev scoring."""
        return self.share(ASK_SHARE)

    def share(self, fraction: float) -> Share:
        """``fraction`` of the calls and seconds left now, for one ask to spend."""
        return Share(
            self, calls=int(self.calls_left() * fraction), seconds=self.seconds_left() * fraction
        )


@dataclass
class Share:
    """The part of the budget one ask may spend itself (see :meth:`Allowance.share`)."""

    allowance: Allowance
    calls: int
    seconds: float
    _calls_at: int = field(init=False)
    _started: float = field(init=False, default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self._calls_at = self.allowance.calls_left()

    def calls_left(self) -> int:
        """Calls this share still allows (0 once its time is up)."""
        if time.monotonic() - self._started >= self.seconds:
            return 0
        spent = self._calls_at - self.allowance.calls_left()
        return max(0, self.calls - spent)

    def affords(self, calls: int) -> bool:
        """Whether ``calls`` more calls fit in this share."""
        return calls <= self.calls_left()


@dataclass(kw_only=True)
class OptimizerContext:
    """What an optimizer may use. There is deliberately no test split here.

    ``evaluator`` runs the task model; optimizers may use it on ``train``
    examples (e.g. to collect errors), never on dev: dev scores come from the
    runner through :meth:`Optimizer.tell`. ``directives`` are the user's standing
    constraints in plain words ("at most 30 words"), to be respected in
    meta-prompts.
    """

    task: str
    run: str
    seed_prompt: str
    train: tuple[Example, ...]
    evaluator: Evaluator
    proposer: ChatCaller  # the optimizer model
    embedder: Embedder
    store: PromptStore
    rng: random.Random
    dev_size: int
    total_steps: int  # the optimizer's share of the budget, in its own steps (GPO's T)
    directives: tuple[str, ...] = ()
    allowance: Allowance = field(default_factory=Allowance)


class Optimizer(ABC):
    """Ask/tell interface shared by ZOPO, GPO, textual gradients, APE and random search."""

    name: ClassVar[str]
    queries_per_step: ClassVar[int] = 1
    """Dev queries one ask/tell round usually costs; turns a query budget into steps."""
    schedule_ends_run: ClassVar[bool] = False
    """Whether the last of its ``total_steps`` ends it (GPO's decay, textgrad's rounds): run
    alone, its schedule should then span the whole budget."""

    def __init__(self, context: OptimizerContext) -> None:
        self.context = context
        self.step = 0

    @abstractmethod
    async def ask(self) -> list[Candidate]:
        """Propose the next candidates to score on dev; ``[]`` means nothing left to try."""

    @abstractmethod
    def tell(self, scored: Sequence[Scored]) -> None:
        """Receive the dev scores of the candidates from the last :meth:`ask`."""

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint needs to resume this optimizer (JSON-serialisable)."""
        return {"step": self.step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved."""
        self.step = int(state["step"])
