"""Fixtures for unit tests of one area that several modules share."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from optimizers.zopo.optimizer import torch_threads


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    """Tiny matrices: one thread is fastest and immune to a busy machine."""
    with torch_threads(1):
        yield
