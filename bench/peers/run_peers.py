"""DSPy's optimizers on the gains benchmark: same tasks, splits, server, template and metric.

For every task of ``bench/gains_tasks.py`` and every seed, three DSPy optimizers
(LabeledFewShot, BootstrapFewShotWithRandomSearch, MIPROv2 with demonstrations)
start from the weak instruction ``"Answer the question."`` and compile a one-step
program on the train split with the dev split as validation; the compiled program
is then scored once on the held-out test split (exact match, 95% bootstrap interval).
The test split never guides a search. Every HTTP call goes through a counting proxy
(``count_proxy.py``) in front of the embedded llama.cpp server, so optimization
(``compile_calls``) and test scoring (``test_calls``) are counted apart, whatever
DSPy's own bookkeeping says.

Sameness with PromptPilot: the splits come from PromptPilot's own loader and splitter
(``export_splits.py``, run with the project venv); the metric is PromptPilot's
``exact`` (its ``normalize.py`` imported by path); the task prompt is its inline
template, demonstrations as ``Input: x / Output: y`` blocks before the input; the task
model is its default (temperature 0, max_tokens 48), instruction proposals use its
optimizer-model max_tokens (160); the server is the one PromptPilot embeds.

DSPy's default ChatAdapter cannot parse SmolLM2-135M's replies (it raises on the first
one it cannot parse), so a LENIENT adapter is used (``InlineAdapter`` below, see
``ADAPTER_NOTE``); every record says so.

Runs in ``bench/peers/.venv-dspy`` (``setup_venv.sh``); started with another Python it
creates that venv if needed and re-executes itself there. Records go to
``bench/results/peers.json`` after each run; a task/seed/optimizer already recorded
is skipped, so a killed benchmark resumes.

    nice -n 10 .venv/bin/python bench/peers/run_peers.py                  # the benchmark
    .venv/bin/python bench/peers/run_peers.py --tasks sentiment --seeds 0 --smoke
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VENV_PYTHON = HERE / ".venv-dspy" / "bin" / "python"
PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"
SPLITS_DIR = HERE / ".splits"
RESULTS = ROOT / "bench" / "results" / "peers.json"
SMOKE_RESULTS = Path(tempfile.gettempdir()) / "promptpilot-peers-smoke.json"
OPTIMIZERS = ("labeled", "bootstrap_rs", "mipro")
SERVER_START_TIMEOUT_S = 180.0

ADAPTER_NOTE = (
    "lenient InlineAdapter (bench/peers/run_peers.py), not DSPy's default ChatAdapter, which "
    "raises on the first SmolLM2-135M reply it cannot parse: the task program sends one user "
    "message '{instruction}\\n\\n[Input: x\\nOutput: y\\n\\n ...]Input: {input}\\nOutput:' "
    "(PromptPilot's inline template, demonstrations before the input) and takes the reply's "
    "answer line (PromptPilot's answer_line: the first line with content, answer labels "
    "stripped); an empty reply is an empty answer, not an error. DSPy's own meta-prompts "
    "(MIPROv2's proposer) keep ChatAdapter's format, but a reply it cannot parse goes whole "
    "into the last output field instead of raising, and there is no JSON-adapter retry."
)

# Optimizer settings. "full": small-model-friendly (at most 4 demonstrations, so BBH prompts
# fit the 2048-token context); "smoke": the smallest settings that still run every stage.
SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "full": {
        "labeled": {"k": 4},
        "bootstrap_rs": {
            "max_bootstrapped_demos": 4,
            "max_labeled_demos": 4,
            "num_candidate_programs": 8,
            "max_rounds": 1,
        },
        "mipro": {"auto": "light", "max_bootstrapped_demos": 4, "max_labeled_demos": 4},
    },
    "smoke": {
        "labeled": {"k": 4},
        "bootstrap_rs": {
            "max_bootstrapped_demos": 2,
            "max_labeled_demos": 2,
            "num_candidate_programs": 1,
            "max_rounds": 1,
        },
        "mipro": {
            "auto": None,
            "num_candidates": 2,
            "num_trials": 2,
            "minibatch": False,
            "max_bootstrapped_demos": 2,
            "max_labeled_demos": 2,
        },
    },
}


# ------------------------------------------------------------------ PromptPilot by path


def load_by_path(name: str, path: Path) -> ModuleType:
    """Import one stdlib(+numpy)-only module of the project without importing the project."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


gains_tasks = load_by_path("pp_gains_tasks", ROOT / "bench" / "gains_tasks.py")
normalize = load_by_path("pp_normalize", ROOT / "optimizers" / "evaluation" / "normalize.py")


