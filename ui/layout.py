"""The app's components and where they sit; ``elem_id`` s are the browser tests' contract.

Chat on the left, always visible; Data, Inspect, Report, Settings and Runs tabs on the
right. Nothing here reacts to anything: :mod:`ui.app` wires the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from agent.llm.runtime import RuntimeSettings
from optimizers.registry import CHOICES
from ui.chat.conversation import Conversation
from ui.chat.form import DEFAULT_BUDGET, METRIC_CHOICES
from ui.chat.uploads import ALLOWED_SUFFIXES
from ui.panels import inspect as rv
from ui.panels.stored_view import RUN_TABLE_HEADERS

QUICK_COMMANDS = (
    ("cmd-pause", "pause", "Pause"),
    ("cmd-resume", "resume", "Resume"),
    ("cmd-stop", "stop", "Stop"),
    ("cmd-gpo", "try gpo now", "Try GPO"),
    ("cmd-zopo", "try zopo now", "Try ZOPO"),
    ("cmd-textgrad", "try textgrad now", "Try TextGrad"),
)
NO_REPORT = "The report appears here when the run has finished."
FORMATS = ", ".join(suffix.removeprefix(".").upper() for suffix in ALLOWED_SUFFIXES)

# The page's own styles (:func:`ui.app.launch` passes them to Gradio with the app's).
CSS = """
/* The chat's label sits in a band above the messages (Gradio floats it over the scrolling
   log, so scrolled messages ran under it); the chat's buttons sit in the same band. */
#chat label[data-testid="block-label"] {
  position: static; flex: none; margin: var(--block-label-margin) 0 0 var(--block-label-margin);
}
#chat [role="log"] { flex: 1 1 0; min-height: 0; height: auto; }
/* Candidates: a click anywhere on a header opens its menu (Gradio 6 sorts from a header's
   small menu button, shown only on hover); SORT_ON_CLICK then picks "Sort ascending". */
#candidates th .cell-menu-button {
  display: flex; position: absolute; inset: 0; width: 100%; height: 100%; min-width: 0;
  margin: 0; padding: 0 6px; transform: none; justify-content: flex-end;
  background: transparent; border: 0; box-shadow: none; cursor: pointer;
}
"""
CHAT_PLACEHOLDER = "Your prompt to improve, or a question"  # fits the input at its default width
SORT_ON_CLICK = (Path(__file__).parent / "sort_on_click.js").read_text(encoding="utf-8")
"""The page's script: one click on a candidate table's header sorts, a second reverses."""
CANDIDATES_LABEL = "Candidates (click a header to sort, again to reverse)"


@dataclass
class Layout:
    """Every component an event reads or writes."""

    chat: gr.Chatbot
    clear_ok: gr.Checkbox
    """Hidden: whether the person said yes when the chat's trash icon asked (set in the browser)."""
    chat_input: gr.Textbox
    send: gr.Button
    start: gr.Button
    commands: list[tuple[gr.Button, str]]
    run_id: gr.Textbox
    status: gr.Markdown
    upload: gr.File
    data_status: gr.Markdown
    preview: gr.Dataframe
    input_col: gr.Dropdown
    target_col: gr.Dropdown
    metric: gr.Dropdown
    train: gr.Number
    dev: gr.Number
    test: gr.Number
    budget_meter: gr.Markdown
    score_plot: gr.Plot
    embedding_map: gr.Plot
    candidates: gr.Dataframe
    number: gr.Number
    accept: gr.Button
    rollback: gr.Button
    diff: gr.HighlightedText
    examples: gr.Dataframe
    report: gr.Markdown
    download_json: gr.DownloadButton
    download_md: gr.DownloadButton
    task_url: gr.Textbox
    task_model: gr.Textbox
    task_key: gr.Textbox
    opt_url: gr.Textbox
    opt_model: gr.Textbox
    opt_key: gr.Textbox
    template: gr.Textbox
    budget: gr.Number
    seed: gr.Number
    optimizer: gr.Dropdown
    inspect_tab: gr.Tab
    report_tab: gr.Tab
    runs_tab: gr.Tab
    run_list: gr.Dataframe
    run_pick: gr.Textbox
    resume_run: gr.Button
    conv: gr.State
    """This browser session's :class:`~ui.chat.conversation.Conversation`."""
    seen: gr.State
    """What this page last rendered of its run (run id and view version)."""

    @property
    def form(self) -> list[gr.components.Component]:
        """The panels' inputs of a run (read by name: :func:`ui.app.make_form`)."""
        return [
            self.input_col,
            self.target_col,
            self.metric,
            self.train,
            self.dev,
            self.test,
            self.template,
            self.budget,
            self.seed,
            self.optimizer,
            self.task_url,
            self.task_model,
            self.task_key,
            self.opt_url,
            self.opt_model,
            self.opt_key,
        ]


