"""A task endpoint nobody listens on: a clear error naming its URL, and the page goes on."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED = "Classify the review as positive or negative."


@pytest.mark.timeout(1200)  # an upper bound for a busy shared machine
def test_unreachable_task_endpoint_is_named_and_the_page_recovers(
    open_user, sentiment_csv, free_port
):
    user = open_user("unreachable")
    url = f"http://127.0.0.1:{free_port}/v1"
    user.load_data(sentiment_csv, splits=(10, 8, 12))
    user.settings(task_url=url, task_model="nobody-home", budget=4)

    first = user.start_run(SEED)
    user.expect_reply(first, re.escape(url), timeout=120_000)
    expect(user.status()).to_contain_text(re.compile("error", re.I), timeout=30_000)
    expect(user.status()).to_contain_text(url)
    failed = user.expect_run_id()
    user.assert_no_traceback()
    user.screenshot("endpoint-error")

    # Still usable: back to the embedded model, the same prompt starts a run.
    user.settings(task_url="", task_model="")
    again = user.start_run(SEED)
    user.expect_reply(again, r"\S", timeout=60_000)
    expect(user.page.locator("#run-id :is(textarea, input)").first).not_to_have_value(
        failed, timeout=60_000
    )
    user.expect_run_id()
    expect(user.status()).not_to_contain_text(re.compile("error", re.I), timeout=60_000)
    if user.is_running():  # stop early: this test is about the error, not the search
        user.click("cmd-stop")
    expect(user.status()).to_contain_text(re.compile("finished|stopped", re.I), timeout=420_000)
    user.assert_no_traceback()
