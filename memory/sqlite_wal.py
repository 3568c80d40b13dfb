"""Opening SQLite files that several threads and processes write at once.

Writers queue for the write lock for up to ``BUSY_TIMEOUT_S`` instead of
sqlite's 5 s: ten runs starting together on two cores waited longer than that
and one failed with "database is locked". The file is switched to WAL (readers
never block the writer; the mode is stored in the file) once, under a lock
file, because the switch needs the database to itself.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from memory.file_lock import locked_beside

BUSY_TIMEOUT_S = 30.0


def use_wal(path: Path) -> None:
    """Create the database at ``path`` if needed and put it in WAL mode."""
    conn = connect(path)
    conn.close()


def connect(path: Path) -> sqlite3.Connection:
    """An autocommit connection to ``path`` in WAL mode, waiting out other writers."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    try:
        if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            with locked_beside(path):
                conn.execute("PRAGMA journal_mode=WAL")
    except BaseException:
        conn.close()
        raise
    return conn
