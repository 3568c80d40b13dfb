"""Choosing among candidates: racing on dev blocks, and the guard against regressions."""
