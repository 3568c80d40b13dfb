"""Hostile model output is data: parsed without crash, bounded, cleaned, never executed.

Fake models (the LLM boundary only) answer every optimizer, the planner and the task
with prompt injection, fake tags, tool-call JSON, code, a megabyte of text, terminal
escapes, unbalanced tags and markup (see tests/reliability/hostile.py). Each code
sample would create a marker file if anything ever ran it.
"""

from __future__ import annotations

import ast
import io
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from agent.cli.app import app
from agent.cli.display import report_table, summary_lines
from agent.cli.optimize import run_piloted
from agent.cli.output import show_report
from agent.llm.runtime import ModelRuntime, RuntimeSettings
from agent.llm.settings import ModelSettings
from agent.run.request import OptimizeRequest
from memory.run_registry import FolderRegistry
from optimizers.budget import Budget
from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.evaluation.evaluator import Evaluator
from optimizers.evaluation.metrics import get_metric
from optimizers.propose.cleaning import clean_instruction
from optimizers.propose.domain_config import DomainConfig
from optimizers.propose.proposals import MAX_CHARS, parse_proposal
from optimizers.runner import Runner
from optimizers.tasks import SplitSpec
from optimizers.zopo.optimizer import torch_threads
from tests.fakes import fake_backend
from tests.reliability.hostile import (
    cycling,
    hostile_backend,
    hostile_replies,
)
from tests.unit.optimizer_fixtures import DEV, SEED_PROMPT, context_factory, sentiment_task_model

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parents[2]
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    return tmp_path / "PWNED"


@pytest.fixture
def replies(marker: Path) -> dict[str, str]:
    return hostile_replies(marker)


def assert_safe_prompt(text: str) -> None:
    assert text.strip()
    assert len(text) <= MAX_CHARS
    assert not CONTROL.search(text), repr(text)


# --- parsing: every reply, alone ----------------------------------------------------


def test_every_reply_parses_fast_into_a_clean_bounded_prompt_or_a_reason(
    replies: dict[str, str],
) -> None:
    for name, reply in replies.items():
        started = time.perf_counter()
        parsed = parse_proposal(reply)
        cleaned = clean_instruction(reply)
        assert time.perf_counter() - started < 1.0, name
        if parsed.text is None:
            assert parsed.problem, name
        else:
            assert_safe_prompt(parsed.text)
        if not cleaned.ok:
            assert cleaned.problem, name
        else:
            assert_safe_prompt(cleaned.text)


def test_control_characters_are_stripped_and_text_is_kept_as_text(
    replies: dict[str, str],
) -> None:
    assert parse_proposal(replies["dirty tagged"]).text == (
        "Classify the sentiment of the review as positive or negative."
    )
    assert clean_instruction(replies["dirty ape"]).text == (
        "Classify the sentiment of each review as positive or negative."
    )
    assert parse_proposal(replies["escapes"]).text == "Classify the review."
    assert parse_proposal(replies["control bytes"]).text == "Classify the review now."
    assert "\u202e" not in str(parse_proposal(replies["bidi"]).text)
    # Code and markup stay exactly what they are: words in a prompt.
    assert "os.system" in str(parse_proposal(replies["python"]).text)
    assert "[/]" in str(parse_proposal(replies["rich markup"]).text)


def test_a_megabyte_reply_is_refused_whole(replies: dict[str, str]) -> None:
    for name in ("giant words", "giant tagged", "giant no spaces", "giant open tag"):
        assert parse_proposal(replies[name]).text is None
        assert "over 100,000" in str(parse_proposal(replies[name]).problem)
        assert not clean_instruction(replies[name]).ok


# --- every optimizer, with a hostile optimizer model --------------------------------


@pytest.fixture
def one_torch_thread() -> Iterator[None]:
    with torch_threads(1):
        yield


@pytest.fixture
def optimizer_context(tmp_path, bundled_embedder):
    with context_factory(tmp_path, bundled_embedder) as factory:
        yield factory


def build(name: str, context: Any) -> Any:
    small = DomainConfig(size=12)
    if name == "gpo":
        from optimizers.gpo.optimizer import GPO

        return GPO(context)
    if name == "textgrad":
        from optimizers.textgrad import TextGrad

        return TextGrad(context)
    if name == "ape":
        from optimizers.baselines.ape import APE, APEConfig

        return APE(context, APEConfig(domain=small))
    if name == "random":
        from optimizers.baselines.random_search import RandomSearch, RandomSearchConfig

        return RandomSearch(context, RandomSearchConfig(domain=small))
    from optimizers.zopo.optimizer import ZOPOOptimizer, ZOPOOptimizerConfig

    return ZOPOOptimizer(context, ZOPOOptimizerConfig(domain=small))


