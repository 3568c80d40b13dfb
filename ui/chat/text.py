"""What the assistant says in the app's chat, and how untrusted text is made safe to show.

Prompts, model outputs and file contents are data, not markup: everything that
did not come from this module is escaped (every ASCII punctuation mark gets a
backslash, which CommonMark renders as the character itself), so a prompt
holding ``<img src=x onerror=…>``, ``[link](…)`` or ``**`` shows as typed.
"""

from __future__ import annotations

import re
from typing import Any

from agent.run.report_fields import Difference, ReportFields, Score
from optimizers.budget import Budget, plain_stop
from optimizers.registry import NAMES, ROTATION, info

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character


def escape_markdown(text: str) -> str:
    """``text`` as literal Markdown: no emphasis, links, HTML, code or tables."""
    return _PUNCTUATION.sub(r"\\\1", text)


def quote(text: str, limit: int = 300) -> str:
    """A prompt shown inline: escaped, shortened to ``limit`` characters, in quotes."""
    short = text if len(text) <= limit else text[: limit - 1] + "…"
    return f"“{escape_markdown(short)}”"


def fenced(text: str, info: str = "text") -> str:
    """``text`` in a code fence no backtick run inside it can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{text}\n{fence}"


def message(content: str, title: str | None = None) -> dict[str, Any]:
    """An assistant chat message; a ``title`` shows it as a tool step, collapsed to its title."""
    msg: dict[str, Any] = {"role": "assistant", "content": content}
    if title:
        msg["metadata"] = {"title": title, "status": "done"}
    return msg


def user_message(text: str) -> dict[str, Any]:
    """The person's own message, escaped (it is shown, not interpreted)."""
    return {"role": "user", "content": escape_markdown(text)}


def agent_message(node: str, text: str) -> dict[str, Any]:
    """A message the graph wrote (planner decision, step result), as a titled step.

    The title is rendered as Markdown too, so it is escaped like the content.
    """
    first = text.split(". ", 1)[0] if node == "planner" else text
    title = f"{node}: {first}" if len(first) <= 90 else f"{node}: {first[:89]}…"
    return message(escape_markdown(text), title=escape_markdown(title))


WELCOME = (
    "Hi, I'm PromptPilot. Give me examples with the right answers and a prompt, and I'll "
    "search for a better prompt, measured on held-out data with a 95% interval.\n\n"
    "1. Upload an eval set in **Data** (CSV, TSV, JSONL or JSON), or say *use the built-in "
    "review_sentiment task*.\n2. Send the prompt you want to improve.\n3. Steer while it runs "
    "(*pause*, *stop*, *try zopo now*, *keep it under 30 words*) and watch **Inspect**."
)

ASK_FOR_DATA = (
    "To measure a prompt I need examples with the right answers. Upload a CSV, TSV, JSONL "
    "or JSON file in the **Data** tab (a header row; an input and a target column), or say "
    "*use the built-in review_sentiment task* (also: opposite_word, country_capital, "
    "word_count). Then send the prompt you want to improve."
)

HELP = (
    "Send the prompt you want to improve (a second line starting with *Goal:* is optional). "
    "While a run goes on, every message steers it: *pause*, *resume*, *stop*, "
    "*try gpo now* (or structure, zopo, textgrad, ape, random), *budget 20*, a rule like "
    "*keep it under 30 words* or *remove the 30 words rule*, *accept 3* (take candidate #3 and "
    "finish), *roll back to 2* (continue from #2). Numbers are the # column of the candidate table."
)

NO_RUN = (
    "No optimization is running, so there is nothing to steer. Send a prompt to start one "
    "(or open a past run in the **Runs** tab)."
)


def _plan(optimizer: str) -> str:
    """How the run will go, in one clause ("I start with GPO (…)")."""
    if optimizer in NAMES:
        chosen = info(optimizer)
        return f"I start with {chosen.title} ({chosen.summary})"
    first, *then = (info(name) for name in ROTATION)
    later = ", ".join(item.title for item in then[:-1]) + f", then {then[-1].title}"
    return (
        f"I start with {first.title} ({first.summary}) and switch to {later} whenever a "
        "method stops improving"
    )


