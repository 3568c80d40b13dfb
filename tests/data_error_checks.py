"""What a DataError must say, shared by the unit corpus (tests/data/bad) and the hostile one."""

from __future__ import annotations

from optimizers.tasks import DataError


def assert_error_says(error: DataError, line: int | None, words: tuple[str, ...]) -> None:
    """The error names ``line`` (``None``: no line) as ``, line N: `` and every word."""
    message = str(error)
    assert error.line == line, message
    if line is not None:
        assert f", line {line}: " in message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"
