"""The baselines: APE (best of N induced instructions) and random search.

Both draw from the candidate domain ZOPO searches, so they are its fair yardstick.
"""
