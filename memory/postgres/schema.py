"""The PromptPilot tables in PostgreSQL, created on first use and versioned.

One row in ``promptpilot_schema`` records the version that made the tables. A
database made by a newer PromptPilot is refused with a clear message rather than
written in a shape that version would misread. Creation runs under an advisory
lock, so processes starting together do not race to create the same tables.
"""

from __future__ import annotations

from typing import Any

import psycopg

from memory.postgres.connection import StoreError, redact

SCHEMA_VERSION = 1
_CREATION_LOCK = 0x50524F4D  # any constant: the advisory lock id of table creation

_TABLES = (
    "CREATE TABLE IF NOT EXISTS promptpilot_schema (version INTEGER NOT NULL)",
    """CREATE TABLE IF NOT EXISTS promptpilot_runs (
        run TEXT PRIMARY KEY,
        record TEXT NOT NULL,
        report TEXT,
        created TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS promptpilot_step_checkpoints (
        run TEXT PRIMARY KEY,
        optimizer TEXT NOT NULL,
        payload TEXT NOT NULL,
        updated DOUBLE PRECISION NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS promptpilot_responses (
        key TEXT PRIMARY KEY,
        text TEXT NOT NULL,
        prompt_tokens INTEGER NOT NULL,
        completion_tokens INTEGER NOT NULL,
        created DOUBLE PRECISION NOT NULL
    )""",
)


def ensure_schema(conn: psycopg.Connection[Any], url: str) -> None:
    """Create the tables if missing; refuse a database of a newer schema version."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_CREATION_LOCK,))
        for statement in _TABLES:
            conn.execute(statement)
        row = conn.execute("SELECT version FROM promptpilot_schema").fetchone()
        if row is None:
            conn.execute("INSERT INTO promptpilot_schema VALUES (%s)", (SCHEMA_VERSION,))
        elif row[0] > SCHEMA_VERSION:
            raise StoreError(
                f"the PostgreSQL store at {redact(url)} has schema version {row[0]}, made by a "
                f"newer PromptPilot (this one knows version {SCHEMA_VERSION}): upgrade "
                "PromptPilot, or point --store at another database"
            )
