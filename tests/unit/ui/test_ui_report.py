"""The Markdown report, the chat's result text, and escaping of untrusted text."""

from __future__ import annotations

import html
import json

import pytest

from agent.llm.settings import ModelSettings
from ui.chat.text import agent_message, escape_markdown, quote, result_text
from ui.panels.report_markdown import fenced, literal, report_markdown, write_report_files

EVIL = "<img src=x onerror=alert(1)> **bold** [link](javascript:alert(1)) ``` `x` $$a$$ | b"


def score(mean, low, high, n, split):
    return {"split": split, "mean": mean, "ci95": [low, high], "n": n}


REPORT = {
    "run": "reviews-auto-20260101-000000-abcd",
    "task": "reviews",
    "optimizer": "auto",
    "seed_prompt": "Is this review positive or negative?",
    "best_prompt": "Classify the review. " + EVIL,
    "scores": {
        "initial": {
            "dev": score(0.1, 0.0, 0.2, 20, "dev"),
            "test": score(0.05, 0.0, 0.15, 40, "test"),
        },
        "best": {"dev": score(0.6, 0.4, 0.8, 20, "dev"), "test": score(0.55, 0.4, 0.7, 40, "test")},
    },
    "test_difference": {
        "n": 40,
        "mean_a": 0.05,
        "mean_b": 0.55,
        "diff": 0.5,
        "interval": {"low": 0.35, "high": 0.65, "confidence": 0.95},
        "wins": 20,
        "losses": 0,
        "ties": 20,
        "p_value": 0.0001,
    },
    "trajectory": [
        {
            "step": 0,
            "source": "seed",
            "prompt": "Is this review positive or negative?",
            "dev": 0.1,
            "ci95": [0.0, 0.2],
            "reused": False,
            "meta": {},
        }
    ],
    "rejected": [],
    "directives": ["keep it under 30 words"],
    "steps": 4,
    "dev_queries": 8,
    "stopped": "budget: queries",
    "usage": {
        "task": {
            "calls": 300,
            "cache_hits": 10,
            "failures": 0,
            "prompt_tokens": 9000,
            "completion_tokens": 900,
        },
        "optimizer": {
            "calls": 20,
            "cache_hits": 0,
            "failures": 0,
            "prompt_tokens": 4000,
            "completion_tokens": 1000,
        },
    },
    "wall_time_s": 95.2,
    "config": {
        "data": "/home/u/reviews.csv",
        "metric": "exact",
        "template": "inline",
        "seed": 0,
        "budget": {"max_queries": 8, "max_calls": None, "max_seconds": None},
        "task_model": {
            "base_url": "https://api.example/v1",
            "model": "gpt",
            "temperature": 0.0,
            "max_tokens": 48,
            "api_key_set": True,
        },
        "optimizer_model": {
            "base_url": None,
            "model": "smollm2",
            "temperature": 0.9,
            "max_tokens": 160,
            "api_key_set": False,
        },
        "splits": {"train": 10, "dev": 20, "test": 40},
    },
}


def test_the_markdown_report_has_every_section_and_the_numbers():
    text = report_markdown(REPORT)
    for needle in (
        "train 10, dev 20, test 40",
        "| initial | 0.100 [0.000, 0.200] (n=20) | 0.050 [0.000, 0.150] (n=40) |",
        "| best | 0.600 [0.400, 0.800] (n=20) | 0.550 [0.400, 0.700] (n=40) |",
        "+0.500, 95% CI [+0.350, +0.650], p = 0.0001",
        "Dev queries: 8 of 8",
        "Paid LLM calls: 320 (10 answered from the cache); tokens: 14,900",
        "keep it under 30 words",
        "API key set",
        "```json",
    ):
        assert needle in text, needle


def test_prompts_are_fenced_so_nothing_in_them_renders():
    text = report_markdown(REPORT)
    fence = fenced(REPORT["best_prompt"])
    assert fence in text
    assert fence.startswith("````text\n")  # longer than the ``` inside the prompt
    assert fenced("plain") == "```text\nplain\n```"


def test_no_api_key_reaches_the_downloads(tmp_path):
    # reports record models as ModelSettings.public(), as build_report does
    keyed = ModelSettings(base_url="https://api.example/v1", model="gpt", api_key="sk-secret-9")
    report = {**REPORT, "config": {**REPORT["config"], "task_model": keyed.public()}}
    as_json, as_md = write_report_files(report, tmp_path)
    assert (as_json.name, as_md.name) == ("report.json", "report.md")
    assert json.loads(as_json.read_text(encoding="utf-8")) == report
    for path in (as_json, as_md):
        assert "sk-secret-9" not in path.read_text(encoding="utf-8")
    assert "API key set" in as_md.read_text(encoding="utf-8")


