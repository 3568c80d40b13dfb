"""ZOPO as an :class:`~optimizers.base.Optimizer`: local search over the candidate domain.

:class:`~optimizers.zopo.search.ZOPOSearch` does the algorithm over ids and
embeddings; this adapter gives it the domain (built lazily, see
:mod:`optimizers.propose.domain`), maps ids to prompt texts, tells it every dev score (the
seed's and those of candidates other optimizers scored, which join the domain), scales
the random initial design to the budget, and grows the domain when the search has
tried every candidate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from optimizers.base import Candidate, OptimizerContext, Scored
from optimizers.propose.domain import CandidateDomain
from optimizers.propose.domain_config import DomainConfig
from optimizers.propose.domain_optimizer import DomainOptimizer
from optimizers.registry import ZOPO
from optimizers.zopo import NeuralTangentKernel, ZOPOConfig, ZOPOSearch, ZOPOState
from optimizers.zopo.surrogate import fit_local, nearest, posterior_mean, posterior_variance

REFERENCE_INITIAL = 40
REFERENCE_QUERIES = 165


def initial_design_size(total_steps: int) -> int:
    """Random evaluations before local search: the reference 40 of 165 queries, scaled (>= 2)."""
    return max(2, round(total_steps * REFERENCE_INITIAL / REFERENCE_QUERIES))


@dataclass(frozen=True, kw_only=True)
class ZOPOOptimizerConfig:
    """How the ZOPO optimizer runs.

    ``zopo`` holds the search's settings (reference defaults; relative uncertainty, see
    :class:`~optimizers.zopo.config.ZOPOConfig`), except ``n_initial`` and ``seed``: the
    initial design is :func:`initial_design_size` of the budget unless ``n_initial`` is
    given, and the seed (NTK weights, initial design) is drawn from the context's rng
    unless ``seed`` is given.

    Why ``torch_threads=1``: ZOPO's math is a few small matrix products per step; with
    torch's default 2 threads on a 2-core machine where the embedded llama.cpp server is
    busy, one ask took 9-74 ms (threads fighting over cores), with 1 thread 0.7-0.8 ms
    (300 candidates, d = 384; 0.6-0.8 ms either way on an idle machine).
    """

    domain: DomainConfig = field(default_factory=DomainConfig)
    zopo: ZOPOConfig = field(default_factory=ZOPOConfig)
    n_initial: int | None = field(
        default=None, metadata={"doc": "random evaluations first; None: scale with the budget"}
    )
    seed: int | None = field(default=None, metadata={"doc": "ZOPO's seed; None: from the rng"})
    batch_size: int = field(default=1, metadata={"doc": "candidates per ask"})
    grow: bool = field(
        default=True, metadata={"doc": "add candidates when all are scored; else stop"}
    )
    torch_threads: int | None = field(
        default=1,
        metadata={"doc": "torch threads during ZOPO's math (restored after); None: leave as is"},
    )

    def __post_init__(self) -> None:
        if isinstance(self.batch_size, bool) or self.batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {self.batch_size!r}")
        if self.n_initial is not None and (isinstance(self.n_initial, bool) or self.n_initial < 1):
            raise ValueError(f"n_initial must be None or an int >= 1, got {self.n_initial!r}")
        if self.torch_threads is not None and (
            isinstance(self.torch_threads, bool) or self.torch_threads < 1
        ):
            raise ValueError(
                f"torch_threads must be None or an int >= 1, got {self.torch_threads!r}"
            )


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch threads (``None``: unchanged), restoring them after."""
    before = torch.get_num_threads()
    if n is None or n == before:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass(frozen=True)
class SurrogateView:
    """ZOPO's local GP evaluated at domain candidates, for people to look at (never to decide).

    Attributes:
        texts: the ``m`` candidates nearest the current point, nearest first.
        embeddings: ``m x d`` their raw embeddings.
        mean: ``m`` posterior means μ (in score units).
        std: ``m`` posterior standard deviations as a share of the prior one,
            ``sqrt(v / k(z, z))`` in ``[0, 1]`` (the absolute NTK scale means nothing to a reader).
        current: the prompt the local search stands on (its centre).

    """

    texts: tuple[str, ...]
    embeddings: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    current: str


