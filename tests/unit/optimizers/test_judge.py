import pytest

from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.evaluation.evaluator import Evaluator
from optimizers.evaluation.judge import LLMJudge, parse_grade
from optimizers.tasks.example import Example
from tests.fakes import fake_backend


def test_parse_grade():
    assert parse_grade("8") == 0.8
    assert parse_grade("Grade: 10/10") == 1.0
    assert parse_grade("I would give it a 3.") == 0.3
    with pytest.raises(ValueError, match="no 0-10 grade"):
        parse_grade("excellent!")


async def test_judge_sees_rubric_reference_and_answer_and_unreadable_grades_score_zero():
    def judge(text: str) -> str:
        assert "Rubric: polite and correct" in text
        assert "Reference answer: Paris" in text
        return "9" if "Answer to grade: Paris, of course" in text else "no idea"

    judge_caller = ChatCaller(fake_backend(judge))
    task_caller = ChatCaller(
        fake_backend(lambda text: "Paris, of course" if "{" not in text else "")
    )
    metric = LLMJudge(judge_caller, "polite and correct")
    examples = (
        Example(id="1", input="Capital of France?", targets=("Paris",)),
        Example(id="2", input="{weird} input", targets=("Paris",)),
    )
    result = await Evaluator(task_caller, metric=metric).evaluate("Answer.", examples, split="dev")
    assert [r.score for r in result.examples] == [0.9, 0.0]
    assert "no 0-10 grade" in result.examples[1].error
    assert judge_caller.usage.calls == 2