@pytest.mark.parametrize("name", ["gpo", "textgrad", "ape", "random", "zopo"])
async def test_optimizer_survives_a_hostile_optimizer_model(
    name: str, optimizer_context, replies: dict[str, str], marker: Path, one_torch_thread
) -> None:
    context = optimizer_context(proposer_rule=cycling(list(replies.values())), total_steps=4)
    outcome = await Runner(build(name, context), context, DEV, Budget(max_queries=6)).run()
    texts = [scored.candidate.text for scored in outcome.history]
    assert texts[0] == SEED_PROMPT
    assert len(texts) >= 2, f"{name} scored nothing beyond the seed"
    for text in texts:
        assert_safe_prompt(text)
    stored = context.store.trajectory(context.run)
    assert stored
    for record in stored:
        assert_safe_prompt(record.text)
    assert context.proposer.usage.calls > 0
    assert not marker.exists()


# --- the evaluator, with hostile task-model answers ----------------------------------


@pytest.mark.parametrize("metric", ["exact", "contains", "f1", "choice", "set"])
async def test_evaluator_scores_hostile_answers_as_wrong_not_as_a_crash(
    metric: str, replies: dict[str, str], marker: Path
) -> None:
    evaluator = Evaluator(
        ChatCaller(fake_backend(cycling(list(replies.values())))), metric=get_metric(metric)
    )
    result = await evaluator.evaluate(SEED_PROMPT, DEV * 4, split="dev")
    assert result.n == len(DEV) * 4
    assert 0.0 <= result.mean <= 1.0
    assert not marker.exists()


# --- the planner and the whole agent run, shown on the terminal ---------------------

