"""One person's view of the app in Chromium, spoken in the UI contract's elem_ids.

Gradio renders a component with ``elem_id=X`` as an element with ``id="X"``; its
input sits inside (``#X textarea``, ``#X input``). Tabs are mounted when first
opened, so :meth:`PilotPage.tab` comes before using a component inside one.
Everything waits with Playwright's auto-waiting ``expect``; nothing sleeps.
"""

from __future__ import annotations

import re
from pathlib import Path

from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout

TRACEBACK_MARKS = ("Traceback (most recent call last)", 'File "')


class PilotPage:
    """A Playwright page on the PromptPilot app, plus where its screenshots go."""

    def __init__(self, page: Page, shots: Path, name: str) -> None:
        self.page = page
        self.shots = shots
        self.name = name

    # navigation ---------------------------------------------------------------------------

    def open(self, url: str) -> PilotPage:
        """Load the app and wait until the chat is on screen."""
        self.page.goto(url)
        expect(self.page.locator("#chat")).to_be_visible(timeout=60_000)
        expect(self.page.locator("#chat-input textarea")).to_be_editable()
        return self

    def tab(self, label: str) -> None:
        """Open the tab labelled ``label`` (its components mount on first open)."""
        tab = self.page.get_by_role("tab", name=label, exact=True)
        more = self.page.get_by_role("button", name="More tabs")
        expect(tab.or_(more).first).to_be_visible()
        if not tab.is_visible():  # Gradio folds tabs that do not fit into a "More tabs" menu
            more.click()
        tab.click()
        expect(tab).to_have_attribute("aria-selected", "true")

    # inputs -------------------------------------------------------------------------------

    def upload(self, path: Path) -> None:
        """Give the Data panel's ``upload`` a file, as a click on the drop zone would."""
        zone = self.page.locator("#upload")
        expect(zone).to_be_visible()
        picker = zone.locator("input[type=file]")
        if picker.count() == 0:  # the last file is still shown: clear it, as a person would
            zone.get_by_role("button", name="Clear").click()
        picker.set_input_files(str(path))

    def fill(self, elem_id: str, value: object) -> None:
        """Type ``value`` into a Textbox or Number and leave the field (its change fires)."""
        field = self.page.locator(f"#{elem_id} :is(textarea, input)").first
        field.fill(str(value))
        field.press("Tab")
        expect(field).to_have_value(str(value))

    def choose(self, elem_id: str, value: str) -> None:
        """Pick ``value`` in a Dropdown, unless it is already the choice."""
        field = self.page.locator(f"#{elem_id} input").first
        if field.input_value() == value:
            return
        field.click()
        self.page.get_by_role("option", name=value, exact=True).click()
        expect(field).to_have_value(value)

    def click(self, elem_id: str) -> None:
        """Click a button (or the button inside a block) by elem_id."""
        target = self.page.locator(f"#{elem_id}")
        if target.evaluate("e => e.tagName") != "BUTTON":
            target = target.locator("button").first
        target.click()

    def send(self, text: str) -> int:
        """Type ``text`` in the chat and send it; the index its answers will start at."""
        before = self.bot_messages().count()
        self.page.locator("#chat-input textarea").fill(text)
        self.click("send")
        user = self.page.locator("#chat [data-testid=user]").filter(has_text=text)
        expect(user.last).to_be_visible(timeout=30_000)
        return before

    def propose(self, prompt: str) -> int:
        """Send a prompt: the assistant shows the plan, cost and time, and starts nothing yet."""
        after = self.send(prompt)
        self.expect_reply(after, r"say yes or press start", timeout=60_000)
        expect(self.page.locator("#start")).to_be_visible(timeout=30_000)
        return after

    def start_run(self, prompt: str) -> int:
        """Send a prompt and press Start; the index the run's messages start after."""
        after = self.propose(prompt)
        self.click("start")
        expect(self.page.locator("#start")).to_be_hidden(timeout=30_000)
        return after

    def load_data(self, path: Path, *, splits: tuple[int, int, int] = (10, 8, 12)) -> None:
        """Upload a ``text,label`` eval set on the Data tab and set small train/dev/test splits."""
        self.tab("Data")
        self.upload(path)
        expect(self.page.locator("#data-status")).to_contain_text(
            re.compile(rf"Loaded \d+ examples from {re.escape(path.name)}"), timeout=60_000
        )
        self.choose("input-column", "text")
        self.choose("target-column", "label")
        self.choose("metric", "exact")
        for elem_id, size in zip(("split-train", "split-dev", "split-test"), splits, strict=True):
            self.fill(elem_id, size)

    def settings(self, **values: object) -> None:
        """Fill Settings fields by elem_id (underscores for dashes: ``task_url=…``)."""
        self.tab("Settings")
        for key, value in values.items():
            self.fill(key.replace("_", "-"), value)

    # what the page shows ------------------------------------------------------------------

    def bot_messages(self) -> Locator:
        """The assistant's messages in the chat, oldest first."""
        return self.page.locator("#chat [data-testid=bot]")

    def expect_reply(self, after: int, pattern: str, timeout: float) -> str:
        """Wait for an assistant message at index ``after`` or later matching the JS regex
        ``pattern`` (case-insensitive); its text."""
        try:
            found = self.page.wait_for_function(
                """([after, source]) => {
                    const re = new RegExp(source, "i");
                    const bots = [...document.querySelectorAll("#chat [data-testid=bot]")];
                    const hit = bots.slice(after).find((b) => re.test(b.textContent));
                    return hit ? hit.textContent : false;
                }""",
                arg=[after, pattern],
                timeout=timeout,
            )
        except PlaywrightTimeout:
            chat = self.page.locator("#chat").text_content() or ""
            raise AssertionError(
                f"no assistant message from #{after} on matched /{pattern}/i within "
                f"{timeout / 1000:.0f} s; the chat reads:\n{chat[-3000:]}"
            ) from None
        return str(found.json_value())

    def run_id(self) -> str:
        """The run id shown in the read-only ``run-id`` box ('' before a run)."""
        return self.page.locator("#run-id :is(textarea, input)").first.input_value().strip()

    def expect_run_id(self, timeout: float = 60_000) -> str:
        """Wait until a run id is shown and the page URL carries it as ``?run=ID``."""
        box = self.page.locator("#run-id :is(textarea, input)").first
        expect(box).to_have_value(re.compile(r"\S"), timeout=timeout)
        run = self.run_id()
        expect(self.page).to_have_url(re.compile(r"[?&]run=" + re.escape(run) + r"(&|$)"))
        return run

    def status(self) -> Locator:
        """The run status line (``running · step N · best dev X``, ``finished``, …)."""
        return self.page.locator("#status")

    def is_running(self) -> bool:
        """True while the status says the run is going (starting, running, paused, waiting)."""
        text = self.status().inner_text()
        return re.search(r"starting|running|paused|waiting", text, re.I) is not None

    def expect_progress(self, timeout: float) -> None:
        """Wait until the budget meter counts more LLM calls than at first, or the run ends."""
        calls = """(() => {
            const meter = document.querySelector("#budget-meter");
            const match = meter && meter.textContent.match(/calls\\D*?([\\d,]+)/i);
            return match ? Number(match[1].replaceAll(",", "")) : null;
        })()"""
        ended = '/finished|stopped/i.test(document.querySelector("#status").textContent)'
        try:
            self.page.wait_for_function(f"{calls} !== null || {ended}", timeout=timeout)
            start = self.page.evaluate(calls)
            if start is not None:
                self.page.wait_for_function(f"{calls} > {int(start)} || {ended}", timeout=timeout)
        except PlaywrightTimeout:
            raise AssertionError(
                f"the budget meter counted no new LLM call within {timeout / 1000:.0f} s; "
                f"status: {self.status().inner_text()!r}"
            ) from None

    def candidate_rows(self) -> Locator:
        """The first cell of every row of the Inspect panel's candidate table."""
        return self.page.locator('#candidates [role=gridcell][data-col="0"]').filter(
            has_text=re.compile(r"\S")
        )

    def candidate_column(self, col: int) -> list[float]:
        """The numbers in column ``col`` of the candidate table, top to bottom."""
        cells = self.page.locator(f'#candidates [role=gridcell][data-col="{col}"]')
        return [float(text) for text in cells.all_inner_texts() if text.strip()]

    def sort_candidates(self, header: str) -> None:
        """One click on a header of the candidate table; waits until its menu has closed."""
        self.page.locator("#candidates th").filter(has_text=header).first.click()
        expect(self.page.locator(".cell-menu")).to_have_count(0, timeout=5_000)

    def expect_plot_drawn(self, elem_id: str, timeout: float) -> None:
        """Wait until the plot ``elem_id`` shows an image with colour in it (marks, lines).

        A placeholder figure ("no scores yet") is grey text on white; a plot of scores
        has coloured lines and markers. The pixels are read in the page from a canvas.
        """
        script = """(id) => {
            const img = document.querySelector(`#${id} img`);
            if (!img || !img.complete || !img.naturalWidth) return false;
            const canvas = document.createElement("canvas");
            canvas.width = img.naturalWidth;
            canvas.height = img.naturalHeight;
            const context = canvas.getContext("2d");
            context.drawImage(img, 0, 0);
            const rgba = context.getImageData(0, 0, canvas.width, canvas.height).data;
            let coloured = 0;
            for (let i = 0; i < rgba.length; i += 4) {
                const high = Math.max(rgba[i], rgba[i + 1], rgba[i + 2]);
                const low = Math.min(rgba[i], rgba[i + 1], rgba[i + 2]);
                if (high - low > 80) coloured += 1;
            }
            return coloured > 100;
        }"""
        try:
            self.page.wait_for_function(script, arg=elem_id, timeout=timeout, polling=1000)
        except PlaywrightTimeout:
            raise AssertionError(
                f"#{elem_id} drew no coloured marks within {timeout / 1000:.0f} s"
            ) from None

    def download(self, elem_id: str, into: Path) -> Path:
        """Click a DownloadButton (or a gr.File's link) and save what the browser got."""
        target = self.page.locator(f"#{elem_id}")
        if target.evaluate("e => e.tagName") not in ("BUTTON", "A"):
            target = target.locator("a[download], a[href], button").first
        with self.page.expect_download(timeout=30_000) as info:
            target.click()
        path = into / info.value.suggested_filename
        info.value.save_as(path)
        return path

    def page_text(self) -> str:
        """Everything a person can read, plus collapsed chat messages."""
        body = self.page.locator("body").inner_text()
        chat = self.page.locator("#chat").text_content() or ""
        return body + "\n" + chat

    def assert_no_traceback(self) -> None:
        """A person never sees Python's stack trace, whatever went wrong."""
        text = self.page_text()
        for mark in TRACEBACK_MARKS:
            assert mark not in text, f"the page shows a traceback ({mark!r}):\n{text[-3000:]}"

    def screenshot(self, state: str) -> Path:
        """Save the whole page as ``<name>-<state>.png`` in the artefacts directory."""
        path = self.shots / f"{self.name}-{state}.png"
        self.page.screenshot(path=path, full_page=True)
        return path

    def field_values(self) -> str:
        """The values of every input and text area (a run id box, a prompt being typed):
        text a person sees that ``inner_text`` leaves out."""
        values = self.page.eval_on_selector_all(
            "input, textarea", "els => els.map((e) => e.value || '')"
        )
        return "\n".join(str(value) for value in values)
