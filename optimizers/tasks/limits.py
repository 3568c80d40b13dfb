"""How much an eval file may hold, and reading its text safely within that.

Every check here happens before any parsing, so a huge, binary or mis-encoded file
fails fast with a message a person can act on instead of a decoder traceback.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from optimizers.tasks.errors import DataError


@dataclass(frozen=True, kw_only=True)
class LoadLimits:
    """Upper bounds on an eval file; exceeding one raises ``DataError``.

    A CSV cell is also capped by the stdlib reader's ``csv.field_size_limit()``
    (131,072 characters unless the process raised it); that is left alone here
    because it is process-wide.
    """

    max_bytes: int = 50_000_000
    max_rows: int = 100_000
    max_field_chars: int = 20_000
    max_json_depth: int = 20

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_rows", "max_field_chars", "max_json_depth"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"LoadLimits.{name} must be a positive integer, got {value!r}")


class RawRow(NamedTuple):
    """One record as a format reader found it, before columns are chosen.

    ``derived`` holds values a known schema defines beyond plain fields (the
    instruction-induction ``input``/``targets``); they are used unless the caller
    names columns explicitly.
    """

    id: str
    line: int | None
    fields: dict[str, Any]
    derived: dict[str, Any] | None = None


# Signatures of files people often pick by mistake: say what they are.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (an .xlsx workbook is one: export it as CSV)"),
    (b"\xd0\xcf\x11\xe0", "an old Excel/Office document (export it as CSV)"),
    (b"\x1f\x8b", "gzip-compressed data (decompress it first)"),
    (b"%PDF", "a PDF document"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"PAR1", "a Parquet file (export it as CSV or JSONL)"),
    (b"SQLite format 3", "an SQLite database"),
)
_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff", b"\xff\xfe", b"\xfe\xff")
# Control bytes that never appear in text files (tab, LF, CR and form feed do).
_CONTROL = bytes(b for b in range(32) if b not in (9, 10, 12, 13))


def read_text(path: Path, limits: LoadLimits) -> str:
    """Return the file's text, or raise ``DataError`` saying why it is not usable text."""
    where = str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DataError(where, "file not found") from None
    except OSError as exc:
        raise DataError(where, f"cannot read the file: {exc.strerror or exc}") from None
    if stat.S_ISDIR(info.st_mode):
        raise DataError(where, "is a directory; expected an eval file (.csv, .tsv, .jsonl, .json)")
    if not stat.S_ISREG(info.st_mode):
        raise DataError(where, "is not a regular file (a pipe or device?); expected an eval file")
    if info.st_size > limits.max_bytes:
        raise DataError(where, _too_big(info.st_size, limits))
    try:
        with path.open("rb") as handle:
            data = handle.read(limits.max_bytes + 1)
    except OSError as exc:
        raise DataError(where, f"cannot read the file: {exc.strerror or exc}") from None
    if len(data) > limits.max_bytes:  # grew since stat()
        raise DataError(where, _too_big(len(data), limits))
    if not data:
        raise DataError(where, "the file is empty (0 bytes); expected a header and examples")
    return _decode(where, data)


def _too_big(size: int, limits: LoadLimits) -> str:
    return (
        f"the file is too large: {size:,} bytes, over the limit of {limits.max_bytes:,} bytes "
        "(LoadLimits.max_bytes)"
    )


def _decode(where: str, data: bytes) -> str:
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise DataError(where, f"binary data, not text: this looks like {what}")
    for bom in _UTF16_32_BOMS:
        if data.startswith(bom):
            raise DataError(
                where,
                "the file is UTF-16/UTF-32 encoded (it starts with a byte-order mark); "
                "expected UTF-8: save it as UTF-8",
            )
    start = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    nul = data.find(b"\x00", start)
    if nul >= 0:
        if _utf16_without_bom(data):
            raise DataError(
                where,
                "the file looks UTF-16 encoded (every other byte is NUL) without a byte-order "
                "mark; expected UTF-8: save it as UTF-8",
            )
        raise DataError(
            where,
            f"binary data, not text: a NUL byte at byte offset {nul}; expected a UTF-8 text file",
            _line_of(data, nul),
        )
    head = data[start : start + 8192]
    if head and len(head) - len(head.translate(None, _CONTROL)) > len(head) // 10:
        raise DataError(where, "binary data, not text: many control bytes near the start")
    try:
        text = data[start:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        raise DataError(
            where,
            f"not valid UTF-8: byte 0x{data[offset]:02x} at byte offset {offset}{_guess(data)}; "
            "save the file as UTF-8",
            _line_of(data, offset),
        ) from None
    if not text.strip():
        raise DataError(where, "the file is empty (only whitespace); expected examples")
    return text


def _utf16_without_bom(data: bytes) -> bool:
    """ASCII-range text saved as UTF-16: NUL in all even or all odd positions of the head."""
    head = data[: min(200, len(data)) // 2 * 2]
    if len(head) < 4:
        return False
    even, odd = head[0::2], head[1::2]
    return (not any(odd) and all(even)) or (not any(even) and all(odd))


def _guess(data: bytes) -> str:
    try:
        data.decode("cp1252")
    except UnicodeDecodeError:
        return ""
    return " (perhaps it was saved as Windows-1252/Latin-1)"


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1