def exact(prediction: str, targets: Sequence[str]) -> float:
    """PromptPilot's ``exact`` metric (scope "answer"): any acceptable target, normalised."""
    predicted = normalize.normalize_answer(prediction or "")
    return float(any(predicted == normalize.normalize_answer(target) for target in targets))


def mean_ci95(scores: Sequence[float]) -> tuple[float, tuple[float, float]]:
    """PromptPilot's own interval: percentile bootstrap, 2000 resamples, seed 0."""
    stats = sys.modules.get("pp_stats") or load_by_path(
        "pp_stats", ROOT / "optimizers" / "evaluation" / "stats.py"
    )
    mean, interval = stats.mean_with_ci(list(scores), n_resamples=2000, seed=0)
    return mean, (interval.low, interval.high)


_NAME = re.compile(r"\{([a-z_]+)\}")


def fill(template: str, **values: str) -> str:
    """PromptPilot's one-pass placeholder fill (braces in values stay literal)."""
    return _NAME.sub(lambda match: values.get(match.group(1), match.group(0)), template)


# ---------------------------------------------------------------------------- venv


def ensure_dspy_python() -> None:
    """Re-execute in the DSPy venv (creating it first) when this Python has no dspy."""
    if importlib.util.find_spec("dspy") is not None:
        return
    if os.environ.get("PEERS_REEXEC"):
        raise SystemExit(f"dspy is not importable in {sys.executable}; run setup_venv.sh")
    if not VENV_PYTHON.exists():
        subprocess.run(["bash", str(HERE / "setup_venv.sh")], check=True)
    os.environ["PEERS_REEXEC"] = "1"
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])


def export_splits(tasks: Sequence[str], seeds: Sequence[int], project_python: Path) -> Path:
    """PromptPilot's splits and defaults as JSON, written by the project venv."""
    subprocess.run(
        [
            str(project_python),
            str(HERE / "export_splits.py"),
            "--tasks",
            ",".join(tasks),
            "--seeds",
            ",".join(map(str, seeds)),
            "--out",
            str(SPLITS_DIR),
        ],
        check=True,
        cwd=ROOT,
    )
    return SPLITS_DIR


