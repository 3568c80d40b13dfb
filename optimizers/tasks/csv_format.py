"""Reading CSV/TSV eval files into header-keyed rows.

Cells are only ever treated as text: nothing here evaluates a formula-looking cell
(``=SUM(A1)``, ``+1``, ``@cmd``); it reaches the prompt exactly as written.
"""

from __future__ import annotations

import csv
import io
import re

from optimizers.tasks.errors import DataError
from optimizers.tasks.limits import LoadLimits, RawRow

_DELIMITER_NAMES = {",": "comma", "\t": "tab", ";": "semicolon"}


def choose_delimiter(text: str, default: str) -> str:
    """Use ``default`` unless the header line plainly uses another delimiter.

    The extension picks the default (``.tsv`` → tab); a ``.csv`` saved with tabs or
    semicolons (a common spreadsheet export) is still read correctly.
    """
    header = text.split("\n", 1)[0]
    if default in header:
        return default
    counts = {d: header.count(d) for d in _DELIMITER_NAMES if d != default}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else default


def read_csv(
    text: str, where: str, limits: LoadLimits, delimiter: str
) -> tuple[list[str], list[RawRow]]:
    """Parse ``text`` as delimited rows with a header; return the column names and rows."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    header: list[str] | None = None
    header_line = 0
    rows: list[RawRow] = []
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise DataError(where, _csv_problem(str(exc)), start) from None
        if not any(cell.strip() for cell in cells):
            continue  # blank line or a row of empty cells (spreadsheet padding)
        if header is None:
            header = _header(cells, where, start, limits)
            header_line = start
            continue
        if len(cells) != len(header):
            raise DataError(
                where,
                f"expected {len(header)} cells like the header on line {header_line} "
                f"({_describe_header(header, delimiter)}) but found {len(cells)}; "
                "a cell containing the delimiter must be quoted",
                start,
            )
        if len(rows) >= limits.max_rows:
            raise DataError(
                where,
                f"too many rows: more than {limits.max_rows:,} examples (LoadLimits.max_rows)",
                start,
            )
        for name, cell in zip(header, cells, strict=True):
            if len(cell) > limits.max_field_chars:
                raise DataError(
                    where,
                    f'the "{name}" cell is too long: {len(cell):,} characters, over the limit '
                    f"of {limits.max_field_chars:,} (LoadLimits.max_field_chars)",
                    start,
                )
        rows.append(RawRow(f"row-{len(rows) + 1}", start, dict(zip(header, cells, strict=True))))
    if header is None:
        raise DataError(where, "no header row found; expected a header such as input,output")
    if not rows:
        raise DataError(
            where,
            f"no examples: the file has a header ({_describe_header(header, delimiter)}) "
            "but no data rows",
        )
    return header, rows


def _header(cells: list[str], where: str, line: int, limits: LoadLimits) -> list[str]:
    names = [cell.strip() for cell in cells]
    seen: dict[str, int] = {}
    for index, name in enumerate(names):
        if len(name) > limits.max_field_chars:
            raise DataError(
                where,
                f"header cell {index + 1} is {len(name):,} characters long, over the limit of "
                f"{limits.max_field_chars:,} (LoadLimits.max_field_chars)",
                line,
            )
        if not name:
            names[index] = f"column{index + 1}"
            continue
        if name in seen:
            raise DataError(
                where,
                f'the header names the column "{name}" twice (columns {seen[name] + 1} and '
                f"{index + 1}); column names must be unique",
                line,
            )
        seen[name] = index
    return names


def _describe_header(header: list[str], delimiter: str) -> str:
    shown = ", ".join(f'"{name}"' for name in header[:8])
    more = f" and {len(header) - 8} more" if len(header) > 8 else ""
    kind = _DELIMITER_NAMES.get(delimiter, repr(delimiter))
    return f"{len(header)} {kind}-separated columns: {shown}{more}"


def _csv_problem(message: str) -> str:
    if "unexpected end of data" in message:
        return (
            'a quoted cell starting on this line is never closed (a " without its closing "); '
            'inside a quoted cell write a quote as ""'
        )
    limit = re.search(r"field larger than field limit \((\d+)\)", message)
    if limit:
        return (
            f"a cell is longer than {int(limit.group(1)):,} characters, the most the CSV reader "
            'accepts; often a quote (") that is never closed'
        )
    if "expected after" in message:
        return (
            "unexpected text after a closing quote; quote the whole cell and write a quote "
            'inside it as ""'
        )
    return f"malformed CSV: {message}"
