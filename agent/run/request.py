"""What a person asks for: the data, the seed prompt, the optimizer, the budget, the rules.

Recorded whole in every report and run record, so a run can be repeated or resumed.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from optimizers.budget import Budget
from optimizers.registry import GPO, optimizer_class
from optimizers.tasks import ColumnMapping, SplitSpec


@dataclass(frozen=True, kw_only=True)
class OptimizeRequest:
    """Everything that defines an optimization run (recorded in its report)."""

    data: str
    prompt: str
    optimizer: str = GPO
    budget: Budget = field(default_factory=Budget.default)
    metric: str = "exact"
    template: str = "inline"
    columns: ColumnMapping = field(default_factory=ColumnMapping)
    split_spec: SplitSpec = field(default_factory=SplitSpec)
    test_data: str | None = None
    seed: int = 0
    directives: tuple[str, ...] = ()
    racing: bool = True
    """Score new candidates on growing dev blocks and drop clear losers early."""

    def __post_init__(self) -> None:
        if not self.prompt.strip():
            raise ValueError("give the prompt to start from (--prompt)")
        if self.optimizer != "auto":
            optimizer_class(self.optimizer)  # fail fast on an unknown name

    def config(self) -> dict[str, Any]:
        """A JSON-ready record of the request."""
        return asdict(self)

    @classmethod
    def from_config(cls, data: dict[str, Any]) -> OptimizeRequest:
        """Rebuild a request from :meth:`config` (how a run is resumed or repeated)."""
        fields = dict(data)
        fields["budget"] = Budget(**fields["budget"])
        fields["columns"] = ColumnMapping(**fields["columns"])
        fields["split_spec"] = SplitSpec(**fields["split_spec"])
        fields["directives"] = tuple(fields.get("directives", ()))
        fields.setdefault("racing", False)  # runs recorded before racing existed
        return cls(**fields)


def new_run_id(request: OptimizeRequest) -> str:
    """Readable, sortable and unique: ``sentiment-gpo-20261121-071502-a1b2``.

    Named after the data file's stem (a task's default name), so the id needs
    no load of the data.
    """
    task = Path(request.data.removeprefix("builtin:")).stem
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return f"{task}-{request.optimizer}-{stamp}-{secrets.token_hex(2)}"
