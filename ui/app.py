"""The Gradio app: event handlers that call ``agent`` functions, and their wiring.

Per-browser data lives in ``gr.State`` (a :class:`~ui.chat.conversation.Conversation`
each); runs live in the shared :class:`~ui.live_runs.LiveRuns` registry, keyed by
run id, which is also in the page URL (``?run=ID``) so a reload finds its run. A
1-second timer re-renders what changed (the view's version) and never blocks: runs
go on in their own threads.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from optimizers.tasks import DataError
from ui.chat.conversation import (
    Conversation,
    attach,
    choose_data,
    open_run,
    respond,
    start_pending,
)
from ui.chat.form import ModelForm, RunForm
from ui.chat.text import WELCOME, escape_markdown, message
from ui.chat.uploads import (
    DataPreview,
    data_error_text,
    preview_data,
    request_preview,
    store_upload,
)
from ui.layout import CSS as LAYOUT_CSS
from ui.layout import NO_REPORT, SORT_ON_CLICK, Layout, build_layout
from ui.live_run import ACTIVE
from ui.live_runs import LiveRuns
from ui.panels import inspect as rv
from ui.panels.figures import map_figure, score_figure
from ui.panels.report_markdown import report_markdown, write_report_files
from ui.panels.run_view import RunView
from ui.panels.stored_view import run_table

SET_URL = """(run) => {
  if (run) {
    const url = new URL(window.location.href);
    if (url.searchParams.get("run") !== run) {
      url.searchParams.set("run", run);
      window.history.replaceState(null, "", url);
    }
  }
  return [];
}"""

# The chat's trash icon has emptied the display already when its event runs: ask first, and
# send the answer (the handler puts the chat back on a no). Only the display is cleared.
CONFIRM_CLEAR = """(conv, ok) => [conv, window.confirm(
  "Clear the chat display? Nothing is deleted: your run goes on, and the conversation "
  + "comes back with your next message or a reload."
)]"""

# Trackers of events shown with show_progress="hidden" are only transparent: take them out of
# the text of their component too (what a screen reader or a test reads).
CSS = """
#status { padding: 8px 12px; }
#status p { margin: 0; }
[data-testid="status-tracker"].hidden { display: none !important; }
"""


Values = dict[Any, Any]
"""What an event's inputs hold, keyed by component (Gradio passes a dict for a set)."""
Updates = dict[Any, Any]
"""What a handler changes, keyed by component; components left out stay as they are."""


def make_form(ui: Layout, values: Values) -> RunForm:
    """The panels' values as a :class:`RunForm`, read by component."""

    def text(component: Any) -> str:
        return values[component] or ""

    return RunForm(
        input_column=values[ui.input_col] or None,
        target_column=values[ui.target_col] or None,
        metric=values[ui.metric],
        train=values[ui.train],
        dev=values[ui.dev],
        test=values[ui.test],
        template=values[ui.template] or "inline",
        budget=values[ui.budget],
        seed=values[ui.seed],
        optimizer=values[ui.optimizer],
        task_model=ModelForm(
            url=text(ui.task_url), model=text(ui.task_model), key=text(ui.task_key)
        ),
        optimizer_model=ModelForm(
            url=text(ui.opt_url), model=text(ui.opt_model), key=text(ui.opt_key)
        ),
    )


def problem_text(error: DataError | ValueError, label: str) -> str:
    """A load error as the Data panel shows it (Markdown-escaped; a DataError names the file)."""
    if isinstance(error, DataError):
        return escape_markdown(data_error_text(error, label))
    return escape_markdown(str(error))


