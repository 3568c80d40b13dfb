"""The Gradio layer: the contract's element ids, the handlers' glue, the ``ui`` command's guards."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from agent.llm.local_server import is_loopback
from agent.llm.runtime import RuntimeSettings
from tests.unit.ui.test_ui_report import REPORT
from ui.chat.conversation import Conversation
from ui.cli import app as cli
from ui.cli import check_exposure, parse_auth
from ui.live_runs import LiveRuns
from ui.panels.run_view import RunView
from ui.panels.stored_view import save_view

gr = pytest.importorskip("gradio")

CONTRACT = (
    "upload",
    "preview",
    "input-column",
    "target-column",
    "metric",
    "split-train",
    "split-dev",
    "split-test",
    "data-status",
    "chat",
    "chat-input",
    "send",
    "cmd-pause",
    "cmd-resume",
    "cmd-stop",
    "cmd-gpo",
    "cmd-zopo",
    "cmd-textgrad",
    "run-id",
    "status",
    "score-plot",
    "candidates",
    "accept",
    "candidate-number",
    "rollback",
    "diff",
    "examples",
    "embedding-map",
    "budget-meter",
    "report",
    "download-json",
    "download-md",
    "task-url",
    "task-model",
    "task-key",
    "optimizer-url",
    "optimizer-model",
    "optimizer-key",
    "template",
    "budget",
    "seed",
    "optimizer",
    "runs",
    "run-pick",
    "resume-run",
)

DATA = Path(__file__).resolve().parents[2] / "data"


@pytest.fixture
def runs(tmp_path, bundled_embedder):
    return LiveRuns(tmp_path / "home", RuntimeSettings(), embedder=bundled_embedder)


def test_every_contract_element_is_there_once_per_tab(runs):
    from ui.app import build_app

    app = build_app(runs)
    ids = [b.elem_id for b in app.blocks.values() if getattr(b, "elem_id", None)]
    assert set(CONTRACT) <= set(ids)
    assert len(ids) == len(set(ids)), "element ids must be unique on the page"
    keys = [b for b in app.blocks.values() if b.elem_id in ("task-key", "optimizer-key")]
    assert all(b.type == "password" and not b.value for b in keys)
    commands = {
        b.elem_id: b.value for b in app.blocks.values() if str(b.elem_id).startswith("cmd-")
    }
    assert commands["cmd-textgrad"] == "Try TextGrad"


def page(runs, downloads):
    """The page's components and its handlers, as the app builds them."""
    from ui.app import Handlers
    from ui.layout import build_layout

    with gr.Blocks():
        ui = build_layout(runs.defaults)
    return ui, Handlers(runs, downloads, ui)


def test_refresh_renders_a_finished_run_once_then_skips(runs, tmp_path):
    view = RunView.new(REPORT["run"], REPORT["config"] | {"prompt": REPORT["seed_prompt"]}, [])
    view.take_report(REPORT)
    view.status, view.version = "finished", 7
    save_view(runs.home, view)
    ui, handlers = page(runs, tmp_path / "downloads")
    conv = Conversation(run=REPORT["run"])
    first = handlers.refresh(conv, {})
    assert first[ui.seen] == {"run": REPORT["run"], "version": 7}
    assert (first[ui.run_id], first[ui.status]) == (REPORT["run"], "finished")
    assert first[ui.report].startswith("# PromptPilot report")
    assert Path(first[ui.download_json]["value"]).read_text(encoding="utf-8").startswith("{")
    assert Path(first[ui.download_md]["value"]).suffix == ".md"
    again = handlers.refresh(conv, first[ui.seen])  # nothing changed: nothing sent
    assert all(isinstance(value, type(gr.skip())) for value in again.values())
    # never an empty dict: Gradio would read it as one value for thirteen outputs
    for nothing in (again, handlers.refresh(Conversation(), {})):
        assert nothing
        assert set(nothing) <= {ui.status}


def form_values(ui):
    """The panels' default values, keyed by component (as an event passes them)."""
    defaults = [None, None, "exact", 0.2, 0.4, 0.4, "inline", 20, 0, "auto", "", "", "", "", "", ""]
    return dict(zip(ui.form, defaults, strict=True))