def plan_text(
    *,
    task: str,
    sizes: dict[str, int],
    metric: str,
    template: str,
    budget: Budget,
    optimizer: str,
    directives: list[str],
    goal: str = "",
) -> str:
    """What the assistant says it will do before a run starts."""
    total = sum(sizes.values())
    splits = " · ".join(f"{sizes[name]} {name}" for name in ("train", "dev", "test"))
    limits = [
        f"**{budget.max_queries} prompts evaluated on the dev examples** (yours counts as one)"
        if budget.max_queries
        else "",
        f"**{budget.max_calls} LLM calls**" if budget.max_calls else "",
        f"**{budget.max_seconds:.0f} s**" if budget.max_seconds else "",
    ]
    budget_text = ", ".join(limit for limit in limits if limit) or "no limit"
    template_text = "inline" if template == "inline" else escape_markdown(template[:60])
    lines = [
        f"I'll improve your prompt on **{escape_markdown(task)}** ({total} examples: {splits}). "
        f"Every candidate is scored on the dev split with the **{escape_markdown(metric)}** "
        f"metric and the {template_text} template; budget: {budget_text}. "
        f"{_plan(optimizer)}. The test split is scored once, at the end, "
        "for your prompt and the best one.",
    ]
    if goal:
        lines.append(f"Goal noted: {quote(goal)}.")
    if directives:
        rules = "; ".join(quote(d, 120) for d in directives)
        lines.append(f"Rules for new prompts: {rules}.")
    lines.append(
        "Progress shows here and in **Inspect**. Steer any time: *pause*, *stop*, "
        "*try zopo now*, *budget 20*, *keep it under 30 words*."
    )
    return "\n\n".join(lines)


def _interval(low: float, high: float, signed: bool = False) -> str:
    fmt = "{:+.3f}" if signed else "{:.3f}"
    return f"[{fmt.format(low)}, {fmt.format(high)}]"


def _scored(score: Score) -> str:
    """``0.600 [0.400, 0.800]``."""
    return f"{score.mean:.3f} {_interval(score.low, score.high)}"


def _unchanged(report: ReportFields) -> bool:
    """True when the best prompt is still the person's (by its parts, or by its text)."""
    if report.changed_parts is not None:
        return not report.changed_parts
    return report.best_prompt.strip() == report.seed_prompt.strip()  # reports before parts


def _dev_text(report: ReportFields, same: bool) -> str:
    """The best prompt and its dev score against the person's, or why it is still theirs."""
    seed_dev, best_dev = report.seed_dev, report.best_dev
    if same:
        why = (
            f" ({escape_markdown(report.guard_reason)})"
            if report.guard_reason and report.guard_compared
            else ""
        )
        return (
            f"No candidate beat your prompt clearly on dev ({seed_dev.mean:.3f}, "
            f"n={seed_dev.n}), so the best prompt is still yours{why}."
        )
    changed = ", ".join(p.replace("_", " ") for p in report.changed_parts or ())
    shown = (
        "\n\n" + fenced(report.best_rendered) + "\n\n"
        if report.best_rendered
        else f" {quote(report.best_prompt, 500)}\n\n"
    )
    return (
        f"Best prompt{f' (changed: {changed})' if changed else ''}:{shown}"
        f"On **dev** (the split the search used, n={best_dev.n}) it scores "
        f"{_scored(best_dev)} against {_scored(seed_dev)} for yours."
    )


def _verdict(difference: Difference) -> str:
    """What the paired test interval says about the change."""
    if difference.low > 0:
        return "the interval excludes 0: a real improvement on held-out data"
    if difference.high < 0:
        return "the interval excludes 0 in the wrong direction: it is worse on held-out data"
    return "the interval includes 0: the difference may be noise"


def _test_text(report: ReportFields, same: bool) -> str:
    """The held-out test split: the paired difference, the person's score alone, or nothing."""
    difference, seed_test, best_test = report.difference, report.seed_test, report.best_test
    if difference and seed_test and best_test and not same:
        interval = _interval(difference.low, difference.high, signed=True)
        return (
            f"On the held-out **test** split (n={difference.n}, never seen by the search): "
            f"{_scored(best_test)} against {_scored(seed_test)}, a paired difference of "
            f"**{difference.diff:+.3f}** (95% CI {interval}, "
            f"p = {difference.p_value:.3g}; better on {difference.wins} examples, worse "
            f"on {difference.losses}) — {_verdict(difference)}."
        )
    if seed_test:
        return (
            f"On the held-out **test** split your prompt scores {_scored(seed_test)} "
            f"(n={seed_test.n})."
        )
    return "The test split was not scored (the run was interrupted)."


def result_text(report: dict[str, Any]) -> str:
    """The finished run in plain words: what changed, by how much, on which split, how sure."""
    fields = ReportFields.of(report)
    same = _unchanged(fields)
    limits = report.get("config", {}).get("budget")
    why = plain_stop(fields.stopped, Budget(**limits) if limits else None)
    stopped = (
        f"The search {escape_markdown(why)}"
        f" after {fields.steps} steps: {fields.dev_queries} prompts evaluated on the dev examples, "
        f"{fields.spend.calls} LLM calls, {fields.wall_time_s:.0f} s. The candidates "
        "and per-example results are in **Inspect**; the report is in **Report**."
    )
    return "\n\n".join([_dev_text(fields, same), _test_text(fields, same), stopped])