class Handlers:
    """The app's event handlers over one :class:`LiveRuns` registry and one page layout."""

    def __init__(self, runs: LiveRuns, downloads: Path, ui: Layout) -> None:
        self.runs = runs
        self.downloads = downloads
        self.ui = ui

    def _view(self, conv: Conversation) -> RunView | None:
        return self.runs.view(conv.run) if conv.run else None

    def chat_and_status(self, conv: Conversation) -> Updates:
        """The chat, the run id and the status line."""
        view, ui = self._view(conv), self.ui
        return {
            ui.chat: conv.messages(view),
            ui.run_id: conv.run or "",
            ui.status: escape_markdown(rv.status_line(view)),
            ui.start: gr.update(visible=conv.pending is not None),
        }

    def preview(self, preview: DataPreview) -> Updates:
        """Data panel values for a loaded eval set: table, both column menus, status."""
        ui = self.ui
        return {
            ui.preview: pd.DataFrame(preview.rows, columns=preview.columns),
            ui.input_col: gr.update(choices=preview.columns, value=preview.input_column),
            ui.target_col: gr.update(choices=preview.columns, value=preview.target_column),
            ui.data_status: preview.status,
        }

    def run_data(self, conv: Conversation) -> Updates:
        """The Data panel for the attached run's data, with its columns and split sizes.

        A reloaded page or a run opened from Runs shows the data the run uses (and the
        session goes on with it); nothing when the session's data is not the run's.
        """
        view, ui = self._view(conv), self.ui
        if view is None or not view.data or view.data != conv.data:
            return {}
        try:
            preview, split = request_preview(view.request)
        except (DataError, ValueError) as exc:
            return {ui.data_status: f"⚠️ {problem_text(exc, conv.data_label)}"}
        choose_data(conv, preview)
        sizes = {ui.train: split.train, ui.dev: split.dev, ui.test: split.test}
        return {**self.preview(preview), **sizes}

    def load(self, conv: Conversation, request: gr.Request) -> Updates:
        """A page (re)load: greet, and reattach the run named in ``?run=`` (and its data)."""
        if not conv.history:
            conv.history = [message(WELCOME)]
        run = (request.query_params.get("run") or "").strip() if request else ""
        if run and not attach(conv, run, self.runs):
            conv.tail.append(message(f"There is no run {escape_markdown(run)} here."))
        ui = self.ui
        return {
            ui.conv: conv,
            **self.chat_and_status(conv),
            ui.run_list: run_table(self.runs.workspace.runs),
            **self.run_data(conv),
        }

    def clear_chat(self, conv: Conversation, confirmed: bool) -> Updates:
        """The chat's trash icon, once the browser asked (:data:`CONFIRM_CLEAR`).

        A yes leaves the display empty, a no puts the chat back; the session's messages and
        its run are kept either way.
        """
        chat = self.ui.chat
        return {chat: gr.skip() if confirmed else conv.messages(self._view(conv))}

    def send(self, values: Values, *, text: str | None = None) -> Updates:
        """A chat message: typed (the input box), or ``text`` from a quick command."""
        ui = self.ui
        conv: Conversation = values[ui.conv]
        said = values[ui.chat_input] if text is None else text
        try:
            preview = respond(conv, said, make_form(ui, values), self.runs)
        except ValueError as exc:  # a form value the widgets let through
            conv.say(said, f"⚠️ {escape_markdown(str(exc))}")
            preview = None
        data = self.preview(preview) if preview else {}
        return {ui.chat_input: "", ui.conv: conv, **self.chat_and_status(conv), **data}

    def start(self, values: Values) -> Updates:
        """The Start button: run the proposed prompt (as "yes" would)."""
        ui = self.ui
        conv: Conversation = values[ui.conv]
        try:
            start_pending(conv, make_form(ui, values), self.runs)
        except ValueError as exc:  # a form value the widgets let through
            conv.say("", f"⚠️ {escape_markdown(str(exc))}")
        return {ui.conv: conv, **self.chat_and_status(conv)}

    def upload(self, values: Values) -> Updates:
        """A file dropped on the Data panel: keep it, preview it, or say what is wrong."""
        ui = self.ui
        file, conv = values[ui.upload], values[ui.conv]
        if not file:
            return {ui.conv: conv}
        name = Path(file).name
        try:
            stored = store_upload(Path(file), self.runs.home, name=name)
            split = make_form(ui, values).split_spec()
            preview = preview_data(str(stored), split=split, label=name)
        except (DataError, ValueError) as exc:
            problem = data_error_text(exc, name) if isinstance(exc, DataError) else str(exc)
            still = f" The data is still {escape_markdown(conv.data_label)}." if conv.data else ""
            reply = f"⚠️ I can't use {escape_markdown(name)}: {escape_markdown(problem)}{still}"
            conv.tail.append(message(reply))
            chat = self.chat_and_status(conv)[ui.chat]
            status = f"⚠️ {escape_markdown(problem)}{still}"
            return {ui.conv: conv, ui.chat: chat, ui.data_status: status}
        choose_data(conv, preview)
        conv.tail.append(message(f"{preview.status} Now send the prompt you want to improve."))
        chat = self.chat_and_status(conv)[ui.chat]
        return {ui.conv: conv, ui.chat: chat, **self.preview(preview)}

    def data_options(self, values: Values) -> Updates:
        """Columns or split sizes changed: reload the data with them, say what it gives."""
        ui = self.ui
        conv: Conversation = values[ui.conv]
        if conv.data is None:
            return {ui.data_status: gr.skip()}  # (an empty dict would read as one value)
        try:
            form = make_form(ui, values)
            preview = preview_data(
                conv.data, columns=form.columns(), split=form.split_spec(), label=conv.data_label
            )
        except (DataError, ValueError) as exc:
            return {ui.data_status: f"⚠️ {problem_text(exc, conv.data_label)}"}
        return {ui.data_status: preview.status}

    def refresh(self, conv: Conversation, seen: dict[str, Any]) -> Updates:
        """The timer: re-render what changed since this page last saw the run."""
        view, ui = self._view(conv), self.ui
        unchanged = {ui.status: gr.skip()}  # Gradio reads an empty dict as one value
        if view is None:
            return unchanged
        changed = seen.get("run") != view.run or seen.get("version") != view.version
        if not changed and view.status not in ACTIVE:
            return unchanged
        status = escape_markdown(rv.status_line(view))
        if not changed:  # time passes while a run goes on: the meter and status stay fresh
            return {ui.status: status, ui.budget_meter: rv.budget_markdown(view)}
        trajectory, report = view.trajectory, view.report
        files: tuple[str | None, str | None] = (None, None)
        if report is not None:
            json_file, md_file = write_report_files(report, self.downloads)
            files = (str(json_file), str(md_file))
        return {
            ui.seen: {"run": view.run, "version": view.version},
            ui.chat: conv.messages(view),
            ui.run_id: view.run,
            ui.status: status,
            ui.score_plot: score_figure(rv.score_series(trajectory, view.best_prompt)),
            ui.candidates: pd.DataFrame(
                rv.candidate_rows(trajectory), columns=rv.CANDIDATE_HEADERS
            ),
            ui.diff: rv.word_diff(view.seed_prompt, view.best_prompt) if trajectory else [],
            ui.examples: pd.DataFrame(rv.example_rows(view.examples), columns=rv.EXAMPLE_HEADERS),
            ui.embedding_map: map_figure(view.map),
            ui.report: report_markdown(report) if report is not None else NO_REPORT,
            ui.download_json: gr.update(value=files[0], interactive=files[0] is not None),
            ui.download_md: gr.update(value=files[1], interactive=files[1] is not None),
            ui.budget_meter: rv.budget_markdown(view),
        }

    def open(self, values: Values) -> Updates:
        """The Runs panel's button: show (and resume, if unfinished) the picked run."""
        ui = self.ui
        conv: Conversation = values[ui.conv]
        shown = conv.run
        try:
            reply = open_run(conv, values[ui.run_pick] or "", make_form(ui, values), self.runs)
        except ValueError as exc:
            reply = f"⚠️ {escape_markdown(str(exc))}"
        conv.tail.append(message(reply))
        data = self.run_data(conv) if conv.run != shown else {}  # another run: its data
        return {ui.conv: conv, **self.chat_and_status(conv), ui.seen: {}, **data}

    @staticmethod
    def pick(evt: gr.SelectData, table: pd.DataFrame | None) -> str:
        """A click in the run list picks that row's run id."""
        row = evt.index[0] if isinstance(evt.index, list | tuple) else evt.index
        return str(table.iloc[row, 0]) if table is not None and len(table) > row else ""


