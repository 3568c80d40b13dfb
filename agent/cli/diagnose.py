"""``promptpilot diagnose``: what a prompt's gain comes from (see :mod:`agent.run.diagnose`).

Two forms share one command, told apart by the first argument:

- ``promptpilot diagnose RUN_ID [--only classes,ablation,overfit] [--split test]``
  diagnoses a finished run from its record;
- ``promptpilot diagnose labels|proposals --data FILE --prompt TEXT --optimizer NAME
  --budget N`` re-runs an optimizer (label corruption, proposal vs selection).

Tables are drawn from the same JSON payload ``--json`` prints.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from agent.cli import options as opt
from agent.cli.console import stdout_console
from agent.cli.display import optimize_progress, score_cell
from agent.cli.output import friendly_errors, stderr
from agent.llm.runtime import ModelRuntime
from agent.run.diagnose import (
    RUN_DIAGNOSTICS,
    check_run_diagnostics,
    diagnose_labels,
    diagnose_proposals,
    diagnose_run,
    finished_run,
    optimizer_factory,
)
from agent.run.evaluate import EvalRequest, select_examples
from agent.run.request import OptimizeRequest
from agent.run.workspace import Workspace
from optimizers.budget import Budget
from optimizers.diagnostics.label_corruption import CorruptionConfig
from optimizers.diagnostics.rerun import ArmEventFn
from optimizers.events import RunEvent
from optimizers.registry import GPO

RERUNS = ("labels", "proposals")
_RUN = "For a run id"
_RERUN = "For labels / proposals"


_Target = Annotated[
    str,
    typer.Argument(
        help="A finished run's id (see `promptpilot runs list`), or `labels` (re-run an "
        "optimizer with corrupted train labels) or `proposals` (its candidates vs as many "
        "paraphrases of the seed)."
    ),
]
_Only = Annotated[
    str | None,
    typer.Option(
        help="Diagnostics to run, comma-separated: classes, ablation, overfit (default: all).",
        rich_help_panel=_RUN,
    ),
]
_Split = Annotated[
    str | None,
    typer.Option(
        help="Split for class shares and the ablation: dev or test (default: test).",
        rich_help_panel=_RUN,
    ),
]
_Data = Annotated[
    str | None,
    typer.Option(help="Eval set file or built-in task name.", rich_help_panel=_RERUN),
]
_Prompt = Annotated[
    str | None,
    typer.Option("--prompt", "-p", help="The prompt to start from.", rich_help_panel=_RERUN),
]
_Optimizer = Annotated[
    str,
    typer.Option(help="zopo, gpo, textgrad, ape or random.", rich_help_panel=_RERUN),
]
_Budget = Annotated[
    int,
    typer.Option(help="Dev queries per arm, the seed included.", rich_help_panel=_RERUN),
]
_Rate = Annotated[
    float,
    typer.Option(help="labels: share of train labels to corrupt.", rich_help_panel=_RERUN),
]
_CorruptionSeed = Annotated[
    int, typer.Option(help="labels: seed of the corruption.", rich_help_panel=_RERUN)
]


@opt.with_flag_groups
def diagnose_command(
    target: _Target,
    only: _Only = None,
    split: _Split = None,
    data: _Data = None,
    prompt: _Prompt = None,
    optimizer: _Optimizer = GPO,
    budget: _Budget = 20,
    rate: _Rate = 1.0,
    corruption_seed: _CorruptionSeed = 0,
    scoring: opt.ScoringFlags = opt.DEFAULT_SCORING,
    output: opt.OutputFlags = opt.DEFAULT_OUTPUT,
    data_flags: opt.DataFlags = opt.DEFAULT_DATA,
    models: opt.ModelFlags = opt.DEFAULT_MODELS,
) -> None:
    """Explain a prompt's gain: class shares, sentence ablation, overfitting, label corruption.

    `diagnose RUN_ID` re-scores a finished run's initial and best prompts (answers the
    run paid for come from the cache). `diagnose labels` and `diagnose proposals` re-run
    an optimizer at equal budget and compare on test, paired by example.
    """
    with friendly_errors():
        if target in RERUNS:
            if only is not None or split is not None:
                raise ValueError(f"--only and --split apply to a run id, not to `{target}`")
            if not data or not prompt:
                raise ValueError(f"`diagnose {target}` needs --data and --prompt")
            request = OptimizeRequest(
                data=data,
                prompt=prompt,
                optimizer=optimizer,
                budget=Budget(max_queries=budget),
                **opt.request_fields(data_flags, scoring),
            )
            payload = _rerun(
                target, request, models, CorruptionConfig(rate=rate, seed=corruption_seed)
            )
        else:
            if data is not None or prompt is not None:
                raise ValueError(
                    "--data and --prompt apply to `labels` / `proposals`; a run's data and "
                    "prompts come from its record"
                )
            payload = _diagnose_run(target, models, only=only, split=split or "test")
        output.emit(payload, lambda: show_diagnostics(payload, stdout_console()))


def _rerun(
    target: str, request: OptimizeRequest, models: opt.ModelFlags, corruption: CorruptionConfig
) -> dict[str, Any]:
    """``diagnose labels`` / ``proposals``: re-run the optimizer in two arms, compare on test."""
    optimizer_factory(request.optimizer, request.budget)  # no `auto`: fail before a server
    select_examples(
        EvalRequest(data=request.data, prompts=(request.prompt,), columns=request.columns)
    )
    max_queries = request.budget.max_queries or 0
    with (
        Workspace(models.stores()) as root,
        ModelRuntime(models.settings()) as runtime,
        _arm_progress(stderr, max_queries) as on_event,
    ):
        if target == "labels":
            coroutine = diagnose_labels(
                request, runtime, home=root, rate=corruption.rate,
                corruption_seed=corruption.seed, on_event=on_event,
            )  # fmt: skip
        else:
            coroutine = diagnose_proposals(request, runtime, home=root, on_event=on_event)
        return asyncio.run(coroutine).to_dict()


def _diagnose_run(
    target: str, models: opt.ModelFlags, *, only: str | None, split: str
) -> dict[str, Any]:
    """``diagnose RUN_ID``: re-score a finished run's seed and best prompts."""
    chosen = check_run_diagnostics((only or ",".join(RUN_DIAGNOSTICS)).split(","), split)
    with Workspace(models.stores()) as root:
        return _diagnose_finished(target, models, root, chosen, split)


