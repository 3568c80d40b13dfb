"""Structured search: operators on a prompt's parts that need no optimizer model."""
