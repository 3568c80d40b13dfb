import pytest

from memory.response_cache import ResponseCache
from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.evaluation.evaluator import Evaluator, compare
from optimizers.evaluation.metrics import get_metric
from optimizers.evaluation.templates import PromptTemplate
from optimizers.tasks.example import Example
from tests.fakes import fake_backend

EXAMPLES = tuple(
    Example(id=str(i), input=f"review {i} {'good' if i % 2 else 'bad'}", targets=(label,))
    for i, label in enumerate(["negative", "positive"] * 10)
)


def sentiment_rule(careful: bool):
    """A fake model that only gets it right when the prompt says 'carefully'."""

    def answer(text: str) -> str:
        if "crash" in text:
            raise RuntimeError("HTTP 400: request rejected")
        if "carefully" in text:
            return "Positive." if "good" in text else "negative"
        return "positive"

    return answer


def make_evaluator(tmp_path, **kwargs) -> Evaluator:
    caller = ChatCaller(fake_backend(sentiment_rule(True)), ResponseCache(tmp_path / "c.sqlite"))
    return Evaluator(caller, metric=get_metric("exact"), **kwargs)


async def test_scores_with_interval_and_costs(tmp_path):
    evaluator = make_evaluator(tmp_path)
    seen = []
    result = await evaluator.evaluate(
        "Read carefully.", EXAMPLES, split="dev", progress=lambda d, t: seen.append((d, t))
    )
    assert result.mean == 1.0
    assert result.interval.low <= result.mean <= result.interval.high
    assert result.n == 20
    assert (result.usage.calls, result.usage.cache_hits) == (20, 0)
    assert seen[-1] == (20, 20)
    assert result.split == "dev"
    assert result.template == "inline"


async def test_second_evaluation_is_free(tmp_path):
    evaluator = make_evaluator(tmp_path)
    await evaluator.evaluate("Guess.", EXAMPLES, split="dev")
    again = await evaluator.evaluate("Guess.", EXAMPLES, split="dev")
    assert (again.usage.calls, again.usage.cache_hits) == (0, 20)
    assert again.mean == pytest.approx(0.5)


async def test_paired_comparison_shows_the_gain(tmp_path):
    evaluator = make_evaluator(tmp_path)
    weak = await evaluator.evaluate("Guess.", EXAMPLES, split="dev")
    strong = await evaluator.evaluate("Read carefully.", EXAMPLES, split="dev")
    comparison = compare(weak, strong)
    assert comparison.diff == pytest.approx(0.5)
    assert comparison.interval.low > 0
    assert comparison.wins == 10
    assert comparison.losses == 0


async def test_failed_calls_score_zero_and_never_abort(tmp_path):
    evaluator = make_evaluator(tmp_path)
    examples = (*EXAMPLES[:3], Example(id="x", input="crash me", targets=("positive",)))
    result = await evaluator.evaluate("Read carefully.", examples, split="dev")
    failed = result.failures_first()[0]
    assert failed.example_id == "x"
    assert failed.score == 0.0
    assert "request rejected" in failed.error
    assert result.n == 4


async def test_metric_errors_on_odd_output_cost_one_example(tmp_path):
    class Fussy:
        name = "fussy"

        def score(self, prediction, example):
            if example.id == "0":
                raise TypeError("cannot read this output")
            return 1.0

    caller = ChatCaller(fake_backend(str.upper))
    result = await Evaluator(caller, metric=Fussy()).evaluate("p", EXAMPLES[:3], split="dev")
    assert [r.score for r in result.examples] == [0.0, 1.0, 1.0]
    assert "cannot read" in result.examples[0].error


async def test_counts_examples_per_split(tmp_path):
    evaluator = make_evaluator(tmp_path, template=PromptTemplate(kind="system"))
    await evaluator.evaluate("p", EXAMPLES[:5], split="dev")
    await evaluator.evaluate("p", EXAMPLES[:3], split="train")
    assert evaluator.examples_seen == {"dev": 5, "train": 3}
    assert evaluator.examples_seen["test"] == 0


async def test_compare_refuses_unpaired_results(tmp_path):
    evaluator = make_evaluator(tmp_path)
    a = await evaluator.evaluate("p", EXAMPLES[:4], split="dev")
    b = await evaluator.evaluate("p", EXAMPLES[1:5], split="dev")
    with pytest.raises(ValueError, match="same examples"):
        compare(a, b)


async def test_empty_split_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="test split has no examples"):
        await make_evaluator(tmp_path).evaluate("p", (), split="test")