def wire(app: gr.Blocks, ui: Layout, on: Handlers) -> None:
    """Bind every event of ``ui`` to ``on``: inputs and outputs by component, not position."""
    conv, seen = ui.conv, ui.seen
    form = {conv, *ui.form}
    data = [ui.preview, ui.input_col, ui.target_col, ui.data_status]
    chat = [conv, ui.chat, ui.run_id, ui.status, ui.start]
    sent = [ui.chat_input, *chat, *data]
    quiet = {"show_progress": "minimal", "show_progress_on": [ui.chat]}
    splits = [ui.train, ui.dev, ui.test]
    app.load(on.load, [conv], [*chat, ui.run_list, *data, *splits], show_progress="hidden")
    ui.send.click(on.send, {ui.chat_input, *form}, sent, **quiet)
    ui.chat_input.submit(on.send, {ui.chat_input, *form}, sent, **quiet)
    ui.start.click(on.start, form, chat, **quiet)
    ui.chat.clear(
        on.clear_chat, [conv, ui.clear_ok], [ui.chat], js=CONFIRM_CLEAR, show_progress="hidden"
    )
    for button, text in ui.commands:
        button.click(lambda v, _t=text: on.send(v, text=_t), form, sent, **quiet)
    ui.accept.click(
        lambda v: on.send(v, text=f"accept {int(v[ui.number] or 0)}"),
        {ui.number, *form}, sent, **quiet,
    )  # fmt: skip
    ui.rollback.click(
        lambda v: on.send(v, text=f"roll back to {int(v[ui.number] or 0)}"),
        {ui.number, *form}, sent, **quiet,
    )  # fmt: skip
    ui.upload.upload(
        on.upload, {ui.upload, *form}, [conv, ui.chat, *data], show_progress_on=[ui.preview]
    )
    for control in (ui.input_col, ui.target_col, ui.train, ui.dev, ui.test, ui.seed):
        control.input(on.data_options, form, [ui.data_status], show_progress="hidden")
    ui.run_id.change(None, [ui.run_id], None, js=SET_URL)
    shown = [
        seen, ui.chat, ui.run_id, ui.status, ui.score_plot, ui.candidates, ui.diff,
        ui.examples, ui.embedding_map, ui.report, ui.download_json, ui.download_md,
        ui.budget_meter,
    ]  # fmt: skip
    refresh = {"show_progress": "hidden", "concurrency_limit": None}
    gr.Timer(1.0).tick(on.refresh, [conv, seen], shown, trigger_mode="once", **refresh)
    # A tab's components mount when it is first opened, without what was sent while they
    # were not there: opening Inspect or Report renders the run again.
    for tab in (ui.inspect_tab, ui.report_tab):
        tab.select(lambda c: on.refresh(c, {}), [conv], shown, **refresh)
    ui.runs_tab.select(
        lambda: run_table(on.runs.workspace.runs), None, [ui.run_list], show_progress="hidden"
    )
    ui.run_list.select(on.pick, [ui.run_list], [ui.run_pick])
    ui.resume_run.click(on.open, {ui.run_pick, *form}, [*chat, seen, *data, *splits])


def build_app(runs: LiveRuns, *, downloads: Path | None = None) -> gr.Blocks:
    """The app over ``runs`` (which holds the home, the default models and the shared server)."""
    downloads = downloads or Path(tempfile.mkdtemp(prefix="promptpilot-reports-"))
    with gr.Blocks(title="PromptPilot", analytics_enabled=False) as app:
        ui = build_layout(runs.defaults)
        wire(app, ui, Handlers(runs, downloads, ui))
    return app


def launch(app: gr.Blocks, *, host: str, port: int, auth: tuple[str, str] | None = None) -> None:
    """Serve ``app`` without blocking (the caller waits for a signal, then closes it)."""
    app.queue(default_concurrency_limit=4)
    theme = gr.themes.Soft(
        font=["ui-sans-serif", "system-ui", "sans-serif"], font_mono=["ui-monospace", "monospace"]
    )  # system fonts: nothing is fetched from the internet
    app.launch(
        server_name=host,
        server_port=port,
        auth=auth,
        max_file_size="20mb",
        prevent_thread_lock=True,
        quiet=True,
        show_error=False,
        inbrowser=False,
        css=CSS + LAYOUT_CSS,
        js=SORT_ON_CLICK,
        theme=theme,
    )
