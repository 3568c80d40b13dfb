"""The meta-prompts of the textual-gradient baseline, and how errors are shown in them.

Placeholders are ``{name}`` and are filled with :func:`~optimizers.evaluation.templates.fill`,
so braces inside prompts or examples stay literal. The wording is short and
explicit because the default optimizer model is tiny: one request per call, the
expected answer named as such, and the output format repeated at the end.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from optimizers.evaluation.templates import fill

MAX_INPUT_CHARS = 600
MAX_OUTPUT_CHARS = 200
MAX_CRITIQUE_CHARS = 1_200

_SETTING = (
    "I am writing an instruction for a language model. The model reads the instruction, "
    "then one input, and writes the output."
)

_FAILED = """

Current instruction:
"{prompt}"

With this instruction the model got these examples wrong:
{errors}
"""
"""What the gradient and the edit are both shown: the instruction and its errors."""

GRADIENT = (
    _SETTING
    + _FAILED
    + """
Give up to 3 short reasons why the instruction could have led to these mistakes. \
Write one reason per line."""
)
"""The "gradient": a critique of ``{prompt}`` from its ``{errors}``."""

EDIT = (
    _SETTING
    + _FAILED
    + """
What is wrong with the instruction:
{critique}

Write one improved instruction that fixes these problems. It must work for other \
inputs too, so do not copy the examples into it.
{constraints}Write only the new instruction, between <START> and <END>."""
)
"""The "edit": a new prompt that fixes the critique, shown the same errors."""

REWRITE = (
    _SETTING
    + """

Current instruction:
"{prompt}"

Write one improved instruction for the same task.
{constraints}Write only the new instruction, between <START> and <END>."""
)
"""The no-feedback ablation: a one-step rewrite that sees neither errors nor critique."""

PARAPHRASE = """Rewrite the following instruction in different words, keeping its meaning.

Instruction:
"{prompt}"

{constraints}Write only the rewritten instruction, between <START> and <END>."""
"""Monte-Carlo expansion: a paraphrase of an edit."""


@dataclass(frozen=True, slots=True)
class ShownError:
    """One failing train example as the optimizer model sees it."""

    input: str
    expected: str
    got: str


def _shorten(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def format_errors(errors: Sequence[ShownError]) -> str:
    """Number the errors, each with its input, the expected output and the model's output."""
    blocks = []
    for i, error in enumerate(errors, 1):
        got = _shorten(error.got, MAX_OUTPUT_CHARS) or "(empty)"
        blocks.append(
            f"Example {i}\n"
            f"Input: {_shorten(error.input, MAX_INPUT_CHARS)}\n"
            f"Expected output: {_shorten(error.expected, MAX_OUTPUT_CHARS)}\n"
            f"Model output: {got}"
        )
    return "\n\n".join(blocks)


_TAGGED = re.compile(r"<\s*START\s*>(.*?)(?:<\s*/?\s*END\s*>|$)", re.IGNORECASE | re.DOTALL)
_TAG_DEBRIS = re.compile(r"<\s*/?\s*(?:START|END)\s*>", re.IGNORECASE)


def parse_critique(reply: str) -> str:
    """The reasons in a gradient reply, tidied and truncated ('' when there are none).

    The gradient prompt asks for plain lines, but models trained on ProTeGi-style
    prompts often wrap reasons in ``<START>…<END>``: keep the wrapped parts then.
    """
    parts = [p.strip() for p in _TAGGED.findall(reply or "") if p.strip()]
    text = "\n".join(parts) if parts else (reply or "")
    text = _TAG_DEBRIS.sub(" ", text)
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    return _shorten("\n".join(line for line in lines if line), MAX_CRITIQUE_CHARS)


def gradient_prompt(prompt: str, errors: Sequence[ShownError]) -> str:
    """The message asking why ``prompt`` fails on ``errors``."""
    return fill(GRADIENT, prompt=prompt, errors=format_errors(errors))


def edit_prompt(prompt: str, errors: Sequence[ShownError], critique: str, constraints: str) -> str:
    """The message asking for a prompt that fixes ``critique`` (``constraints`` may be '')."""
    return fill(
        EDIT,
        prompt=prompt,
        errors=format_errors(errors),
        critique=critique or "(no reasons were given; judge from the examples)",
        constraints=constraints,
    )


def rewrite_prompt(prompt: str, constraints: str) -> str:
    """The message asking for a better prompt without any feedback (ablation)."""
    return fill(REWRITE, prompt=prompt, constraints=constraints)


def paraphrase_prompt(prompt: str, constraints: str) -> str:
    """The message asking for a paraphrase of ``prompt``."""
    return fill(PARAPHRASE, prompt=prompt, constraints=constraints)
