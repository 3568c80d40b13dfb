"""Issue 5's "done when": upload, prompt, a short run, steer, report, downloads; in Chromium."""

from __future__ import annotations

import csv
import json
import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SEED = "Is this review positive or negative?"
RULE = "keep it under 30 words"
INTERVAL = re.compile(r"\[\s*[-+]?\d*\.?\d+\s*[,;–]\s*[-+]?\d*\.?\d+\s*\]")


@pytest.mark.timeout(1500)  # an upper bound for a busy shared machine
def test_upload_prompt_run_steer_and_download_the_report(open_user, sentiment_csv, tmp_path):
    user = open_user("happy")
    page = user.page

    # Data: upload, preview, status; small splits so the run takes a minute or two.
    user.load_data(sentiment_csv, splits=(10, 8, 12))
    expect(page.locator("#data-status")).to_contain_text("Loaded 40 examples from sentiment.csv")
    with sentiment_csv.open(encoding="utf-8") as handle:
        first_review = next(csv.DictReader(handle))["text"]
    expect(page.locator("#preview")).to_contain_text(first_review)
    user.screenshot("1-data-loaded")
    user.settings(budget=6)

    # The seed prompt starts a run: the assistant says what it will do, the run id shows.
    first = user.start_run(SEED)
    user.expect_reply(first, r"\S", timeout=60_000)
    run = user.expect_run_id()
    expect(user.status()).to_contain_text(re.compile("running", re.I), timeout=60_000)

    # Steering while it runs: acknowledged in the chat.
    steer = user.send(RULE)
    ack = user.expect_reply(steer, r"30[ -]words?", timeout=300_000)  # read at the next step
    user.screenshot("2-steering-applied")

    # Inspect: the plot renders and the candidate table fills while the run goes on.
    user.tab("Inspect")
    expect(user.candidate_rows().nth(1)).to_be_visible(timeout=420_000)
    user.expect_plot_drawn("score-plot", timeout=60_000)
    user.screenshot("3-run-going")

    # The run ends on its budget; one click on a header sorts the candidates, one more reverses.
    expect(user.status()).to_contain_text(re.compile("finished", re.I), timeout=600_000)
    user.sort_candidates("#")  # (only the rows on screen are in the page)
    up = user.candidate_column(0)
    assert up == sorted(up), up
    assert up[0] == 0, up
    user.sort_candidates("#")
    down = user.candidate_column(0)
    assert down == sorted(down, reverse=True), down
    assert down[0] > down[-1], down
    user.sort_candidates("dev score")
    scores = user.candidate_column(2)
    assert scores == sorted(scores), scores
    user.screenshot("4-candidates-sorted")
    user.tab("Report")
    report = page.locator("#report")
    expect(report).to_contain_text(re.compile("test", re.I), timeout=60_000)
    expect(report).to_contain_text(INTERVAL)
    user.screenshot("5-report")
    user.assert_no_traceback()

    saved = user.download("download-json", tmp_path)
    payload = json.loads(saved.read_text(encoding="utf-8"))
    assert payload["run"] == run
    assert RULE in payload["directives"], (ack, payload["directives"])
    assert payload["seed_prompt"] == SEED
    best_test = payload["scores"]["best"]["test"]
    assert best_test["n"] == 12
    low, high = best_test["ci95"]
    assert low <= best_test["mean"] <= high
    assert len(payload["best_prompt"].split()) < 30  # the rule is a hard constraint
    assert 1 <= payload["dev_queries"] <= 6

    markdown = user.download("download-md", tmp_path).read_text(encoding="utf-8")
    assert run in markdown
    assert INTERVAL.search(markdown), markdown