WORDS = ("great", "awful", "lovely", "dull", "superb", "bad")


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "items.jsonl"
    rows = [
        {"input": f"item {i}: it was {WORDS[i % 6]}", "output": ("positive", "negative")[i % 2]}
        for i in range(30)
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


async def test_agent_run_with_hostile_planner_proposer_and_task_shows_only_text(
    data_file: Path,
    tmp_path: Path,
    replies: dict[str, str],
    marker: Path,
    bundled_embedder,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    hostile = list(replies.values())

    def task_rule(message: str) -> str:  # every third answer is hostile
        item = int(re.search(r"item (\d+)", message).group(1))  # type: ignore[union-attr]
        return hostile[item % len(hostile)] if item % 3 == 0 else sentiment_task_model(message)

    fake = ModelSettings(base_url="fake://", model="hostile")  # not embedded: the model plans
    runtime = ModelRuntime(RuntimeSettings(task=fake, optimizer=fake))
    runtime.task = ChatCaller(fake_backend(task_rule))
    optimizer = hostile_backend(cycling(hostile))
    runtime.optimizer = ChatCaller(optimizer)
    shown = io.StringIO()
    monkeypatch.setattr("agent.cli.optimize.stderr", Console(file=shown, width=120))
    monkeypatch.setattr(
        "agent.run.session.SentenceTransformerEmbedder.bundled", lambda **_: bundled_embedder
    )
    request = OptimizeRequest(
        data=str(data_file),
        prompt=SEED_PROMPT,
        optimizer="auto",
        budget=Budget(max_queries=40),  # enough planner turns to meet every hostile decision
        split_spec=SplitSpec(train=10, dev=8, test=12, seed=0),
    )
    report = await run_piloted(request, runtime, tmp_path / "home", None)

    assert report is not None
    assert report["scores"]["best"]["test"]["split"] == "test"
    assert optimizer.model.structured_calls > 0, "the planner model was never asked"
    assert_safe_prompt(report["best_prompt"])
    for entry in report["trajectory"]:
        assert_safe_prompt(entry["prompt"])
    show_report(report, as_json=False, out=None)
    terminal = shown.getvalue() + capsys.readouterr().out
    assert "planner:" in terminal
    assert "planner: [/] [bold]boom" in terminal, "no planner message was shown, or not as text"
    assert not CONTROL.search(terminal.replace("\n", "")), (
        "a control character reached the terminal"
    )
    assert not marker.exists()


def test_report_display_shows_markup_and_escapes_as_text() -> None:
    prompt = "[bold red]Classify[/] [/] \x1b[31mthe review\x1b[0m [link=http://x]y[/link]"
    score = {"mean": 0.5, "ci95": [0.25, 0.75], "n": 4}
    report = {
        "task": "t[/]", "optimizer": "gpo", "run": "r[bold]1", "seed_prompt": prompt,
        "best_prompt": prompt, "scores": {row: {"dev": score, "test": score}
                                          for row in ("initial", "best")},
        "test_difference": None, "stopped": "budget [/]", "steps": 1, "dev_queries": 2,
        "wall_time_s": 1.0,
        "usage": {role: {"calls": 1, "prompt_tokens": 2, "completion_tokens": 3, "cache_hits": 0}
                  for role in ("task", "optimizer")},
    }  # fmt: skip
    console = Console(file=io.StringIO(), width=200, color_system=None)  # no styling of its own
    console.print(report_table(report))
    for line in summary_lines(report):
        console.print(line, highlight=False)
    shown = console.file.getvalue()
    assert "[bold red]Classify[/] [/] the review [link=http://x]y[/link]" in shown
    assert "t[/] · gpo · run r[bold]1" in shown
    assert "budget [/]" in shown
    assert "\x1b" not in shown


def test_runs_list_shows_a_run_named_like_markup_as_written(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    FolderRegistry(tmp_path).record("[bold]sneaky\x1b[31m", status="finished", optimizer="gpo")
    result = CliRunner().invoke(app, ["runs", "list", "--home", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "[bold]sneaky" in result.output
    assert "\x1b" not in result.output


# --- nothing executes model text: the calls that could, and where they are -----------

# call name -> the only files allowed to make it, and why
ALLOWED_CALLS: dict[str, dict[str, str]] = {
    "subprocess.Popen": {"agent/llm/local_server.py": "starts llama.cpp with a fixed argv"},
    "importlib.import_module": {
        "optimizers/registry.py": "optimizer classes from the fixed registry",
        "optimizers/evaluation/metrics.py": "a --metric module:function from the command line",
    },
    "importlib.util.spec_from_file_location": {
        "optimizers/evaluation/metrics.py": "a --metric file.py:function from the command line",
    },
    "exec": {
        "agent/cli/app.py": 'exec("None"), a constant (checked below): clears the mark CPython '
        "leaves after a handled Ctrl-C, which would turn exit 130 into a SIGINT death",
    },
}
CONSTANT_ONLY = {"exec"}
"""Allowed calls that may only ever be given literal arguments, never text from outside."""
FORBIDDEN_CALLS = {
    "eval", "exec", "compile", "__import__", "os.system", "os.popen", "os.exec", "os.spawn",
    "pickle.load", "pickle.loads", "marshal.loads", "shelve.open", "yaml.load",
    "yaml.unsafe_load", "subprocess.run", "subprocess.call", "subprocess.check_call",
    "subprocess.check_output", "subprocess.getoutput", "runpy.run_path", "runpy.run_module",
    "code.interact", "pty.spawn",
}  # fmt: skip


def _called_names(tree: ast.AST) -> list[tuple[str, int, ast.Call]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            parts: list[str] = []
            func = node.func
            while isinstance(func, ast.Attribute):
                parts.append(func.attr)
                func = func.value
            if isinstance(func, ast.Name):
                parts.append(func.id)
                found.append((".".join(reversed(parts)), node.lineno, node))
    return found


def test_no_code_path_executes_text() -> None:
    """Every call that can run code or deserialise objects, across agent/optimizers/memory/ui."""
    problems = []
    for folder in ("agent", "optimizers", "memory", "ui"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = str(path.relative_to(ROOT))
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for name, line, node in _called_names(tree):
                if name in ALLOWED_CALLS:
                    if relative not in ALLOWED_CALLS[name]:
                        problems.append(f"{relative}:{line} calls {name}")
                    elif name in CONSTANT_ONLY and not all(
                        isinstance(a, ast.Constant)
                        for a in (*node.args, *(k.value for k in node.keywords))
                    ):
                        problems.append(f"{relative}:{line} calls {name} on a non-constant")
                elif name in FORBIDDEN_CALLS or name.startswith(("os.exec", "os.spawn")):
                    problems.append(f"{relative}:{line} calls {name}")
                if any(k.arg == "shell" for k in node.keywords):
                    problems.append(f"{relative}:{line} passes shell= to {name}")
    assert problems == [], (
        "code that could run or unpickle text: justify it in ALLOWED_CALLS or remove it"
    )
