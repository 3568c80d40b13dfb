"""How fast the eval-set loaders read big files (CSV, JSONL, JSON), in rows per second.

The loaders must stay linear: a person may upload 100,000 rows (the row limit), and
the app previews the file on every upload. The unit tests check that such files load
correctly; this script measures how long they take.

    .venv/bin/python bench/loader_throughput.py --rows 100000 --rounds 3
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from machine import cpu_name  # bench/machine.py (scripts run as bench/NAME.py)

from optimizers.tasks import load_task


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["input", "output"])
        writer.writerows((f"example number {i}, with a comma", str(i % 7)) for i in range(rows))


def _records(rows: int) -> list[dict[str, object]]:
    return [{"input": f"question {i}", "output": [str(i), f"#{i}"]} for i in range(rows)]


def write_jsonl(path: Path, rows: int) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in _records(rows)), encoding="utf-8")


def write_json(path: Path, rows: int) -> None:
    path.write_text(json.dumps(_records(rows), indent=1), encoding="utf-8")


WRITERS: dict[str, Callable[[Path, int], None]] = {
    ".csv": write_csv,
    ".jsonl": write_jsonl,
    ".json": write_json,
}


def measure(path: Path, rows: int, rounds: int) -> list[float]:
    """Seconds per full load, ``rounds`` times; checks the row count each time."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        task = load_task(path)
        times.append(time.perf_counter() - started)
        if len(task) != rows:
            raise SystemExit(f"{path.name}: loaded {len(task)} rows, expected {rows}")
    return times


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"machine: {cpu_name()}, {platform.machine()}, Python {platform.python_version()}")
    print(f"load average (1 min) at start: {os.getloadavg()[0]:.2f}")
    print(f"{args.rows:,} rows, median of {args.rounds} loads\n")
    print(f"{'format':8} {'MB':>6} {'seconds':>8} {'rows/s':>10}")
    with tempfile.TemporaryDirectory() as tmp:
        for suffix, write in WRITERS.items():
            path = Path(tmp) / f"big{suffix}"
            write(path, args.rows)
            seconds = statistics.median(measure(path, args.rows, args.rounds))
            size = path.stat().st_size / 1e6
            print(f"{suffix[1:]:8} {size:6.1f} {seconds:8.2f} {args.rows / seconds:10,.0f}")


if __name__ == "__main__":
    main()
