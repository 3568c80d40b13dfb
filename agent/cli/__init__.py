"""The headless ``promptpilot`` command.

The typer app, one module per command group, the shared options, the terminal display
(progress and tables) and the demo. May import all of agent, optimizers and memory;
never ui.
"""
