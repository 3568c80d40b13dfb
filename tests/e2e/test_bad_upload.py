"""A broken eval file gets a clear message in the chat and the data status, never a trace."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.eval_files import write_binary_junk, write_csv_without_target

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_bad_files_are_explained_and_a_good_one_still_loads(open_user, sentiment_csv, tmp_path):
    user = open_user("bad-upload")
    status = user.page.locator("#data-status")
    user.tab("Data")
    bad_files = (
        write_binary_junk(tmp_path / "junk.csv"),
        write_csv_without_target(tmp_path / "no_target.csv"),
    )
    for bad in bad_files:
        before = user.bot_messages().count()
        user.upload(bad)
        expect(status).to_contain_text(bad.name, timeout=30_000)
        expect(status).not_to_contain_text(re.compile(r"Loaded \d+ examples"))
        user.expect_reply(before, re.escape(bad.name), timeout=30_000)
        user.assert_no_traceback()
        user.screenshot(f"rejected-{bad.stem}")

    # The session is not stuck on the error: a good file loads.
    user.upload(sentiment_csv)
    expect(status).to_contain_text("Loaded 40 examples from sentiment.csv", timeout=30_000)
    expect(user.page.locator("#preview")).to_contain_text("label")
    user.assert_no_traceback()