def test_escaping_leaves_no_markup():
    escaped = escape_markdown(EVIL)
    assert "<" not in escaped.replace("\\<", "")
    assert "[" not in escaped.replace("\\[", "")
    assert "*" not in escaped.replace("\\*", "")
    assert "`" not in escaped.replace("\\`", "")
    assert escaped.replace("\\", "") == EVIL.replace("\\", "")
    assert quote("x" * 400, 10) == "“xxxxxxxxx…”"
    message = agent_message("gpo", EVIL)
    assert message["content"] == escaped
    assert message["metadata"]["title"].startswith("gpo\\: \\<img")  # titles render too


def test_result_text_says_what_changed_by_how_much_where_and_how_sure():
    text = result_text(REPORT).replace("\\", "")
    assert "On dev (the split the search used, n=20) it scores 0.600" in text.replace("**", "")
    assert "0.550 [0.400, 0.700] against 0.050 [0.000, 0.150]" in text
    assert "**+0.500** (95% CI [+0.350, +0.650], p = 0.0001" in text
    assert "a real improvement on held-out data" in text
    assert "The search used its 8 evaluations on the dev examples after 4 steps" in text
    assert "8 prompts evaluated on the dev examples, 320 LLM calls" in text
    assert "budget: queries" not in text  # the precise reason stays in the JSON report
    same = {**REPORT, "best_prompt": REPORT["seed_prompt"]}
    assert "No candidate beat your prompt" in result_text(same)


def config_block(text):
    return json.loads(text.split("```json\n", 1)[1].split("\n```", 1)[0])


def test_the_config_shows_the_directives_the_run_used_as_the_list_does():
    # the request recorded none; "keep it under 30 words" was said while the run went on
    started_without = {**REPORT, "config": {**REPORT["config"], "directives": []}}
    for report in (REPORT, started_without):
        text = report_markdown(report)
        assert config_block(text)["directives"] == ["keep it under 30 words"]
        assert "## Directives\n\n- keep it under 30 words\n" in text
    none = {**started_without, "directives": []}
    assert config_block(report_markdown(none))["directives"] == []
    assert "## Directives\n\n- none\n" in report_markdown(none)


def test_the_markdown_download_escapes_only_what_markdown_reads(tmp_path):
    report = {**REPORT, "config": {**REPORT["config"], "data": "/tmp/up loads/my_reviews.csv"}}
    _, as_md = write_report_files(report, tmp_path)
    text = as_md.read_text(encoding="utf-8")
    assert text.startswith("# PromptPilot report · reviews-auto-20260101-000000-abcd\n")
    assert "(data: /tmp/up loads/my_reviews.csv)" in text
    assert "gpt at https\\://api.example/v1" in text  # no link from data
    assert "stopped: budget: queries" in text
    for over_escaped in ("\\-", "\\/", "\\.", "\\(", "\\_reviews"):
        assert over_escaped not in text.split("## Prompts")[0], over_escaped


@pytest.mark.parametrize(
    "value",
    [
        EVIL,
        "# a heading",
        "1. a list",
        "> a quote",
        "- an item",
        "_em_ and __strong__ and ~~gone~~",
        "&lt;b&gt; &amp; &#60;",
        "https://example.com www.example.com mail@example.com <https://x.y>",
        "C:\\Users\\me \\* \\_ back\\slash",
        "two\nlines  and   spaces",
        "snake_case_name.csv",
    ],
)
def test_a_literal_value_renders_as_its_own_text_and_nothing_else(value):
    markdown_it = pytest.importorskip("markdown_it")
    md = markdown_it.MarkdownIt("commonmark").enable(["strikethrough", "table"])
    rendered = md.render(literal(value))
    assert rendered.startswith("<p>"), rendered
    assert rendered.endswith("</p>\n"), rendered
    inner = rendered[3:-5]
    assert "<" not in inner, rendered  # no tag: no emphasis, code, link, image or HTML
    assert html.unescape(inner) == " ".join(value.split())
    listed = md.render(f"- {literal(value)}")  # as a list item (the Directives)
    assert listed.count("<li>") == 1, listed
    assert "<h1>" not in listed
    assert "<ol>" not in listed
