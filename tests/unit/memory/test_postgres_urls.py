"""Store URLs: checked, and never shown with their password."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.run.workspace import StoreSettings
from memory.postgres.connection import StoreError, connect, redact, scrub


def test_the_password_is_hidden_and_the_rest_kept() -> None:
    url = "postgresql://team:s3cret@db.example:5433/prompts?sslmode=require"
    assert redact(url) == "postgresql://team:***@db.example:5433/prompts?sslmode=require"
    assert redact("postgresql://127.0.0.1/db") == "postgresql://127.0.0.1/db"
    assert scrub("auth failed for s3cret", url) == "auth failed for ***"


def test_a_url_that_is_not_postgresql_is_refused_with_what_to_give() -> None:
    with pytest.raises(StoreError, match=r"not a PostgreSQL URL: expected postgresql://"):
        StoreSettings(home=Path("."), store_url="mysql://u:pw@h/db")


def test_an_unreachable_server_is_one_clear_error_without_the_password(free_port: int) -> None:
    url = f"postgresql://team:s3cret@127.0.0.1:{free_port}/prompts"
    with pytest.raises(StoreError) as error:
        connect(url)
    message = str(error.value)
    assert f"postgresql://team:***@127.0.0.1:{free_port}/prompts" in message
    assert "s3cret" not in message
    assert "Check that the server is running" in message
