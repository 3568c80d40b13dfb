"""A page reload mid-run finds the same run going on; another person sees none of it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED = "Tell me if this customer review is positive or negative."
RUNNING = re.compile(r"running\W+step \d+", re.IGNORECASE)  # "running · step N · best dev X"


@pytest.mark.timeout(1200)  # an upper bound for a busy shared machine
def test_reload_keeps_the_run_and_sessions_stay_apart(open_user, sentiment_csv):
    user = open_user("reload")
    user.load_data(sentiment_csv, splits=(10, 8, 12))
    user.settings(budget=6)
    first = user.start_run(SEED)
    user.expect_reply(first, r"\S", timeout=60_000)
    run = user.expect_run_id()
    expect(user.status()).to_contain_text(RUNNING, timeout=300_000)  # past loading: mid-run

    user.page.reload()
    expect(user.page.locator("#chat")).to_be_visible(timeout=60_000)
    expect(user.page).to_have_url(re.compile(r"[?&]run=" + re.escape(run)))
    expect(user.page.locator("#run-id :is(textarea, input)").first).to_have_value(
        run, timeout=30_000
    )
    expect(user.status()).to_contain_text(re.compile("running|finished", re.I), timeout=30_000)
    expect(user.page.locator("#chat [data-testid=user]").first).to_contain_text(SEED)
    user.tab("Inspect")
    user.expect_progress(timeout=300_000)  # still going on (or done) after the reload
    expect(user.candidate_rows().first).to_be_visible(timeout=300_000)  # the run's own table
    user.screenshot("after-reload")

    if user.is_running():  # stop now (it ends at the next step): the 2 cores are shared
        user.click("cmd-stop")

    # Another person on the bare URL: no chat, no run of the first one.
    other = open_user("other-user")
    asked = other.send("hello")
    other.expect_reply(asked, r"upload|built-in", timeout=60_000)
    expect(other.page.locator("#chat")).not_to_contain_text(SEED)
    assert other.run_id() == ""
    assert run not in other.page_text()
    assert "run=" not in other.page.url
    other.screenshot("second-user")

    expect(user.status()).to_contain_text(re.compile("finished|stopped", re.I), timeout=600_000)
