"""A ``random.Random``'s state as JSON and back: resumed runs draw what they would have."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any


def rng_state_to_json(rng: random.Random) -> list[Any]:
    """``rng.getstate()`` as nested lists (JSON has no tuples)."""
    version, internal, gauss = rng.getstate()
    return [version, list(internal), gauss]


def rng_state_from_json(rng: random.Random, state: Sequence[Any]) -> None:
    """Restore what :func:`rng_state_to_json` saved into ``rng``."""
    version, internal, gauss = state
    rng.setstate((int(version), tuple(int(v) for v in internal), gauss))