# -------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def llama_server(
    project_python: Path, meta: dict[str, Any], port: int, threads: int, log_path: Path
) -> Iterator[str]:
    """PromptPilot's embedded server (``agent.llm.llama_child``: it dies with its parent)."""
    command = [
        str(project_python), "-m", "agent.llm.llama_child", str(os.getpid()),
        "--model", meta["gguf"], "--host", "127.0.0.1", "--port", str(port),
        "--n_ctx", str(meta["n_ctx"]), "--n_threads", str(threads),
        "--model_alias", meta["alias"],
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k.upper() not in ("HOST", "PORT", "API_KEY")}
    env.update(HOST="127.0.0.1", PORT=str(port))
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}"
    print(f"llama.cpp server pid {process.pid} on {url} (log {log_path})", flush=True)
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the llama.cpp server exited; see {log_path}")
            try:
                with urllib.request.urlopen(f"{url}/v1/models", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the llama.cpp server did not start; see {log_path}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --------------------------------------------------------------------------- DSPy


def build_dspy(meta: dict[str, Any]) -> dict[str, Any]:
    """Import DSPy (offline-safe) and define the adapter, signature and metric."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no cost-map download
    os.environ.setdefault("DSPY_CACHEDIR", str(Path(tempfile.gettempdir()) / "peers-dspy-cache"))
    import dspy
    from dspy.utils.exceptions import AdapterParseError

    field_header = re.compile(r"\[\[ ## (\w+) ## \]\]")

    class Solve(dspy.Signature):
        """Answer the question."""

        input: str = dspy.InputField()
        answer: str = dspy.OutputField()

    def is_task(signature: Any) -> bool:
        return list(signature.input_fields) == ["input"] and list(signature.output_fields) == [
            "answer"
        ]

    class InlineAdapter(dspy.ChatAdapter):
        """PromptPilot's inline template for the task; never raises on a reply."""

        def __init__(self) -> None:
            super().__init__(use_json_adapter_fallback=False)

        def format(self, signature: Any, demos: list[Any], inputs: dict[str, Any]) -> list[dict]:
            if not is_task(signature):
                return super().format(signature, demos, inputs)
            blocks = [
                f"Input: {demo.get('input')}\nOutput: {demo.get('answer')}"
                for demo in demos
                if demo.get("input") is not None and demo.get("answer") is not None
            ]
            prompt = "\n\n".join([signature.instructions.strip(), *blocks])
            text = fill(meta["inline_template"], prompt=prompt, input=str(inputs["input"]))
            return [{"role": "user", "content": text}]

        def parse(self, signature: Any, completion: str) -> dict[str, Any]:
            if is_task(signature):
                return {"answer": normalize.answer_line(completion or "")}
            try:
                return super().parse(signature, completion)
            except AdapterParseError:
                names = list(signature.output_fields)
                found = {}
                parts = field_header.split(completion or "")
                for name, value in zip(parts[1::2], parts[2::2], strict=False):
                    if name in names:
                        found[name] = value.strip()
                text = field_header.sub("", completion or "").strip()
                return {name: found.get(name, text if name == names[-1] else "") for name in names}

        def _call_postprocess(
            self, processed: Any, original: Any, outputs: list[Any], lm: Any, lm_kwargs: Any
        ) -> list[dict[str, Any]]:
            # DSPy raises on an empty reply; the lenient adapter reads it as an empty answer.
            fixed = []
            for output in outputs:
                if isinstance(output, dict) and not output.get("text"):
                    output = {**output, "text": " "} if not output.get("tool_calls") else output
                elif not isinstance(output, dict) and not output:
                    output = " "
                fixed.append(output)
            return super()._call_postprocess(processed, original, fixed, lm, lm_kwargs)

    def metric(example: Any, prediction: Any, trace: Any = None, *args: Any, **kw: Any) -> float:
        return exact(getattr(prediction, "answer", "") or "", example.targets)

    return {
        "dspy": dspy,
        "Solve": Solve,
        "InlineAdapter": InlineAdapter,
        "metric": metric,
    }


def examples(kit: dict[str, Any], rows: list[dict[str, Any]]) -> list[Any]:
    """PromptPilot's examples as DSPy examples; the label shown as a demo is targets[0]."""
    dspy = kit["dspy"]
    return [
        dspy.Example(
            input=r["input"], answer=r["targets"][0], targets=r["targets"], id=r["id"]
        ).with_inputs("input")
        for r in rows
    ]


def compile_program(
    kit: dict[str, Any],
    optimizer: str,
    settings: dict[str, Any],
    train: list[Any],
    dev: list[Any],
    seed: int,
    prompt_lm: Any,
    task_lm: Any,
) -> Any:
    """One DSPy optimizer's compile on train, dev as its validation set."""
    dspy = kit["dspy"]
    student = dspy.Predict(kit["Solve"].with_instructions(gains_tasks.WEAK_SEED))
    options = dict(settings)
    if optimizer == "labeled":
        return dspy.LabeledFewShot(k=options["k"]).compile(student, trainset=train)
    if optimizer == "bootstrap_rs":
        teleprompter = dspy.BootstrapFewShotWithRandomSearch(
            metric=kit["metric"], num_threads=1, **options
        )
        return teleprompter.compile(student, trainset=train, valset=dev)
    if optimizer == "mipro":
        compile_options = {
            key: options.pop(key) for key in ("num_trials", "minibatch") if key in options
        }
        teleprompter = dspy.MIPROv2(
            metric=kit["metric"],
            prompt_model=prompt_lm,
            task_model=task_lm,
            num_threads=1,
            seed=seed,
            **options,
        )
        return teleprompter.compile(student, trainset=train, valset=dev, **compile_options)
    raise ValueError(f"unknown optimizer {optimizer!r}; known: {', '.join(OPTIMIZERS)}")


def describe(program: Any) -> dict[str, Any]:
    """The compiled prompt: instruction and demonstrations."""
    predictor = program.predictors()[0]
    demos = [
        {"input": str(d.get("input"))[:300], "answer": str(d.get("answer"))[:100]}
        for d in predictor.demos
    ]
    return {"instruction": predictor.signature.instructions, "demos": demos}


# ------------------------------------------------------------------------- records


def load_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return list(json.loads(path.read_text()).get("records", []))


def save_records(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"records": records}, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(path)


def record_key(record: dict[str, Any]) -> tuple[str, int, str, str]:
    return (record["task"], int(record["seed"]), record["optimizer"], record["profile"])


def cpu_name() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def one_run(
    kit: dict[str, Any],
    proxy: Any,
    split: dict[str, Any],
    optimizer: str,
    profile: str,
    meta: dict[str, Any],
    lms: tuple[Any, Any],
    limits: tuple[int | None, int | None] = (None, None),
) -> dict[str, Any]:
    """Compile, then score on test; every phase's HTTP calls counted by the proxy."""
    dspy = kit["dspy"]
    task_lm, prompt_lm = lms
    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=True)  # fresh per run
    settings = SETTINGS[profile][optimizer]
    train, dev, test = (examples(kit, split[name]) for name in ("train", "dev", "test"))
    dev, test = dev[: limits[0]], test[: limits[1]]  # smoke runs only: a prefix of each
    tag = f"{split['task']}/s{split['seed']}/{optimizer}/{profile}"
    record: dict[str, Any] = {
        "task": split["task"],
        "seed": split["seed"],
        "optimizer": optimizer,
        "profile": profile,
        "settings": settings,
        "split_sha256": split["sha256"],
        "sizes": {"train": len(train), "dev": len(dev), "test": len(test)},
        "start_instruction": gains_tasks.WEAK_SEED,
        "metric": "exact",
        "template": "inline",
        "model": {
            "file": Path(meta["gguf"]).name,
            "task": meta["task"],
            "proposals": meta["optimizer"],
        },
        "dspy_version": dspy.__version__,
        "adapter": ADAPTER_NOTE,
        "machine": {
            "cpu": cpu_name(),
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_start": round(os.getloadavg()[0], 2),
            "server_threads": meta.get("server_threads"),
        },
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "error": None,
    }
    started = time.monotonic()
    proxy.set_phase(f"{tag}/compile")
    try:
        with dspy.context(lm=task_lm):
            program = compile_program(
                kit, optimizer, settings, train, dev, split["seed"], prompt_lm, task_lm
            )
    except Exception as exc:  # one crash must not kill the benchmark
        program = None
        record["error"] = f"compile: {type(exc).__name__}: {exc}"[:2000]
        record["traceback"] = traceback.format_exc()[-4000:]
    compile_s = time.monotonic() - started
    compile_counts = proxy.counts(f"{tag}/compile")
    record.update(
        compile_calls=compile_counts["chat"],
        compile_requests=compile_counts["requests"],
        compile_uncapped_calls=compile_counts["uncapped_chat"],
        compile_http_errors=compile_counts["errors"],
        compile_tokens=compile_counts["prompt_tokens"] + compile_counts["completion_tokens"],
        compile_s=round(compile_s, 2),
    )
    if program is None:
        record.update(test=None, test_calls=0, test_s=0.0, wall_s=round(compile_s, 2))
        return record

    proxy.set_phase(f"{tag}/test")
    test_started = time.monotonic()
    per_example, failures = [], 0
    with dspy.context(lm=task_lm):
        for example in test:
            try:
                answer = program(input=example.input).answer or ""
            except Exception as exc:  # an endpoint error scores 0 and is counted
                failures += 1
                answer = f"<error: {type(exc).__name__}: {str(exc)[:200]}>"
                score = 0.0
            else:
                score = exact(answer, example.targets)
            per_example.append({"id": example.id, "score": score, "answer": answer[:200]})
    test_s = time.monotonic() - test_started
    scores = [row["score"] for row in per_example]
    mean, (low, high) = mean_ci95(scores)
    test_counts = proxy.counts(f"{tag}/test")
    record.update(
        test={"mean": mean, "ci95": [low, high], "n": len(scores), "failures": failures},
        test_calls=test_counts["chat"],
        test_requests=test_counts["requests"],
        test_uncapped_calls=test_counts["uncapped_chat"],
        test_tokens=test_counts["prompt_tokens"] + test_counts["completion_tokens"],
        test_s=round(test_s, 2),
        wall_s=round(compile_s + test_s, 2),
        program=describe(program),
        per_example=per_example,
    )
    return record


