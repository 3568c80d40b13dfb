"""Fixtures the optimizer tests share (their fakes: tests/unit/optimizer_fixtures.py)."""

from __future__ import annotations

import pytest

from tests.unit.optimizer_fixtures import context_factory


@pytest.fixture
def optimizer_context(tmp_path, bundled_embedder):
    """``optimizer_context(**overrides)`` makes a context on fake models (see ``make_context``)."""
    with context_factory(tmp_path, bundled_embedder) as factory:
        yield factory
