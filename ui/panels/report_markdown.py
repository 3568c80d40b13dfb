"""The final report as Markdown: what a person files or pastes into a review.

It reads the JSON report (the same dict ``--json`` prints and ``report.json`` holds) and
never anything else, so what it says is what was measured. Prompts are in code fences
(longer than any backtick run inside them) so they show exactly as they are, never as
Markdown or HTML; every other value from the report is :func:`literal`: escaped where
Markdown would read markup, and only there, so the downloaded file reads as plain text
(``reviews-auto-…``, ``/tmp/…``). The config records the models without their API keys
(the report holds ``api_key_set`` only).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from agent.run.report_fields import ReportFields, Score
from ui.chat.text import fenced

_MARKUP = re.compile(
    r"[`*\[\]<$~]"  # code, emphasis, links and images, raw HTML, math, strikethrough
    r"|\\(?=[!-/:-@\[-`{-~])"  # a backslash that would escape the next character
    r"|(?<![^\W_])_|_(?![^\W_])"  # an underscore that can open or close emphasis
    r"|&(?=#?\w+;)"  # an entity (&lt; would show as <)
    r"|(?<=\w):(?=//)|(?<=\b[wW]{3})\.(?=\w)|(?<=\w)@(?=\w)"  # autolinks: URLs, www., e-mail
)
_LEADING_MARKER = re.compile(r"^(?:(?=[#>+-])|\d{1,9}(?=[.)]))")  # a heading, quote or list


def literal(text: str) -> str:
    """``text`` as one line of Markdown that shows as typed: no markup, no HTML, no links.

    Only what Markdown would read is escaped (a backslash before it); ``-``, ``.``, ``/``
    and an underscore inside a word stay as they are. Line breaks become spaces.
    """
    line = _MARKUP.sub(lambda m: "\\" + m.group(0), " ".join(text.split()))
    return _LEADING_MARKER.sub(lambda m: m.group(0) + "\\", line)


def _score(score: Score | None) -> str:
    if score is None:
        return "not scored"
    return f"{score.mean:.3f} [{score.low:.3f}, {score.high:.3f}] (n={score.n})"


def _model(settings: dict[str, Any] | None) -> str:
    if not settings:
        return "unknown"
    where = settings.get("base_url") or "the embedded llama.cpp server"
    key = ", API key set" if settings.get("api_key_set") else ""
    return (
        f"{literal(str(settings.get('model')))} at {literal(str(where))} "
        f"(temperature {settings.get('temperature')}, max_tokens {settings.get('max_tokens')}{key})"
    )


def _setup_lines(report: ReportFields) -> list[str]:
    """The title, then the task, the models, the splits, the metric and the template."""
    config = report.config
    splits = config.get("splits") or {}
    return [
        f"# PromptPilot report · {literal(report.run)}",
        "",
        f"- **Task**: {literal(report.task)} (data: {literal(str(config.get('data', '?')))})",
        f"- **Task model**: {_model(config.get('task_model'))}",
        f"- **Optimizer model**: {_model(config.get('optimizer_model'))}",
        "- **Splits**: "
        + ", ".join(f"{name} {splits[name]}" for name in ("train", "dev", "test") if name in splits)
        + f" (seed {config.get('seed', '?')}); the search saw train and dev only",
        f"- **Metric**: {literal(str(config.get('metric', '?')))} · **template**: "
        f"{literal(str(config.get('template', '?')))}",
        "",
    ]


def _prompt_lines(report: ReportFields) -> list[str]:
    """Both prompts fenced, the prompt as sent when it has parts, and the guard's choice."""
    lines = [
        "## Prompts",
        "",
        "Initial prompt:",
        "",
        fenced(report.seed_prompt),
        "",
        "Best prompt (chosen on dev):",
        "",
        fenced(report.best_prompt),
        "",
    ]
    if report.best_rendered:
        lines += [
            "The prompt to use, every message as sent ({input} is where each input goes); "
            "changed: " + literal(", ".join(report.changed_parts or ["nothing"])) + ":",
            "",
            fenced(report.best_rendered),
            "",
        ]
    if report.guard_reason is not None:
        lines += [f"Choice: {literal(report.guard_reason)}", ""]
    return lines


def _score_lines(report: ReportFields) -> list[str]:
    """The scores table, then the paired test difference (or why there is none)."""
    lines = [
        "## Scores (mean [95% bootstrap CI])",
        "",
        "| prompt | dev | test |",
        "|---|---|---|",
        f"| initial | {_score(report.seed_dev)} | {_score(report.seed_test)} |",
        f"| best | {_score(report.best_dev)} | {_score(report.best_test)} |",
        "",
    ]
    difference = report.difference
    if difference is None:
        not_computed = "not computed (the test split was not scored)."
        return [*lines, f"**Paired test difference**: {not_computed}", ""]
    return [
        *lines,
        f"**Paired test difference** (best − initial, same {difference.n} examples): "
        f"{difference.diff:+.3f}, 95% CI [{difference.low:+.3f}, {difference.high:+.3f}], "
        f"p = {difference.p_value:.3g} (sign-flip permutation test); better on "
        f"{difference.wins}, worse on {difference.losses}, tied on {difference.ties}.",
        "",
    ]


def _budget_lines(report: ReportFields) -> list[str]:
    """What the run spent, why it stopped, its directives and its whole config."""
    spend = report.spend
    max_queries = (report.config.get("budget") or {}).get("max_queries")
    return [
        "## Budget",
        "",
        f"- Dev queries: {report.dev_queries}" + (f" of {max_queries}" if max_queries else ""),
        f"- Paid LLM calls: {spend.calls} ({spend.cache_hits} answered from the cache); "
        f"tokens: {spend.tokens:,}",
        f"- Steps: {report.steps}; time: {report.wall_time_s:.0f} s; "
        f"stopped: {literal(report.stopped)}",
        f"- Candidates scored: {report.candidates}; rejected by a rule: {report.rejections}",
        "",
        "## Directives",
        "",
        *([f"- {literal(d)}" for d in report.directives] or ["- none"]),
        "",
        "## Config",
        "",
        fenced(json.dumps(_config(report), indent=2, ensure_ascii=False), "json"),
        "",
    ]


def _config(report: ReportFields) -> dict[str, Any]:
    """The recorded config with the directives the run used, as the Directives list shows them.

    The request records the rules a run started with; steering adds rules while it runs.
    """
    config = dict(report.config)
    if report.directives or "directives" in config:
        config["directives"] = list(report.directives)
    return config


def report_markdown(report: dict[str, Any]) -> str:
    """The report (``OptimizeReport.to_dict()`` shape) as a Markdown document."""
    fields = ReportFields.of(report)
    return "\n".join(
        [
            *_setup_lines(fields),
            *_prompt_lines(fields),
            *_score_lines(fields),
            *_budget_lines(fields),
        ]
    )


def write_report_files(report: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """Write ``<folder>/<run>/report.json`` and ``report.md`` (the downloads); returns both."""
    target = folder / report["run"]
    target.mkdir(parents=True, exist_ok=True)
    as_json, as_markdown = target / "report.json", target / "report.md"
    as_json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    as_markdown.write_text(report_markdown(report), encoding="utf-8")
    return as_json, as_markdown