def _chat_column() -> dict[str, object]:
    chat = gr.Chatbot(
        label="Chat",
        elem_id="chat",
        height=600,
        sanitize_html=True,
        render_markdown=True,
        allow_tags=False,
        latex_delimiters=[],
        feedback_options=None,
        buttons=["copy_all"],
        group_consecutive_messages=False,
    )
    clear_ok = gr.Checkbox(value=False, visible=False)
    with gr.Row():
        chat_input = gr.Textbox(
            show_label=False,
            elem_id="chat-input",
            scale=5,
            lines=2,
            max_lines=8,
            placeholder=CHAT_PLACEHOLDER,
        )
        send = gr.Button("Send", variant="primary", elem_id="send", scale=1, min_width=80)
    start = gr.Button("Start the run", variant="primary", elem_id="start", visible=False)
    commands = []
    for group in (QUICK_COMMANDS[:3], QUICK_COMMANDS[3:]):
        with gr.Row():
            commands += [
                (gr.Button(label, size="sm", elem_id=elem_id, min_width=60), text)
                for elem_id, text, label in group
            ]
    with gr.Row(equal_height=True):
        run_id = gr.Textbox(label="Run", elem_id="run-id", interactive=False, scale=2)
        with gr.Column(scale=3, min_width=200):
            status = gr.Markdown("no run yet", elem_id="status", container=True)
    return {
        "chat": chat,
        "clear_ok": clear_ok,
        "chat_input": chat_input,
        "send": send,
        "start": start,
        "commands": commands,
        "run_id": run_id,
        "status": status,
    }


def _data_tab() -> dict[str, object]:
    # No file_types: Gradio would refuse another type with a passing toast and no event;
    # the upload handler refuses it instead, in the data status and in the chat.
    upload = gr.File(
        label=f"Eval set: drop a file or click ({FORMATS}; up to 20 MB)",
        type="filepath",
        elem_id="upload",
        height=110,
    )
    data_status = gr.Markdown(
        "No data yet: upload a file, or say *use the built-in review_sentiment task* in the chat.",
        elem_id="data-status",
    )
    preview = gr.Dataframe(
        label="Preview (first rows)",
        elem_id="preview",
        interactive=False,
        wrap=True,
        max_height=260,
    )
    with gr.Row():
        input_col = gr.Dropdown(label="Input column", elem_id="input-column", choices=[])
        target_col = gr.Dropdown(label="Target column", elem_id="target-column", choices=[])
        metric = gr.Dropdown(
            label="Metric", elem_id="metric", choices=list(METRIC_CHOICES), value="exact"
        )
    with gr.Row():
        train = gr.Number(
            label="Train (count, or fraction < 1)", value=0.2, minimum=0, elem_id="split-train"
        )
        dev = gr.Number(label="Dev", value=0.4, minimum=0, elem_id="split-dev")
        test = gr.Number(label="Test", value=0.4, minimum=0, elem_id="split-test")
    return {
        "upload": upload,
        "data_status": data_status,
        "preview": preview,
        "input_col": input_col,
        "target_col": target_col,
        "metric": metric,
        "train": train,
        "dev": dev,
        "test": test,
    }


def _inspect_tab() -> dict[str, object]:
    budget_meter = gr.Markdown("No run yet.", elem_id="budget-meter")
    with gr.Row():
        score_plot = gr.Plot(
            label="Dev score by dev queries", show_label=False, elem_id="score-plot", format="png"
        )
        embedding_map = gr.Plot(
            label="Prompt embeddings", show_label=False, elem_id="embedding-map", format="png"
        )
    candidates = gr.Dataframe(
        headers=rv.CANDIDATE_HEADERS,
        label=CANDIDATES_LABEL,
        elem_id="candidates",
        interactive=False,
        wrap=True,
        max_height=330,
        column_widths=["6%", "56%", "9%", "13%", "7%", "9%"],
    )
    with gr.Row(equal_height=True):
        number = gr.Number(
            label="Candidate #",
            value=0,
            precision=0,
            minimum=0,
            elem_id="candidate-number",
            scale=1,
        )
        accept = gr.Button("Accept # (finish with it)", elem_id="accept", scale=2)
        rollback = gr.Button("Roll back to #", elem_id="rollback", scale=2)
    diff = gr.HighlightedText(
        label="Best prompt against yours (word diff)",
        elem_id="diff",
        show_legend=True,
        color_map={"added": "green", "removed": "red"},
        combine_adjacent=True,
    )
    examples = gr.Dataframe(
        headers=rv.EXAMPLE_HEADERS,
        elem_id="examples",
        interactive=False,
        wrap=True,
        label="Best prompt on dev, failures first",
        max_height=330,
        column_widths=["8%", "44%", "14%", "22%", "12%"],
    )
    return {
        "budget_meter": budget_meter,
        "score_plot": score_plot,
        "embedding_map": embedding_map,
        "candidates": candidates,
        "number": number,
        "accept": accept,
        "rollback": rollback,
        "diff": diff,
        "examples": examples,
    }


