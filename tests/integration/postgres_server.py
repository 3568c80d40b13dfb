"""A throwaway PostgreSQL cluster for tests: ``initdb`` and ``pg_ctl`` on 127.0.0.1.

Debian's ``postgresql`` package (installed by ``make test``) keeps its programs
in ``/usr/lib/postgresql/<version>/bin``. PostgreSQL refuses to run as root, so
as root the cluster belongs to the package's ``postgres`` user. The login has a
password, so the tests also see that it never shows in messages.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg

USER = "promptpilot"
PASSWORD = "pp-test-secret-4711"


def postgres_bin() -> Path:
    """The folder of ``initdb`` and ``pg_ctl`` (newest installed version)."""
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    if not versions:
        raise RuntimeError("PostgreSQL is not installed: `make test` installs Debian's postgresql")
    return Path(versions[-1]).parent


def _version(path: str) -> int:
    return int(Path(path).parent.parent.name.split(".")[0])


class PostgresServer:
    """One cluster in a temporary folder, listening on 127.0.0.1:``port`` only."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.root = Path(tempfile.mkdtemp(prefix="promptpilot-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self._bin = postgres_bin()
        self._as_postgres = os.geteuid() == 0

    def _run(self, *command: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self._as_postgres else []
        subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)

    def start(self) -> PostgresServer:
        """initdb, then start and wait until it accepts connections."""
        password_file = self.root / "password"
        password_file.write_text(PASSWORD + "\n")
        if self._as_postgres:
            shutil.chown(self.root, "postgres")
            shutil.chown(password_file, "postgres")
        self._run(
            str(self._bin / "initdb"), "-D", str(self.data), "-U", USER,
            f"--pwfile={password_file}", "--auth-host=scram-sha-256", "--auth-local=trust",
            "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        options = f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off -c max_connections=200"
        self._run(
            str(self._bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", str(self.log),
            "-w", "-t", "60", "start",
        )  # fmt: skip
        return self

    def url(self, database: str = "postgres") -> str:
        """A URL with the test login's password (as a team's would have)."""
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """A new empty database; its URL."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server at once and remove its folder."""
        try:
            self._run(str(self._bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
