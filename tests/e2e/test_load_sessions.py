"""Load: 10 browser sessions on one `promptpilot ui`, each with its own data, prompt and run.

One app (its own home, the embedded SmolLM2 started once and shared by every run)
and one Chromium with ten contexts, driven from this thread (Playwright's sync API
is not thread-safe): each person uploads a CSV whose every review ends in a marker
of their own (``SX00`` … ``SX09``), sets tiny splits and budget, and sends a seed
prompt carrying the same marker. The runs go on side by side in the app's threads;
the pages are then polled round-robin until all have finished. Each page must show
its own run id, prompt and data and nothing of another session's; the app's log
holds no traceback; after the app stops, every SQLite file in its home is intact and
the prompt memory holds each run's prompts under its own run id.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, expect

from memory.embeddings import SentenceTransformerEmbedder
from memory.prompt_store import PromptStore
from tests.e2e.app_process import UiApp, start_ui, stop_ui
from tests.e2e.conftest import CHROMIUM_ARGS, VIEWPORT
from tests.e2e.eval_files import write_marked_sentiment_csv
from tests.e2e.pilot_page import PilotPage

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SESSIONS = 10
SPLITS = (4, 2, 3)  # tiny: the test is about ten sessions at once, not about scores
BUDGET = 2  # dev queries: the seed and one candidate
METHODS = ("random", "auto")  # auto: the deterministic policy on the embedded model (GPO first)
SEED_PROMPT = "Is this review positive or negative? Session {marker}."
ENDED = re.compile(r"finished|stopped|error", re.I)
SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass
class Session:
    """One person: marker, file, prompt, page, and what the run did."""

    marker: str
    csv: Path
    prompt: str
    method: str
    user: PilotPage | None = None
    run: str = ""
    sent: float = 0.0
    ended: float | None = None
    status: str = ""
    notes: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def load_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[UiApp]:
    """An app of its own (its home is checked after it stops), short task answers."""
    app = start_ui(tmp_path_factory.mktemp("load-ui-home"), "--task-max-tokens", "8")
    yield app
    stop_ui(app)


@pytest.fixture(scope="module")
def browser(playwright: Playwright, chromium: Path) -> Iterator[Browser]:
    """One Chromium for all sessions: each gets a fresh context (own cookies, own storage)."""
    browser = playwright.chromium.launch(
        executable_path=str(chromium), args=CHROMIUM_ARGS, headless=True
    )
    yield browser
    browser.close()


def sqlite_integrity(home: Path) -> dict[str, str]:
    """``PRAGMA integrity_check`` of every SQLite database under ``home`` (by header)."""
    results = {}
    for path in sorted(home.rglob("*")):
        if not path.is_file() or path.stat().st_size < len(SQLITE_MAGIC):
            continue
        with path.open("rb") as handle:
            if handle.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                continue
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
        results[path.relative_to(home).as_posix()] = "; ".join(row[0] for row in rows)
    return results


@pytest.mark.timeout(2700)  # an upper bound for a busy shared machine
def test_ten_browser_sessions_run_side_by_side_and_stay_apart(
    load_app: UiApp,
    browser: Browser,
    artifacts: Path,
    tmp_path: Path,
    bundled_embedder: SentenceTransformerEmbedder,
) -> None:
    sessions = []
    for i in range(SESSIONS):
        marker = f"SX{i:02d}"
        sessions.append(
            Session(
                marker=marker,
                csv=write_marked_sentiment_csv(tmp_path / f"reviews-{marker}.csv", marker, seed=i),
                prompt=SEED_PROMPT.format(marker=marker),
                method=METHODS[i % len(METHODS)],
            )
        )

    # Each person opens the app, uploads their file, sets a tiny run and starts it; the
    # earlier runs go on while the later people are still setting up.
    started = time.monotonic()
    for i, session in enumerate(sessions):
        context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
        context.set_default_timeout(60_000)
        session.user = PilotPage(context.new_page(), artifacts, f"load-{session.marker}")
        user = session.user.open(load_app.url)
        user.load_data(session.csv, splits=SPLITS)
        user.settings(budget=BUDGET, seed=i)
        user.choose("optimizer", session.method)
        session.sent = time.monotonic()
        first = user.start_run(session.prompt)
        user.expect_reply(first, r"\S", timeout=120_000)
        session.run = user.expect_run_id(timeout=120_000)
    all_started = time.monotonic() - started

    # Round-robin until every run has ended (the status line is polled, nothing waits on
    # one page while the others' runs go on).
    deadline = time.monotonic() + 2100
    while any(s.ended is None for s in sessions) and time.monotonic() < deadline:
        for session in sessions:
            if session.ended is None:
                assert session.user is not None
                status = session.user.status().inner_text()
                if ENDED.search(status):
                    session.ended, session.status = time.monotonic(), status
        sessions[0].user.page.wait_for_timeout(2000)  # type: ignore[union-attr]
    total = time.monotonic() - started
    pending = [(s.marker, s.run) for s in sessions if s.ended is None]
    assert not pending, f"runs not finished after {total:.0f} s: {pending}"

    runs = [s.run for s in sessions]
    assert len(set(runs)) == SESSIONS, runs
    for session in sessions:
        user = session.user
        assert user is not None
        assert re.search("finished", session.status, re.I), (session.marker, session.status)
        assert user.run_id() == session.run
        assert f"run={session.run}" in user.page.url
        user.tab("Inspect")
        expect(user.candidate_rows().first).to_be_visible(timeout=60_000)
        user.tab("Report")
        expect(user.page.locator("#report")).to_contain_text(session.prompt, timeout=60_000)
        expect(user.page.locator("#report")).to_contain_text(session.run)
        user.tab("Data")
        expect(user.page.locator("#preview")).to_contain_text(session.marker)
        user.assert_no_traceback()
        text = user.page_text() + "\n" + user.field_values()
        assert session.prompt in text
        assert session.run in text  # in the run-id box
        for other in sessions:
            if other is not session:
                assert other.marker not in text, f"{session.marker}'s page shows {other.marker}"
                assert other.run not in text, f"{session.marker}'s page shows {other.run}"
                assert other.run not in user.page.url
    for session in (sessions[0], sessions[-1]):
        assert session.user is not None
        session.user.tab("Report")
        print(f"screenshot: {session.user.screenshot('finished')}")

    log = load_app.stderr_path.read_text(encoding="utf-8", errors="replace")
    log += "".join(load_app.stdout_lines)
    assert "Traceback" not in log, load_app.log_tail()
    assert "database is locked" not in log, load_app.log_tail()

    # After the app stops: every run's report is its own, and the home is intact.
    for session in sessions:
        assert session.user is not None
        session.user.page.context.close()
    assert stop_ui(load_app), load_app.log_tail()
    home = load_app.home
    checks = sqlite_integrity(home)
    assert {"cache.sqlite", "checkpoints.sqlite", "prompts/chroma.sqlite3"} <= set(checks), checks
    assert all(result == "ok" for result in checks.values()), checks
    store = PromptStore.embedded(home / "prompts", bundled_embedder)
    try:
        records = 0
        for session in sessions:
            report = json.loads((home / "runs" / session.run / "report.json").read_text())
            assert report["run"] == session.run
            assert report["seed_prompt"] == session.prompt
            trajectory = store.trajectory(session.run)
            records += len(trajectory)
            texts = {record.text for record in trajectory}
            assert {entry["prompt"] for entry in report["trajectory"]} <= texts, session.run
            for other in sessions:
                if other is not session:
                    assert not any(other.marker in t for t in texts), (session.run, other.marker)
            session.notes.append(
                f"dev queries {report['dev_queries']}, calls task "
                f"{report['usage']['task']['calls']} + optimizer "
                f"{report['usage']['optimizer']['calls']}, best test "
                f"{report['scores']['best']['test']['mean']:.2f}"
            )
        assert store.count() == records, (store.count(), records)
    finally:
        store.close()

    print(f"\n{SESSIONS} sessions: all started in {all_started:.1f} s, all finished in "
          f"{total:.1f} s; prompt memory {records} records")  # fmt: skip
    print(f"SQLite files ok: {sorted(checks)}")
    for session in sessions:
        assert session.ended is not None
        print(f"  {session.marker} {session.method:<6} {session.run:<44} "
              f"{session.ended - session.sent:6.1f} s  {'; '.join(session.notes)}")  # fmt: skip
