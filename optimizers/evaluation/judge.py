"""LLM-as-judge: the optimizer model grades an answer against a rubric.

For tasks where no string metric fits (tone, helpfulness, format), a judge
gives a 0-10 grade, scaled to [0, 1]. Its answers go through the same cache,
so re-judging the same answer costs nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from langchain_core.messages import HumanMessage

from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.evaluation.templates import fill
from optimizers.tasks.example import Example

JUDGE_PROMPT = """You grade answers. Rubric: {prompt}

Question or input:
{input}

Reference answer: {reference}
Answer to grade: {answer}

Reply with one integer grade from 0 (fails the rubric) to 10 (fully meets it), then nothing else.
Grade:"""

_GRADE = re.compile(r"\b(10|[0-9])\b")


def parse_grade(text: str) -> float:
    """The first 0-10 integer in the judge's reply, scaled to [0, 1]."""
    match = _GRADE.search(text)
    if match is None:
        raise ValueError(f"the judge gave no 0-10 grade: {text[:80]!r}")
    return int(match.group(1)) / 10.0


@dataclass
class LLMJudge:
    """A metric whose score comes from the optimizer model reading a rubric."""

    caller: ChatCaller
    rubric: str
    name: str = "judge"

    async def score(self, prediction: str, example: Example) -> float:
        """Ask the judge for a grade; an unreadable grade raises (the example scores 0)."""
        text = fill(
            JUDGE_PROMPT,
            prompt=self.rubric,
            input=example.input,
            reference=example.target,
            answer=prediction,
        )
        completion = await self.caller.complete([HumanMessage(content=text)])
        return parse_grade(completion.text)
