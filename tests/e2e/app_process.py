"""`promptpilot ui` as a person starts it: a real process on 127.0.0.1, stopped with SIGTERM."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

READY = re.compile(r"PromptPilot UI: (http://127\.0\.0\.1:\d+/)")
PROMPTPILOT = Path(sys.executable).parent / "promptpilot"


@dataclass
class UiApp:
    """The running app: its URL, its home, and where its output goes."""

    url: str
    home: Path
    process: subprocess.Popen
    stderr_path: Path
    stdout_lines: list[str] = field(default_factory=list)

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the app's stderr and stdout, for failure messages."""
        stderr = self.stderr_path.read_text(encoding="utf-8", errors="replace")
        stdout = "".join(self.stdout_lines)
        return f"--- stderr ---\n{stderr[-chars:]}\n--- stdout ---\n{stdout[-chars:]}"


PASSED_THROUGH = ("PROMPTPILOT_TASK_TIMEOUT", "PROMPTPILOT_OPTIMIZER_TIMEOUT")


def _environment() -> dict[str, str]:
    """The caller's environment without PromptPilot settings: the embedded model, defaults.

    Only the model timeouts pass through: on a machine shared with other heavy jobs
    the embedded model can need more than the default 60 s per answer.
    """
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PROMPTPILOT_") or k in PASSED_THROUGH
    }


def start_ui(home: Path, *extra: str, timeout: float = 240.0) -> UiApp:
    """Start the app on a free port and wait for its ready line on stdout."""
    home.mkdir(parents=True, exist_ok=True)
    stderr_path = home / "ui-stderr.log"
    command = [str(PROMPTPILOT), "ui", "--port", "0", "--home", str(home), *extra]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=stderr_path.open("w"), text=True,
        env=_environment(), cwd=home, start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []
    urls: queue.Queue[str] = queue.Queue()

    def drain() -> None:  # keep reading, so a chatty app never blocks on a full pipe
        assert process.stdout is not None
        for line in process.stdout:
            lines.append(line)
            if (match := READY.search(line)) is not None:
                urls.put(match.group(1))

    threading.Thread(target=drain, daemon=True).start()
    app = UiApp(url="", home=home, process=process, stderr_path=stderr_path, stdout_lines=lines)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            app.url = urls.get(timeout=0.5)
            return app
        except queue.Empty:
            if process.poll() is not None:
                raise RuntimeError(
                    f"`{' '.join(command)}` exited with {process.returncode} before printing "
                    f"'PromptPilot UI: http://127.0.0.1:PORT/'\n{app.log_tail()}"
                ) from None
    stop_ui(app)
    raise RuntimeError(
        f"`{' '.join(command)}` printed no 'PromptPilot UI: http://127.0.0.1:PORT/' line "
        f"within {timeout:.0f} s\n{app.log_tail()}"
    )


def stop_ui(app: UiApp, grace: float = 30.0) -> bool:
    """Stop the app (SIGTERM, which it handles like Ctrl-C); True if it and its children ended.

    Not SIGINT: a test runner started in the background may ignore SIGINT, and its
    children inherit that. Whatever is left of the process group we started (the
    app, its llama.cpp server) is then killed, so a failing app never leaves a model
    server eating the CPU.
    """
    clean = True
    if app.process.poll() is None:
        app.process.send_signal(signal.SIGTERM)
        try:
            app.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            clean = False
            app.process.kill()
            app.process.wait(timeout=10)
    deadline = time.monotonic() + 5  # children (the llama.cpp server) may still be ending
    while _group_alive(app.process.pid):
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(app.process.pid, signal.SIGKILL)
            return False
        time.sleep(0.2)
    return clean


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True
