"""Write the train/dev/test examples PromptPilot uses for each gains task and seed, as JSON.

Runs with the PROJECT venv (``.venv/bin/python``): it splits with PromptPilot's own
loader and splitter, exactly as ``bench/gains.py`` asks ``agent.api.optimize`` to
(``SplitSpec(train=, dev=, test=, seed=)`` on the task's file), so the DSPy side, which
runs in a venv of its own and cannot import the project, reads the very same examples.
``meta.json`` beside them holds PromptPilot's defaults the peers must match (model
file, task and optimizer model settings, server context, inline template).

    .venv/bin/python bench/peers/export_splits.py --tasks sentiment --seeds 0,1 --out DIR
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from gains_tasks import TASKS, GainsTask, task_by_name  # noqa: E402

from agent.llm.local_server import ServerSettings, bundled_model_path  # noqa: E402
from agent.llm.settings import (  # noqa: E402
    DEFAULT_OPTIMIZER_SETTINGS,
    DEFAULT_TASK_SETTINGS,
    EMBEDDED_MODEL_ALIAS,
)
from agent.run.evaluate import resolve_task  # noqa: E402
from optimizers.evaluation.templates import INLINE_TEXT  # noqa: E402
from optimizers.tasks import SplitSpec, split_task  # noqa: E402
from optimizers.tasks.example import Example  # noqa: E402


def _rows(examples: tuple[Example, ...]) -> list[dict[str, Any]]:
    return [{"id": e.id, "input": e.input, "targets": list(e.targets)} for e in examples]


def export(task: GainsTask, seed: int) -> dict[str, Any]:
    """The seeded split of one task, as PromptPilot's run of that task and seed makes it."""
    spec = SplitSpec(train=task.train, dev=task.dev, test=task.test, seed=seed)
    splits = split_task(resolve_task(str(task.path)), spec)
    record: dict[str, Any] = {
        "task": task.name,
        "seed": seed,
        "path": str(task.path),
        "metric": task.metric,
        "sizes": {"train": task.train, "dev": task.dev, "test": task.test},
        "train": _rows(splits.train),
        "dev": _rows(splits.dev),
        "test": _rows(splits.test),
    }
    body = json.dumps([record["train"], record["dev"], record["test"]], sort_keys=True)
    record["sha256"] = hashlib.sha256(body.encode()).hexdigest()
    return record


def meta() -> dict[str, Any]:
    """PromptPilot's own defaults the peers must match: model file, settings, template."""
    return {
        "gguf": str(bundled_model_path()),
        "alias": EMBEDDED_MODEL_ALIAS,
        "n_ctx": ServerSettings().n_ctx,
        "task": {
            "temperature": DEFAULT_TASK_SETTINGS.temperature,
            "max_tokens": DEFAULT_TASK_SETTINGS.max_tokens,
        },
        "optimizer": {
            "temperature": DEFAULT_OPTIMIZER_SETTINGS.temperature,
            "max_tokens": DEFAULT_OPTIMIZER_SETTINGS.max_tokens,
        },
        "inline_template": INLINE_TEXT,
    }


def _write(path: Path, value: Any) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(value, indent=1, ensure_ascii=False))
    tmp.replace(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(t.name for t in TASKS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument(
        "--out", type=Path, required=True, help="folder for TASK-sSEED.json and meta.json"
    )
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name in [n for n in args.tasks.split(",") if n]:
        task = task_by_name(name)
        for seed in [int(s) for s in args.seeds.split(",") if s]:
            _write(args.out / f"{task.name}-s{seed}.json", export(task, seed))
    _write(args.out / "meta.json", meta())


if __name__ == "__main__":
    main()
