"""Errors raised for bad eval data; they carry where the problem is."""

from __future__ import annotations

from optimizers.propose.safe_text import show_control


class DataError(ValueError):
    """Eval data that cannot be used, with the file and (when known) the line.

    The message is meant for people: ``"reviews.csv, line 12: the target is empty"``.
    It quotes names and values from the file, so control characters in it are written
    visibly (``\\x1b``), never sent raw to a terminal (``path`` and ``problem`` keep the
    raw text).
    """

    def __init__(self, path: str, problem: str, line: int | None = None) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path}, line {line}" if line is not None else path
        super().__init__(show_control(f"{where}: {problem}"))
