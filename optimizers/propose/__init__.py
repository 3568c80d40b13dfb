"""Where candidates come from, and what they must satisfy.

LLM generation and the parsing of its answers, the candidate domain shared by ZOPO,
APE and random search, safe text, and the user's constraints.
"""
