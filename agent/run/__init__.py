"""One run's life, from request to report, whoever drives it.

The request and report types, the live session, the single-optimizer run, step
checkpoints, run records on disk, failure recording, and the engines of the evaluate
and diagnose commands. May import agent.llm, optimizers and memory; never the graph.
"""
