"""Connecting to the PostgreSQL store: clear errors, and never a password in a message.

Every store that lives in PostgreSQL (runs, step checkpoints, responses) opens
its connections here, so an unreachable server or a wrong URL always ends in the
same :class:`StoreError` naming the server (password hidden) and what to check.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

SCHEMES = ("postgresql", "postgres")


class StoreError(RuntimeError):
    """The shared store cannot be used; the message says which one and what to do."""


def is_postgres_url(url: str) -> bool:
    """True for ``postgresql://…`` and ``postgres://…`` URLs."""
    return urlsplit(url).scheme in SCHEMES


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for logs, errors, reports, the UI)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def check_url(url: str) -> str:
    """``url`` if it names a PostgreSQL database, else a :class:`StoreError` saying what to give."""
    if not is_postgres_url(url):
        raise StoreError(
            f"the store URL {redact(url)!r} is not a PostgreSQL URL: expected "
            "postgresql://USER[:PASSWORD]@HOST[:PORT]/DATABASE"
        )
    return url


def scrub(text: str, url: str) -> str:
    """``text`` without the password of ``url`` (driver messages may echo parts of it)."""
    password = urlsplit(url).password
    return text.replace(password, "***") if password else text


def connect(url: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """An autocommit connection to ``url``, or a :class:`StoreError` that says what to check."""
    check_url(url)
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10, **kwargs)
    except psycopg.Error as exc:
        reason = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        reason = scrub(reason or type(exc).__name__, url)
        end = "" if reason.endswith((".", "?", "!")) else "."
        raise StoreError(
            f"cannot use the PostgreSQL store at {redact(url)}: {reason}{end} Check that the "
            "server is running and reachable, and that --store / PROMPTPILOT_STORE_URL names "
            "the right user, password and database."
        ) from None
