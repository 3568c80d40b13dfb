"""SQLite files written by many runs at once: WAL mode and a long wait for the write lock."""

from __future__ import annotations

import sqlite3
import threading

from memory.sqlite_wal import BUSY_TIMEOUT_S, connect


def test_a_new_file_is_created_in_wal_mode_with_the_long_busy_timeout(tmp_path):
    path = tmp_path / "deep" / "new.sqlite"
    conn = connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == BUSY_TIMEOUT_S * 1000
    conn.close()
    # The mode is stored in the file: a plain connection sees it too.
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_an_existing_rollback_journal_file_is_switched(tmp_path):
    path = tmp_path / "old.sqlite"
    plain = sqlite3.connect(path)
    plain.execute("CREATE TABLE t (x)")
    plain.commit()
    plain.close()
    conn = connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0


def test_many_threads_opening_a_new_file_at_once_all_get_wal(tmp_path):
    path = tmp_path / "raced.sqlite"
    modes, errors = [], []

    def open_and_write(i: int) -> None:
        try:
            conn = connect(path)
            conn.execute("CREATE TABLE IF NOT EXISTS t (x)")
            conn.execute("INSERT INTO t VALUES (?)", (i,))
            modes.append(conn.execute("PRAGMA journal_mode").fetchone()[0])
            conn.close()
        except Exception as exc:  # collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=open_and_write, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert modes == ["wal"] * 16
    assert sqlite3.connect(path).execute("SELECT count(*) FROM t").fetchone()[0] == 16