def _report_tab() -> dict[str, object]:
    with gr.Row():
        download_json = gr.DownloadButton(
            "Download JSON", elem_id="download-json", interactive=False
        )
        download_md = gr.DownloadButton(
            "Download Markdown", elem_id="download-md", interactive=False
        )
    report = gr.Markdown(NO_REPORT, elem_id="report")
    return {"report": report, "download_json": download_json, "download_md": download_md}


def _settings_tab(defaults: RuntimeSettings) -> dict[str, object]:
    gr.Markdown(
        "An empty URL means the embedded SmolLM2 model. Keys stay in this browser "
        "session's memory on the server: never shown back, never saved."
    )
    with gr.Row():
        task_url = gr.Textbox(
            label="Task model URL", elem_id="task-url", value=defaults.task.base_url or ""
        )
        task_model = gr.Textbox(label="Task model", elem_id="task-model", value=defaults.task.model)
        task_key = gr.Textbox(label="Task API key", elem_id="task-key", type="password")
    with gr.Row():
        opt_url = gr.Textbox(
            label="Optimizer model URL",
            elem_id="optimizer-url",
            value=defaults.optimizer.base_url or "",
        )
        opt_model = gr.Textbox(
            label="Optimizer model", elem_id="optimizer-model", value=defaults.optimizer.model
        )
        opt_key = gr.Textbox(label="Optimizer API key", elem_id="optimizer-key", type="password")
    template = gr.Textbox(
        label="Template: inline, system, or your text with {prompt} and {input}",
        value="inline",
        elem_id="template",
    )
    with gr.Row():
        budget = gr.Number(
            label="Budget (dev queries; empty: stop after 250 paid calls)",
            value=DEFAULT_BUDGET,
            precision=0,
            minimum=1,
            elem_id="budget",
        )
        seed = gr.Number(label="Seed", value=0, precision=0, minimum=0, elem_id="seed")
        optimizer = gr.Dropdown(
            label="Optimizer to start with",
            elem_id="optimizer",
            choices=list(CHOICES),
            value="auto",
        )
    return {
        "task_url": task_url,
        "task_model": task_model,
        "task_key": task_key,
        "opt_url": opt_url,
        "opt_model": opt_model,
        "opt_key": opt_key,
        "template": template,
        "budget": budget,
        "seed": seed,
        "optimizer": optimizer,
    }


def _runs_tab() -> dict[str, object]:
    run_list = gr.Dataframe(
        headers=RUN_TABLE_HEADERS,
        elem_id="runs",
        interactive=False,
        wrap=True,
        label="Runs in this home, newest first (click a row)",
        max_height=380,
        column_widths=["38%", "11%", "19%", "14%", "9%", "9%"],
    )
    with gr.Row(equal_height=True):
        run_pick = gr.Textbox(label="Run id", elem_id="run-pick", scale=3)
        resume_run = gr.Button("Open / resume", elem_id="resume-run", scale=1)
    return {"run_list": run_list, "run_pick": run_pick, "resume_run": resume_run}


def build_layout(defaults: RuntimeSettings) -> Layout:
    """Create the components (inside a ``gr.Blocks`` context)."""
    gr.Markdown("## PromptPilot · measurably better prompts")
    parts: dict[str, object] = {}
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=420):
            parts |= _chat_column()
        with gr.Column(scale=7, min_width=520), gr.Tabs():
            with gr.Tab("Data"):
                parts |= _data_tab()
            with gr.Tab("Inspect") as inspect_tab:
                parts |= _inspect_tab()
            with gr.Tab("Report") as report_tab:
                parts |= _report_tab()
            with gr.Tab("Settings"):
                parts |= _settings_tab(defaults)
            with gr.Tab("Runs") as runs_tab:
                parts |= _runs_tab()
    tabs = {"inspect_tab": inspect_tab, "report_tab": report_tab, "runs_tab": runs_tab}
    # Plain defaults (each session gets a deep copy), not factories: a factory is run by
    # a load event of its own, which raced the page's load and could replace the reattached
    # conversation with a blank one: the reloaded page then never showed its run again.
    states = {"conv": gr.State(Conversation()), "seen": gr.State({})}
    return Layout(**tabs, **parts, **states)  # type: ignore[arg-type]