def test_a_malformed_upload_is_a_chat_message_and_a_status(runs):
    ui, handlers = page(runs, runs.home)
    conv = Conversation()
    form = form_values(ui)
    bad = str(DATA / "bad" / "unclosed_quote.csv")
    out = handlers.upload({ui.upload: bad, ui.conv: conv, **form})
    assert out[ui.data_status].startswith("⚠️ unclosed\\_quote\\.csv")
    assert "I can't use" in out[ui.chat][-1]["content"]
    assert conv.data is None
    good = handlers.upload({ui.upload: str(DATA / "good" / "reviews.csv"), ui.conv: conv, **form})
    assert list(good[ui.preview].columns) == ["input", "output", "notes"]
    assert conv.data.endswith("reviews.csv")


def test_a_file_of_another_type_reaches_the_handler_and_replaces_the_status(runs, tmp_path):
    """Gradio's own file_types check refused a .txt with a passing toast and no event, so
    the last file's error stayed on screen and the chat heard nothing."""
    ui, handlers = page(runs, runs.home)
    assert ui.upload.file_types is None  # every file reaches the upload handler
    assert "CSV, TSV, JSONL, JSON" in ui.upload.label
    conv, form = Conversation(), form_values(ui)
    notes = tmp_path / "notes.txt"
    notes.write_text("some notes\n", encoding="utf-8")

    def upload(path):
        return handlers.upload({ui.upload: str(path), ui.conv: conv, **form})

    assert "unclosed" in upload(DATA / "bad" / "unclosed_quote.csv")[ui.data_status]
    out = upload(notes)
    status = out[ui.data_status].replace("\\", "")  # as shown: the escapes are gone
    assert status.startswith("⚠️ notes.txt: unsupported file type: expected .csv")
    assert "unclosed" not in status
    assert out[ui.chat][-1]["content"].replace("\\", "").startswith("⚠️ I can't use notes.txt")
    # after a good file, a refused one says the data has not changed
    upload(DATA / "good" / "reviews.csv")
    again = upload(notes)
    assert again[ui.data_status].replace("\\", "").endswith("The data is still reviews.csv.")
    assert conv.data.endswith("reviews.csv")


def test_loopback_and_auth_rules():
    assert is_loopback("127.0.0.1")
    assert is_loopback("localhost")
    assert is_loopback("::1")
    assert not is_loopback("0.0.0.0")
    assert not is_loopback("example.com")
    assert parse_auth("ann:s3cret:x") == ("ann", "s3cret:x")
    assert parse_auth(None) is None
    with pytest.raises(typer.BadParameter, match="user:password"):
        parse_auth("ann")
    check_exposure("0.0.0.0", ("ann", "pw"))  # allowed with a login
    with pytest.raises(typer.BadParameter, match="reachable from other machines"):
        check_exposure("0.0.0.0", None)


def test_the_ui_command_refuses_an_open_host_without_auth(tmp_path):
    result = CliRunner().invoke(cli, ["ui", "--host", "0.0.0.0", "--home", str(tmp_path)])
    assert result.exit_code == 2
    assert "--auth" in result.output


def test_the_page_load_is_the_only_load_event(runs):
    """Session-state factories add load events that raced ``on.load`` (seen in CI: a
    reloaded page kept a blank conversation and never showed its run again)."""
    from ui.app import build_app

    app = build_app(runs)
    loads = [d for d in app.config["dependencies"] if d["targets"][0][1] == "load"]
    assert len(loads) == 1, loads


def test_a_candidates_header_click_sorts(runs, monkeypatch):
    """Gradio 6 sorts a table from a header's menu (Sort ascending / descending), shown on
    hover as a small button and only when columns are "dynamic"; the page's CSS spreads
    that button over the whole header and its script picks the sort item at once (the
    browser test clicks it)."""
    from ui.app import build_app, launch
    from ui.layout import CSS, SORT_ON_CLICK

    app = build_app(runs)
    table = next(b for b in app.blocks.values() if b.elem_id == "candidates")
    assert "click a header to sort" in table.label
    assert table.col_count[1] == "dynamic"  # (fixed columns have no header menu)
    assert "#candidates th .cell-menu-button" in CSS
    assert '"Sort " + direction' in SORT_ON_CLICK
    launched = {}
    monkeypatch.setattr(app, "launch", lambda **kwargs: launched.update(kwargs))
    launch(app, host="127.0.0.1", port=0)
    assert CSS in launched["css"]
    assert launched["js"] == SORT_ON_CLICK


