"""GPO's step size: a cosine-decayed budget of words the optimizer may change per step.

Large edits early explore, small edits late refine (Tang et al. 2025, section on
the update method). The paper found a warm-up phase hurt, so there is none:

    s_t = floor(s_min + (s_max - s_min) · ½ · (1 + cos(π · t / T)))

``t`` runs from 0 (``s_max``) to ``T`` (``s_min``); steps past ``T`` stay at ``s_min``.
"""

from __future__ import annotations

import math

S_MAX = 50
S_MIN = 10
_EPSILON = 1e-9  # floor() of a value that is mathematically an integer must not drop by one


def step_size(t: int, total: int, *, s_max: int = S_MAX, s_min: int = S_MIN) -> int:
    """Return how many words step ``t`` of ``total`` may change (``s_max`` at 0, ``s_min`` at T)."""
    if isinstance(total, bool) or not isinstance(total, int) or total < 1:
        raise ValueError(f"total steps must be an int >= 1, found {total!r}")
    if isinstance(t, bool) or not isinstance(t, int) or t < 0:
        raise ValueError(f"step t must be an int >= 0, found {t!r}")
    if not 0 <= s_min <= s_max:
        raise ValueError(f"expected 0 <= s_min <= s_max, found s_min={s_min}, s_max={s_max}")
    progress = min(t, total) / total
    value = s_min + (s_max - s_min) * 0.5 * (1.0 + math.cos(math.pi * progress))
    return math.floor(value + _EPSILON)