class ZOPOOptimizer(DomainOptimizer):
    """Localized zeroth-order prompt optimization (Hu et al. 2024) over the domain."""

    name: ClassVar[str] = ZOPO

    def __init__(
        self,
        context: OptimizerContext,
        config: ZOPOOptimizerConfig | None = None,
        *,
        domain: CandidateDomain | None = None,
    ) -> None:
        self.config = config or ZOPOOptimizerConfig()
        super().__init__(context, domain_config=self.config.domain, domain=domain)
        n_initial = self.config.n_initial or initial_design_size(context.total_steps)
        self.zopo_config = dataclasses.replace(
            self.config.zopo, n_initial=n_initial, seed=self.config.seed or 0
        )
        self.search: ZOPOSearch | None = None  # made on the first ask, after the domain
        self._told: dict[str, float] = {}  # domain id -> score the search has

    # --------------------------------------------------------------------- ask and tell

    def _ensure_search(self) -> ZOPOSearch:
        """The search, made once the domain exists.

        Its seed is drawn from the rng only *after* the domain is built, so ZOPO, APE and
        random search with the same seed build the same domain (free from the cache).
        """
        if self.search is None:
            seed = self.config.seed
            if seed is None:
                seed = self.context.rng.randrange(2**31)
            self.zopo_config = dataclasses.replace(self.zopo_config, seed=seed)
            self.search = ZOPOSearch(self.zopo_config)
        self._sync()
        return self.search

    def _sync(self) -> None:
        """Give the search the domain entries it lacks, and the scores it has not seen."""
        search = self.search
        if search is None:
            return
        known = len(search.candidate_ids)
        entries = self.domain.entries
        if len(entries) > known:
            new = entries[known:]
            search.add_candidates([e.id for e in new], self.domain.embeddings[known:])
        for key, score in self.scores.items():
            entry = self.domain.find(key)
            if entry is None:  # pragma: no cover - DomainOptimizer.tell adds told prompts
                raise RuntimeError(f"a told prompt is missing from the domain: {key!r}")
            if self._told.get(entry.id) != score:
                search.tell(entry.id, score)
                self._told[entry.id] = score

    async def ask(self) -> list[Candidate]:
        """The next candidates ZOPO picks; grows the domain when none is left, else ``[]``."""
        self.step += 1
        await self.ensure_domain()
        with torch_threads(self.config.torch_threads):
            search = self._ensure_search()
            events = len(search.state().log)
            ids = search.ask(self.config.batch_size)
        if not ids and self.config.grow:
            await self.grow()
            with torch_threads(self.config.torch_threads):
                self._sync()
                ids = search.ask(self.config.batch_size)
        if not ids:
            return []
        state = search.state()
        phase = _phase(state, events)
        by_id = {entry.id: entry for entry in self.domain.entries}
        return [
            self.candidate(
                by_id[cid],
                self.name,
                zopo=phase,
                mean=state.last_mean,
                uncertainty=state.last_variance,
            )
            for cid in ids
        ]

    def tell(self, scored: Sequence[Scored]) -> None:
        """Remember the scores and pass them on (unknown prompts join the domain first)."""
        super().tell(scored)
        with torch_threads(self.config.torch_threads):
            self._sync()

    def surrogate_view(self, limit: int = 300) -> SurrogateView | None:
        """The local GP as the search sees it now, at the ``limit`` candidates nearest its centre.

        Read-only: it refits a copy (same kernel seed, same local points) instead of touching
        the search, so calling it never changes what ZOPO asks next. None before any score.
        """
        if self.search is None:
            return None
        state = self.search.state()
        if not state.evaluated:
            return None
        entries = self.domain.entries[: state.n_candidates]
        row = {entry.id: i for i, entry in enumerate(entries)}
        config = self.zopo_config
        with torch_threads(self.config.torch_threads), torch.no_grad():
            emb = torch.as_tensor(self.domain.embeddings[: len(entries)], dtype=torch.float64)
            scored = torch.tensor([row[cid] for cid, _ in state.evaluated])
            y = torch.tensor([score for _, score in state.evaluated], dtype=torch.float64)
            centre = row[state.current_id or state.best[0]]  # type: ignore[index]
            kernel = NeuralTangentKernel(emb.shape[1], hidden=config.hidden, seed=config.seed)
            local = fit_local(
                emb[scored], y, emb[centre], kernel, n_local=config.n_local, noise=config.noise
            )
            near = nearest(emb, emb[centre], limit)
            mean = posterior_mean(local, emb[near])
            std = posterior_variance(local, emb[near], relative=True).sqrt()
        return SurrogateView(
            texts=tuple(entries[i].text for i in near.tolist()),
            embeddings=emb[near].numpy(),
            mean=mean.numpy(),
            std=std.numpy(),
            current=entries[centre].text,
        )

    # --------------------------------------------------------------------------- state

    def state_dict(self) -> dict[str, Any]:
        """Domain, scores, rng and the search's own state (JSON-serialisable)."""
        return {
            **super().state_dict(),
            "optimizer": self.name,
            "zopo_seed": None if self.search is None else self.zopo_config.seed,
            "n_initial": self.zopo_config.n_initial,
            "search": None if self.search is None else self.search.state().to_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` saved: same domain order, then the search."""
        super().load_state_dict(state)
        self.zopo_config = dataclasses.replace(self.zopo_config, n_initial=int(state["n_initial"]))
        self.search, self._told = None, {}
        if state["search"] is None:
            return
        self.zopo_config = dataclasses.replace(self.zopo_config, seed=int(state["zopo_seed"]))
        self.search = ZOPOSearch(self.zopo_config)
        search_state = ZOPOState.from_dict(state["search"])
        entries = self.domain.entries[: search_state.n_candidates]
        if entries:
            self.search.add_candidates(
                [e.id for e in entries], self.domain.embeddings[: len(entries)]
            )
        self.search.load_state(search_state)
        self._told = dict(search_state.evaluated)
        self._sync()


def _phase(state: ZOPOState, events_before: int) -> str:
    """Why the search picked: 'initial' design, 'step', 'explore', or a queued 'explore'."""
    new = state.log[events_before:]
    if new:
        return new[-1].kind
    return "initial" if state.steps == 0 and state.explorations == 0 else "explore"
