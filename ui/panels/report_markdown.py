"""The final report as Markdown: what a person files or pastes into a review.

It reads the JSON report (the same dict ``--json`` prints and ``report.json`` holds) and
never anything else, so what it says is what was measured. Prompts are in code fences
(longer than any backtick run inside them) so they show exactly as they are, never as
Markdown or HTML. The config records the models without their API keys (the report
holds ``api_key_set`` only).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ui.chat.text import escape_markdown, fenced


def _score(score: dict[str, Any] | None) -> str:
    if score is None:
        return "not scored"
    low, high = score["ci95"]
    return f"{score['mean']:.3f} [{low:.3f}, {high:.3f}] (n={score['n']})"


def _model(settings: dict[str, Any] | None) -> str:
    if not settings:
        return "unknown"
    where = settings.get("base_url") or "the embedded llama.cpp server"
    key = ", API key set" if settings.get("api_key_set") else ""
    return (
        f"{escape_markdown(str(settings.get('model')))} at {escape_markdown(str(where))} "
        f"(temperature {settings.get('temperature')}, max_tokens {settings.get('max_tokens')}{key})"
    )


def report_markdown(report: dict[str, Any]) -> str:
    """The report (``OptimizeReport.to_dict()`` shape) as a Markdown document."""
    config = report.get("config") or {}
    scores = report["scores"]
    splits = config.get("splits") or {}
    usage = report.get("usage") or {}
    lines = [
        f"# PromptPilot report · {escape_markdown(report['run'])}",
        "",
        f"- **Task**: {escape_markdown(str(report.get('task')))} "
        f"(data: {escape_markdown(str(config.get('data', '?')))})",
        f"- **Task model**: {_model(config.get('task_model'))}",
        f"- **Optimizer model**: {_model(config.get('optimizer_model'))}",
        "- **Splits**: "
        + ", ".join(f"{name} {splits[name]}" for name in ("train", "dev", "test") if name in splits)
        + f" (seed {config.get('seed', '?')}); the search saw train and dev only",
        f"- **Metric**: {escape_markdown(str(config.get('metric', '?')))} · **template**: "
        f"{escape_markdown(str(config.get('template', '?')))}",
        "",
        "## Prompts",
        "",
        "Initial prompt:",
        "",
        fenced(report["seed_prompt"]),
        "",
        "Best prompt (chosen on dev):",
        "",
        fenced(report["best_prompt"]),
        "",
        *(
            [
                "The prompt to use, every message as sent ({input} is where each input goes); "
                "changed: " + ", ".join(report.get("changed_parts") or ["nothing"]) + ":",
                "",
                fenced(report["best_rendered"]),
                "",
            ]
            if report.get("best_rendered")
            else []
        ),
        *(
            [f"Choice: {escape_markdown(report['guard']['reason'])}", ""]
            if report.get("guard")
            else []
        ),
        "## Scores (mean [95% bootstrap CI])",
        "",
        "| prompt | dev | test |",
        "|---|---|---|",
        f"| initial | {_score(scores['initial']['dev'])} | {_score(scores['initial']['test'])} |",
        f"| best | {_score(scores['best']['dev'])} | {_score(scores['best']['test'])} |",
        "",
    ]
    difference = report.get("test_difference")
    if difference:
        interval = difference["interval"]
        lines += [
            f"**Paired test difference** (best − initial, same {difference['n']} examples): "
            f"{difference['diff']:+.3f}, 95% CI [{interval['low']:+.3f}, {interval['high']:+.3f}], "
            f"p = {difference['p_value']:.3g} (sign-flip permutation test); better on "
            f"{difference['wins']}, worse on {difference['losses']}, tied on {difference['ties']}.",
            "",
        ]
    else:
        lines += ["**Paired test difference**: not computed (the test split was not scored).", ""]
    calls = sum(role.get("calls", 0) for role in usage.values())
    tokens = sum(r.get("prompt_tokens", 0) + r.get("completion_tokens", 0) for r in usage.values())
    hits = sum(role.get("cache_hits", 0) for role in usage.values())
    budget = config.get("budget") or {}
    lines += [
        "## Budget",
        "",
        f"- Dev queries: {report.get('dev_queries', 0)}"
        + (f" of {budget['max_queries']}" if budget.get("max_queries") else ""),
        f"- Paid LLM calls: {calls} ({hits} answered from the cache); tokens: {tokens:,}",
        f"- Steps: {report.get('steps', 0)}; time: {report.get('wall_time_s', 0):.0f} s; "
        f"stopped: {escape_markdown(str(report.get('stopped', '?')))}",
        f"- Candidates scored: {len(report.get('trajectory', []))}; rejected by a rule: "
        f"{len(report.get('rejected', []))}",
        "",
        "## Directives",
        "",
        *([f"- {escape_markdown(d)}" for d in report.get("directives", [])] or ["- none"]),
        "",
        "## Config",
        "",
        fenced(json.dumps(config, indent=2, ensure_ascii=False), "json"),
        "",
    ]
    return "\n".join(lines)


def write_report_files(report: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """Write ``<folder>/<run>/report.json`` and ``report.md`` (the downloads); returns both."""
    target = folder / report["run"]
    target.mkdir(parents=True, exist_ok=True)
    as_json, as_markdown = target / "report.json", target / "report.md"
    as_json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    as_markdown.write_text(report_markdown(report), encoding="utf-8")
    return as_json, as_markdown