def _diagnose_finished(
    target: str, models: opt.ModelFlags, root: Workspace, chosen: tuple[str, ...], split: str
) -> dict[str, Any]:
    finished_run(root, target)  # an unknown or unfinished run fails before a server
    with (
        ModelRuntime(models.settings(), roles=("task",)) as runtime,
        stderr.status(f"diagnosing {target}: {', '.join(chosen)}"),
    ):
        result = asyncio.run(diagnose_run(target, runtime, home=root, only=chosen, split=split))
    return result.to_dict()


@contextmanager
def _arm_progress(console: Console, max_queries: int) -> Iterator[ArmEventFn]:
    """One progress bar per arm (the optimize bar), replaced when the next arm starts."""
    with ExitStack() as stack:
        current: dict[str, Any] = {}

        def on_event(arm: str, event: RunEvent) -> None:
            if current.get("arm") != arm:
                stack.close()
                console.print(f"[dim]arm:[/] {arm}")
                current["arm"] = arm
                bar = optimize_progress(console, Budget(max_queries=max_queries, max_calls=None))
                current["fn"] = stack.enter_context(bar)
            current["fn"](event)

        yield on_event


# ------------------------------------------------------------------------------- display


def _diff(comparison: dict[str, Any] | None) -> str:
    if comparison is None:
        return "—"
    low, high = comparison["ci95"]
    return f"{comparison['diff']:+.3f} [{low:+.3f}, {high:+.3f}]"


