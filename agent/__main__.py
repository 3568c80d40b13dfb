"""``python -m agent`` runs the headless ``promptpilot`` commands (all but ``ui``)."""

from agent.cli.app import main

main()
