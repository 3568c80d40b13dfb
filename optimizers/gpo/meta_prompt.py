"""GPO's generation-based meta-prompt: named parts with placeholders, and the builder.

Structure (ALGORITHMS.md, GPO step 3), in this order: the task statement; the
retrieved trajectory prompts with scores on a 0-100 scale; the current prompt;
fixed train exemplars showing where the prompt sits (``<Prompt>`` in the task
template) and the expected output; the request for a new improved prompt; the
user's constraints, if any; the step-size line; the output format. Placeholders
are filled with :func:`~optimizers.evaluation.templates.fill`, so braces in
prompts or inputs stay literal.
"""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.messages import BaseMessage

from optimizers.evaluation.templates import PromptTemplate, fill
from optimizers.propose.proposals import constraints_block
from optimizers.tasks.example import Example

PROMPT_SLOT = "<Prompt>"

TASK_STATEMENT = "Your task is to write a prompt to replace <Prompt>."
TRAJECTORY_HEADER = (
    "Below are some previous prompts with their scores. "
    "The score ranges from 0 to 100, and higher scores indicate better prompts."
)
TRAJECTORY_ITEM = "Prompt: {prompt}\nScore: {score}"
CURRENT_PROMPT = "The current prompt is:\n{prompt}"
EXEMPLARS_HEADER = (
    "Below are some examples of the task. <Prompt> is replaced by the prompt, "
    "and the answer must match the expected output."
)
EXEMPLAR_ITEM = "Example {number}:\n{text}\nExpected output: {output}"
INSTRUCTION = "Write a new improved prompt to replace <Prompt> in the examples above."
STEP_SIZE_LINE = "You are allowed to change up to {step_size} words in the current prompt."
WRAP_LINE = "Wrap the new prompt with <START> and <END>."

_ELLIPSIS = " …"


def as_percent(score: float) -> str:
    """A dev score in [0, 1] on the meta-prompt's 0-100 scale."""
    return f"{100.0 * score:.0f}"


def _shorten(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[:max_chars].rstrip() + _ELLIPSIS


def messages_text(messages: Sequence[BaseMessage]) -> str:
    """Chat messages as one text: a lone user message as is, otherwise ``role: content`` lines."""
    if len(messages) == 1 and messages[0].type == "human":
        return str(messages[0].content)
    roles = {"system": "System", "human": "User", "ai": "Assistant"}
    return "\n".join(f"{roles.get(m.type, m.type)}: {m.content}" for m in messages)


def render_exemplar(
    template: PromptTemplate, example: Example, *, max_chars: int = 500
) -> tuple[str, str]:
    """``(what the task model sees with <Prompt> in place, expected output)`` for one example.

    Long inputs and targets are cut at ``max_chars`` so the meta-prompt fits a
    small model's context.
    """
    shown_input = _shorten(example.input, max_chars)
    text = messages_text(template.render(PROMPT_SLOT, shown_input))
    return text, _shorten(example.target, max_chars)


def build_meta_prompt(
    *,
    direction: Sequence[tuple[str, float]],
    current: str,
    exemplars: Sequence[tuple[str, str]],
    step_size: int,
    directives: Sequence[str] = (),
) -> str:
    """The meta-prompt asking for the next prompt.

    ``direction`` holds the retrieved ``(prompt, dev score in [0, 1])`` pairs in
    the order to show them; ``exemplars`` the ``(rendered text, expected output)``
    pairs from :func:`render_exemplar`.
    """
    parts = [TASK_STATEMENT]
    if direction:
        items = [
            fill(TRAJECTORY_ITEM, prompt=prompt, score=as_percent(score))
            for prompt, score in direction
        ]
        parts.append("\n\n".join([TRAJECTORY_HEADER, *items]))
    parts.append(fill(CURRENT_PROMPT, prompt=current))
    if exemplars:
        items = [
            fill(EXEMPLAR_ITEM, number=str(number), text=text, output=output)
            for number, (text, output) in enumerate(exemplars, start=1)
        ]
        parts.append("\n\n".join([EXEMPLARS_HEADER, *items]))
    parts.append(INSTRUCTION)
    if constraints := constraints_block(directives).strip():
        parts.append(constraints)
    parts.append(fill(STEP_SIZE_LINE, step_size=str(step_size)))
    parts.append(WRAP_LINE)
    return "\n\n".join(parts)
