"""``promptpilot``: the headless command line plus ``promptpilot ui``, the chat app.

The console script lives here, not in ``agent/``, so that dependencies point one way
(ui → agent): this module adds the ``ui`` command to the agent's command line. Gradio
is imported only when the command runs, so other commands start fast. The app
binds 127.0.0.1 by default; another interface needs ``--auth user:password`` (Gradio's
own login), since anyone who reaches the port could otherwise spend the models' budget
and read every run.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from typing import Annotated

import typer

from agent.cli import options as opt
from agent.cli.app import app
from agent.cli.app import main as headless_main
from agent.llm.local_server import free_port, is_loopback
from agent.run.workspace import Workspace

DEFAULT_PORT = 7860


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """``user:password`` as Gradio's ``auth`` pair; None when not given."""
    if value is None:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise typer.BadParameter("expected user:password (both non-empty)", param_hint="--auth")
    return user, password


def check_exposure(host: str, auth: tuple[str, str] | None) -> None:
    """Refuse to serve beyond loopback without a login."""
    if not is_loopback(host) and auth is None:
        raise typer.BadParameter(
            f"{host} is reachable from other machines; give --auth user:password "
            "(or PROMPTPILOT_UI_AUTH) to require a login, or bind 127.0.0.1",
            param_hint="--host",
        )


@opt.with_flag_groups
def ui_command(
    host: Annotated[
        str, typer.Option(help="Interface to bind; other than loopback needs --auth.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port; 0 picks a free one.")] = DEFAULT_PORT,
    auth: Annotated[
        str | None,
        typer.Option(
            help="user:password required to log in (needed for a non-loopback --host). "
            "Prefer the env var: flags show in process listings.",
            envvar="PROMPTPILOT_UI_AUTH",
            show_default=False,
        ),
    ] = None,
    models: opt.ModelFlags = opt.DEFAULT_MODELS,
) -> None:
    """Open the chat app: refine a prompt in conversation, upload eval sets, steer, inspect.

    Prints `PromptPilot UI: http://HOST:PORT/` once it is ready. The models default to
    the embedded SmolLM2 server, started once (on the first run) and shared by every
    browser session; each session can point at its own endpoints in Settings.
    """
    credentials = parse_auth(auth)
    check_exposure(host, credentials)
    settings = models.settings()
    workspace = Workspace(models.stores())
    port = port or free_port(host)

    from ui.app import build_app, launch
    from ui.live_runs import LiveRuns

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    runs = LiveRuns(workspace, settings)
    runs.warm_up()
    app = build_app(runs)
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        launch(app, host=host, port=port, auth=credentials)
        shown = host if ":" not in host else f"[{host}]"
        typer.echo(f"PromptPilot UI: http://{shown}:{port}/")
        stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        runs.close()  # the model server first: it is what must not outlive the app
        app.close()
    # Everything is closed; the interpreter's own teardown (torch, Gradio's threads) would
    # keep a stopped app alive 2-7 s more. Leave at once.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


app.command("ui")(ui_command)


def main() -> None:
    """Console-script entry point: every command, the app's included."""
    headless_main()  # the same command line, which now has ``ui`` too
