"""Fixtures the graph tests share (their fakes: tests/unit/graph_fixtures.py)."""

from __future__ import annotations

import pytest

from tests.unit.graph_fixtures import fake_runtime, write_items


@pytest.fixture
def data_file(tmp_path):
    """30 labelled reviews as JSONL (see :func:`write_items`)."""
    return write_items(tmp_path / "items.jsonl")


@pytest.fixture
def runtime():
    """A runtime on the rule-based fake models (see :func:`fake_runtime`)."""
    return fake_runtime()