def _truncate(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def show_diagnostics(payload: dict[str, Any], console: Console) -> None:
    """Print any diagnostics payload (a run's, ``labels`` or ``proposals``) as tables."""
    kind = payload.get("diagnostic")
    if kind in RERUNS:
        console.print(arms_table(payload))
        console.print(payload["finding"], highlight=False)
        return
    console.print(
        f"run {payload['run']} · {payload['task']} · {payload['optimizer']} · "
        f"split {payload['split']}",
        highlight=False,
    )
    for table in _run_tables(payload):
        console.print(table)
    for name in RUN_DIAGNOSTICS:
        if payload.get(name):
            console.print(f"[bold]{name}:[/] {payload[name]['finding']}", highlight=False)
    for name, why in payload.get("skipped", {}).items():
        console.print(f"[yellow]{name} skipped:[/] {why}", highlight=False)
    usage = payload["usage"]
    console.print(
        f"task calls paid: {usage['calls']}, cache hits: {usage['cache_hits']}", highlight=False
    )


def _run_tables(payload: dict[str, Any]) -> list[Table]:
    tables = []
    if classes := payload.get("classes"):
        tables += [shares_table(classes), *confusion_tables(classes)]
    if ablation := payload.get("ablation"):
        tables.append(ablation_table(ablation))
    if overfit := payload.get("overfit"):
        tables.append(overfit_table(overfit))
    return tables


def shares_table(classes: dict[str, Any]) -> Table:
    """Per class: how common it is, how often each prompt predicted it, and its recall."""
    initial, final = classes["initial"], classes["final"]
    table = Table(title=f"prediction shares · split {classes['split']} · n={initial['n']}")
    for column in ("class", "true share", "initial", "final", "recall initial", "recall final"):
        table.add_column(column, justify="left" if column == "class" else "right")
    for label in classes["labels"]:
        true = classes["true_shares"].get(label)
        recall_a, recall_b = initial["recall"].get(label), final["recall"].get(label)
        table.add_row(
            label,
            "—" if true is None else f"{true:.0%}",
            f"{initial['shares'][label]:.0%}",
            f"{final['shares'][label]:.0%}",
            "—" if recall_a is None else f"{recall_a:.2f}",
            "—" if recall_b is None else f"{recall_b:.2f}",
        )
    table.add_row(
        "accuracy (balanced)",
        "",
        f"{initial['accuracy']:.3f} ({initial['balanced_accuracy']:.3f})",
        f"{final['accuracy']:.3f} ({final['balanced_accuracy']:.3f})",
        "",
        "",
    )
    return table


def confusion_tables(classes: dict[str, Any]) -> list[Table]:
    """The confusion matrix of each prompt: rows true class, columns predicted class."""
    tables = []
    for which in ("initial", "final"):
        confusion = classes[which]["confusion"]
        table = Table(title=f"confusion · {which} prompt (rows: true, columns: predicted)")
        table.add_column("true \\ predicted")
        for label in classes["labels"]:
            table.add_column(label, justify="right")
        for true, row in confusion.items():
            table.add_row(true, *(str(row.get(label, 0)) for label in classes["labels"]))
        tables.append(table)
    return tables


def ablation_table(ablation: dict[str, Any]) -> Table:
    """Each sentence: the score without it and its contribution (full − without)."""
    table = Table(
        title=f"sentence ablation · split {ablation['split']} · full prompt "
        f"{score_cell(ablation['full'])}"
    )
    table.add_column("#", justify="right")
    table.add_column("sentence", max_width=50)
    table.add_column("score without [95% CI]", justify="right", no_wrap=True)
    table.add_column("contribution [95% CI]", justify="right", no_wrap=True)
    table.add_column("p", justify="right")
    table.add_column("share of gain", justify="right")
    for sentence in ablation["sentences"]:
        share = sentence["share_of_gain"]
        table.add_row(
            str(sentence["index"] + 1),
            sentence["sentence"],
            score_cell(sentence["score_without"]),
            _diff(sentence["contribution"]),
            f"{sentence['contribution']['p_value']:.3g}",
            "—" if share is None else f"{share:.0%}",
        )
    return table


def overfit_table(overfit: dict[str, Any]) -> Table:
    """Seed and chosen prompt on dev and test, and each one's gap."""
    table = Table(title="overfitting guard")
    table.add_column("")
    table.add_column("prompt", max_width=50)
    table.add_column("dev [95% CI]", justify="right", no_wrap=True)
    table.add_column("test [95% CI]", justify="right", no_wrap=True)
    table.add_column("dev − test [95% CI]", justify="right", no_wrap=True)
    for row, gap in (("seed", "seed_gap"), ("best", "gap")):
        table.add_row(
            row,
            _truncate(overfit[f"{row}_prompt"]),
            score_cell(overfit[row]["dev"]),
            score_cell(overfit[row]["test"]),
            _diff(overfit[gap]),
        )
    table.add_row(
        "excess", "(best − seed) on dev − (best − seed) on test", "", "",
        _diff(overfit["excess_gap"]),
    )  # fmt: skip
    return table


def arms_table(payload: dict[str, Any]) -> Table:
    """The two arms of a re-run diagnostic side by side."""
    arms = (
        (payload["clean"], payload["corrupted"])
        if payload["diagnostic"] == "labels"
        else (payload["optimizer_arm"], payload["paraphrase_arm"])
    )
    title = (
        f"label corruption · {payload['optimizer']} · {payload['changed']}/"
        f"{payload['n_train']} train labels changed"
        if payload["diagnostic"] == "labels"
        else f"proposal vs selection · {payload['optimizer']} · {payload['candidates']} "
        f"candidates vs {payload['paraphrases']} paraphrases"
    )
    table = Table(title=title)
    table.add_column("arm")
    table.add_column("chosen prompt", max_width=50)
    table.add_column("dev [95% CI]", justify="right", no_wrap=True)
    table.add_column("test [95% CI]", justify="right", no_wrap=True)
    table.add_column("test gain vs seed", justify="right", no_wrap=True)
    table.add_column("queries", justify="right")
    table.add_column("calls", justify="right")
    for arm in arms:
        table.add_row(
            arm["label"],
            arm["best_prompt"],
            score_cell(arm["best_dev"]),
            score_cell(arm["best_test"]),
            _diff(arm["test_gain"]),
            str(arm["dev_queries"]),
            str(arm["calls"]),
        )
    seed = arms[0]
    table.add_row(
        "seed", "(the starting prompt)",
        score_cell(seed["seed_dev"]), score_cell(seed["seed_test"]), "", "", "",
    )  # fmt: skip
    return table