# ---------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(t.name for t in gains_tasks.TASKS))
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--optimizers", default=",".join(OPTIMIZERS))
    parser.add_argument("--port", type=int, default=0, help="llama.cpp server port (0: free)")
    parser.add_argument("--proxy-port", type=int, default=0, help="counting proxy port (0: free)")
    parser.add_argument(
        "--threads",
        type=int,
        default=os.cpu_count() or 1,
        help="server threads (default: every core, as PromptPilot's embedded server)",
    )
    parser.add_argument(
        "--upstream", help="use this running server (http://127.0.0.1:P) instead of starting one"
    )
    parser.add_argument(
        "--smoke", action="store_true", help="smallest optimizer settings; not a result"
    )
    parser.add_argument("--out", type=Path, help=f"records (default {RESULTS.relative_to(ROOT)})")
    parser.add_argument("--limit-dev", type=int, help="smoke only: score the first N of dev")
    parser.add_argument("--limit-test", type=int, help="smoke only: score the first N of test")
    parser.add_argument("--retry-errors", action="store_true", help="rerun recorded crashes")
    parser.add_argument("--project-python", type=Path, default=PROJECT_PYTHON)
    args = parser.parse_args(argv)
    args.task_list = [t for t in args.tasks.split(",") if t]
    args.seed_list = [int(s) for s in args.seeds.split(",") if s]
    args.optimizer_list = [o for o in args.optimizers.split(",") if o]
    for name in args.optimizer_list:
        if name not in OPTIMIZERS:
            parser.error(f"unknown optimizer {name!r}; known: {', '.join(OPTIMIZERS)}")
    for name in args.task_list:
        gains_tasks.task_by_name(name)
    args.profile = "smoke" if args.smoke else "full"
    if (args.limit_dev or args.limit_test) and not args.smoke:
        parser.error("--limit-dev and --limit-test are for --smoke runs only")
    args.out = args.out or (SMOKE_RESULTS if args.smoke else RESULTS)
    return args