def test_the_chat_label_sits_above_the_messages_and_the_placeholder_fits(runs):
    from ui.app import build_app
    from ui.layout import CSS

    app = build_app(runs)
    chat_input = next(b for b in app.blocks.values() if b.elem_id == "chat-input")
    assert chat_input.placeholder == "Your prompt to improve, or a question"
    assert len(chat_input.placeholder) <= 40  # the input's default width shows ~40 characters
    # Gradio floats the label over the scrolling log; the page's CSS puts it in a band above
    assert '#chat label[data-testid="block-label"]' in CSS
    assert "position: static" in CSS.split('#chat [role="log"]')[0]


class Reload:
    """What ``load`` reads of a page's request: its query (``?run=ID``)."""

    def __init__(self, run: str) -> None:
        self.query_params = {"run": run}


def test_a_reloaded_page_or_an_opened_run_shows_the_run_s_data(runs, tmp_path):
    """The Data panel said "No data yet" after a reload, though the run used the file."""
    ui, handlers = page(runs, tmp_path / "downloads")
    request = {
        "data": str(DATA / "good" / "reviews.csv"),
        "prompt": "Is it positive?",
        "columns": {"input": "input", "target": "output"},
        "split_spec": {"train": 2, "dev": 3, "test": 4, "seed": 0},
    }
    view = RunView.new("reviews-gpo-1", request, [])
    view.status = "finished"
    save_view(runs.home, view)
    out = handlers.load(Conversation(), Reload("reviews-gpo-1"))
    conv = out[ui.conv]
    assert conv.data == request["data"]
    assert out[ui.data_status].replace("\\", "").startswith("Loaded 9 examples from reviews.csv")
    assert "2 train · 3 dev · 4 test" in out[ui.data_status]
    assert list(out[ui.preview].columns) == ["input", "output", "notes"]
    assert (out[ui.input_col]["value"], out[ui.target_col]["value"]) == ("input", "output")
    assert (out[ui.train], out[ui.dev], out[ui.test]) == (2, 3, 4)
    # a page without a run keeps the Data panel as it is
    assert ui.data_status not in handlers.load(Conversation(), Reload(""))
    # the Runs panel's Open: the other run's data replaces the session's
    other = {**request, "data": "builtin:review_sentiment", "columns": {}}
    view = RunView.new("review_sentiment-gpo-2", other, [])
    view.status = "finished"
    save_view(runs.home, view)
    picked = {ui.run_pick: "review_sentiment-gpo-2", ui.conv: conv, **form_values(ui)}
    opened = handlers.open(picked)
    assert conv.data == "builtin:review_sentiment"
    assert "the built-in review_sentiment task" in opened[ui.data_status].replace("\\", "")
    again = handlers.open(picked)
    assert ui.data_status not in again  # the same run: the panel is left as it is


def test_the_page_load_and_the_runs_open_button_write_the_data_panel(runs):
    from ui.app import build_app

    app = build_app(runs)
    names = {block_id: b.elem_id for block_id, b in app.blocks.items()}
    data_panel = {"preview", "input-column", "target-column", "data-status"}
    data_panel |= {"split-train", "split-dev", "split-test"}
    checked = []
    for dependency in app.config["dependencies"]:
        target, event = dependency["targets"][0]
        if event == "load" or (names.get(target), event) == ("resume-run", "click"):
            assert data_panel <= {names.get(out) for out in dependency["outputs"]}, event
            checked.append(event)
    assert sorted(checked) == ["click", "load"]


def test_the_chat_s_trash_icon_asks_first_and_a_no_puts_the_chat_back(runs, tmp_path):
    """Gradio's clear button has no confirmation and empties the display before its event:
    the event asks in the browser, and the handler restores the chat unless the answer is yes."""
    from ui.app import CONFIRM_CLEAR, build_app

    app = build_app(runs)
    chat = next(block_id for block_id, b in app.blocks.items() if b.elem_id == "chat")
    (clear,) = [d for d in app.config["dependencies"] if d["targets"][0] == (chat, "clear")]
    assert clear["js"] == CONFIRM_CLEAR
    assert "window.confirm(" in CONFIRM_CLEAR
    assert clear["outputs"] == [chat]
    ui, handlers = page(runs, tmp_path / "downloads")
    conv = Conversation(history=[{"role": "assistant", "content": "Welcome."}])
    conv.say("hi", "Hello.")
    kept = handlers.clear_chat(conv, False)[ui.chat]
    assert [m["content"] for m in kept] == ["Welcome.", "hi", "Hello."]
    assert isinstance(handlers.clear_chat(conv, True)[ui.chat], type(gr.skip()))
    assert len(conv.messages(None)) == 3  # only the display was cleared
