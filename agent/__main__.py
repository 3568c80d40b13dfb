"""``python -m agent`` runs the ``promptpilot`` command."""

from agent.cli import main

main()
