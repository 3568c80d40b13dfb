"""The embedded llama.cpp server as a child process that ends with its parent.

``LocalLLMServer.stop`` ends the server when PromptPilot exits normally, but a
``kill -9`` of PromptPilot gives it no chance: the server lived on, holding its
port, its memory and a core. Here a thread watches the parent and exits the
process once the parent is gone. (``PR_SET_PDEATHSIG`` would fire when the
*thread* that started the child exits, and the app starts it from run threads.)

Usage: ``python -m agent.llm.llama_child PARENT_PID [llama_cpp.server arguments]``.
"""

from __future__ import annotations

import os
import sys
import threading
import time

POLL_S = 0.5


def _exit_when_orphaned(parent: int) -> None:
    while os.getppid() == parent:
        time.sleep(POLL_S)
    os._exit(0)  # the parent is gone: nobody can reach or stop this server any more


def main(argv: list[str]) -> None:
    """Watch ``argv[0]`` (the parent's pid), then run llama.cpp's server with the rest."""
    parent = int(argv[0])
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()
    from llama_cpp.server.__main__ import main as serve  # after the watch: it loads for a while

    sys.argv = ["llama_cpp.server", *argv[1:]]  # serve() parses sys.argv
    serve()


if __name__ == "__main__":
    main(sys.argv[1:])
