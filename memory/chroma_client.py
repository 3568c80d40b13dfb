"""Opening and closing Chroma clients safely, embedded or on a server.

chromadb shares one ``System`` per path among a process's clients, and creates its
tables when a client first opens a folder: both need locks to be safe across threads
and processes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from memory.file_lock import locked_beside

CLIENTS_LOCK = threading.RLock()
"""Held while a Chroma client is made or closed. chromadb shares one ``System`` per path
among a process's clients, and neither making one nor releasing it is thread-safe: a
second thread got the system before it was started (``'RustBindingsAPI' object has no
attribute 'bindings'``) or after the last client's close removed it (``KeyError``), with
ten app sessions opening their prompt memory at once."""


@contextmanager
def opening(path: Path) -> Iterator[None]:
    """Held while a process opens the store at ``path``, across threads and processes.

    chromadb creates its tables when a client first opens a folder; two processes
    doing it at once fail ("table collections already exists", seen with ten
    `promptpilot optimize` runs starting together on one home). A lock file beside
    the folder serialises the opening; the work after it is safe in parallel.
    """
    with CLIENTS_LOCK, locked_beside(path):
        yield


def chroma_settings() -> Any:
    """Client settings: no telemetry (chromadb imported on use: it is slow to import)."""
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False)


def parse_url(url: str) -> tuple[str, int, bool]:
    """``http(s)://host[:port]`` -> (host, port, ssl); Chroma's port 8000 by default."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected a Chroma URL like http://127.0.0.1:8000, found {url!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"expected a Chroma URL without a path or query, found {url!r}")
    if parts.username or parts.password:
        raise ValueError("credentials in the Chroma URL are not supported")
    ssl = parts.scheme == "https"
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"the port in {url!r} is not a valid port number") from exc
    return parts.hostname, port or (443 if ssl else 8000), ssl


def close_client(client: Any) -> None:
    """Close a Chroma client when the installed chromadb has ``Client.close()``."""
    close = getattr(client, "close", None)
    if close is not None:
        with CLIENTS_LOCK:
            close()


def collection_space(collection: Any) -> str:
    """Return the distance a collection was created with (configuration or legacy metadata).

    ``configuration_json`` rather than ``configuration``: the latter warns about the
    "legacy" embedding-function entry Chroma records for ``embedding_function=None``.
    """
    config = getattr(collection, "configuration_json", None)
    if config is None:
        config = getattr(collection, "configuration", None)
    for index in ("hnsw", "spann"):
        settings = config.get(index) if isinstance(config, Mapping) else None
        if isinstance(settings, Mapping) and settings.get("space"):
            return str(settings["space"])
    return str((collection.metadata or {}).get("hnsw:space", "l2"))
