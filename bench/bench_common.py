"""What several benchmark scripts share: where things are, and the head of a Markdown table.

Standard library only, so that any script (or its unit test) can import it.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
"""The repository."""
SHARED_DATA = ROOT.parent / "shared" / "data"
"""The workspace's data sets, beside the repository."""
II_EXECUTE = SHARED_DATA / "instruction_induction" / "execute"
"""The instruction-induction ``execute`` tasks, one JSON file per task."""


def table_head(header: str) -> list[str]:
    """A Markdown table's header row (``"| a | b |"``) and its separator, one ``---`` a column."""
    return [header, "|" + "---|" * (header.count("|") - 1)]