def main(argv: Sequence[str] | None = None) -> None:
    ensure_dspy_python()
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks

    records = load_records(args.out)
    done = {record_key(r) for r in records if not (args.retry_errors and r.get("error"))}
    records = [r for r in records if record_key(r) in done]
    todo = [
        (task, seed, optimizer)
        for task in args.task_list
        for seed in args.seed_list
        for optimizer in args.optimizer_list
        if (task, seed, optimizer, args.profile) not in done
    ]
    print(f"{len(todo)} runs to do, {len(done)} already recorded in {args.out}", flush=True)
    if not todo:
        return

    splits_dir = export_splits(args.task_list, args.seed_list, args.project_python)
    meta = json.loads((splits_dir / "meta.json").read_text())
    if "{prompt}" not in meta["inline_template"] or "{input}" not in meta["inline_template"]:
        raise SystemExit(f"unexpected inline template {meta['inline_template']!r}")
    meta["server_threads"] = None if args.upstream else args.threads
    kit = build_dspy(meta)
    dspy = kit["dspy"]
    count_proxy = load_by_path("peers_count_proxy", HERE / "count_proxy.py")

    with contextlib.ExitStack() as stack:
        upstream = args.upstream
        if upstream is None:
            log = Path(tempfile.gettempdir()) / f"peers-llama-{os.getpid()}.log"
            port = args.port or free_port()
            server = llama_server(args.project_python, meta, port, args.threads, log)
            upstream = stack.enter_context(server)
        proxy = count_proxy.CountingProxy(upstream, port=args.proxy_port).start()
        stack.callback(proxy.stop)
        print(f"counting proxy on {proxy.base_url} -> {upstream}", flush=True)

        # engine="litellm": DSPy's native engine sends max_completion_tokens, which this
        # server ignores (uncapped answers); LiteLLM sends max_tokens. The proxy checks it.
        common = {
            "api_base": proxy.base_url,
            "api_key": "local",
            "cache": True,
            "num_retries": 2,
            "engine": "litellm",
        }
        task_lm = dspy.LM(
            f"openai/{meta['alias']}",
            temperature=meta["task"]["temperature"],
            max_tokens=meta["task"]["max_tokens"],
            **common,
        )
        prompt_lm = dspy.LM(
            f"openai/{meta['alias']}",
            temperature=meta["optimizer"]["temperature"],
            max_tokens=meta["optimizer"]["max_tokens"],
            **common,
        )
        dspy.configure(lm=task_lm, adapter=kit["InlineAdapter"](), num_threads=1)

        for task, seed, optimizer in todo:
            split = json.loads((splits_dir / f"{task}-s{seed}.json").read_text())
            print(f"== {task} seed {seed} {optimizer} ({args.profile})", flush=True)
            record = one_run(
                kit, proxy, split, optimizer, args.profile, meta, (task_lm, prompt_lm),
                (args.limit_dev, args.limit_test),
            )  # fmt: skip
            records.append(record)
            save_records(args.out, records)
            test = record["test"]
            uncapped = record["compile_uncapped_calls"] + record.get("test_uncapped_calls", 0)
            score = (
                f"{test['mean']:.3f} [{test['ci95'][0]:.3f}, {test['ci95'][1]:.3f}]"
                if test
                else "-"
            )
            print(
                f"   test {score}  compile calls {record['compile_calls']}  test calls "
                f"{record['test_calls']}  wall {record['wall_s']:.0f}s"
                + (f"  ERROR {record['error'][:200]}" if record["error"] else "")
                + (f"  WARNING {uncapped} calls without max_tokens" if uncapped else ""),
                flush=True,
            )
    print(f"records in {args.out}")


if __name__ == "__main__":
    main()
