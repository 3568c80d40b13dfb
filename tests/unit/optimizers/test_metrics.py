from __future__ import annotations

import math
import sys
import textwrap
from pathlib import Path

import pytest

from optimizers.evaluation import regex_scorer
from optimizers.evaluation.metrics import (
    BUILTIN_METRICS,
    FunctionMetric,
    Metric,
    MetricError,
    get_metric,
)
from optimizers.evaluation.normalize import (
    answer_line,
    clean_text,
    normalize_answer,
    normalize_text,
    remove_punctuation,
    strip_label,
    strip_quotes,
)
from optimizers.tasks.example import Example


def fullwidth(text: str) -> str:
    return "".join(chr(ord(char) + 0xFEE0) if "!" <= char <= "~" else char for char in text)


def ex(*targets: str) -> Example:
    return Example(id="e1", input="some input", targets=tuple(targets))


def score(spec: str, prediction: str, *targets: str, **options: str) -> float:
    return get_metric(spec, options=options or None).score(prediction, ex(*targets))


WEIRD_OUTPUTS = [
    "",
    " ",
    "\n\n\n",
    "\x00\x01\x02\x1b[31m\x7f",
    "\u200b\ufeff\u202e",
    "\ud800 lone surrogate",
    "x" * 10_000,
    "1" * 10_000,
    "9" * 5000 + "/" + "0" * 5000,
    "(" * 3000 + "A" + ")" * 3000,
    "Answer:" * 2000,
    "a, " * 3000,
    "😀🔥" * 500,
    fullwidth("ANSWER: B"),
    "Output:\n\n\n",
    "```\n```",
    "-" * 5000,
    "1e99999 1e-99999 nan inf",
]


# --- normalisation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Positive.", "positive"),
        ("  NEGATIVE  ", "negative"),
        ("Output: negative\nExplanation: the review is bad.", "negative"),
        ("Answer: B", "b"),
        ("A: yes", "yes"),
        ("label: Spam!", "spam"),
        ('**Answer:** "Paris"', "paris"),
        ("Output:\n\n```\nyes\n```", "yes"),
        ("'Hello,   world!'", "hello world"),
        ("“Quoted”", "quoted"),
        ("Output: Answer: maybe", "maybe"),
        ("A:", "a"),
        (fullwidth("FULLWIDTH"), "fullwidth"),
        ("self-driving / cars", "self driving cars"),
        ("It costs 3.50, not -3.", "it costs 3.50 not -3"),
        ("", ""),
    ],
)
def test_normalize_answer(raw: str, expected: str) -> None:
    assert normalize_answer(raw) == expected


def test_normalize_helpers() -> None:
    assert clean_text("a\x00b\u200bc\r\nd") == "a bc\nd"
    assert strip_quotes("  '\"x\"'  ") == "x"
    assert strip_quotes("'unbalanced") == "'unbalanced"
    assert strip_label("Answers are fine") == "Answers are fine"
    assert strip_label("Output - x") == "Output - x"
    assert remove_punctuation("don't, 1.5!") == "dont 1.5"
    assert normalize_text("Output: A\nB") == "output a b"
    assert answer_line("...\n  \nReal answer\nmore") == "Real answer"
    assert normalize_answer("café naïve") == "café naïve"
    assert normalize_answer("हिन्दी।") == "हिन्दी"  # combining marks survive, danda goes


# --- exact ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "expected"),
    [
        ("negative", 1.0),
        ("Negative.", 1.0),
        ("  NEGATIVE  ", 1.0),
        ("Output: negative\nExplanation: the plot was dull.", 1.0),
        ("\n\nSentiment: Negative!", 1.0),
        ('"negative"', 1.0),
        ("Positive.", 0.0),
        ("The answer is negative", 0.0),  # exact is exact: use `contains` for this
        ("negative\n", 1.0),
        ("not negative", 0.0),
        ("", 0.0),
    ],
)
def test_exact(prediction: str, expected: float) -> None:
    assert score("exact", prediction, "negative") == expected


def test_exact_best_of_targets_and_scope() -> None:
    assert score("exact", "Yes.", "no", "yes") == 1.0
    assert score("exact", "line one\nline two", "Line one. Line two.") == 0.0
    assert score("exact", "line one\nline two", "Line one. Line two.", scope="all") == 1.0
    with pytest.raises(MetricError, match="scope"):
        get_metric("exact", options={"scope": "everything"})


# --- contains -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "expected"),
    [
        ("The sentiment is clearly NEGATIVE.", 1.0),
        ("Output: negative\nExplanation: ...", 1.0),
        ("nonnegative", 0.0),  # whole words only
        ("negatives", 0.0),
        ("", 0.0),
    ],
)
def test_contains(prediction: str, expected: float) -> None:
    assert score("contains", prediction, "negative") == expected


def test_contains_multiword_target() -> None:
    assert score("contains", "I think it's New York City, honestly", "new york") == 1.0
    assert score("contains", "new   yorker", "new york") == 0.0
    assert score("contains", "", "?") == 1.0  # a target with no words matches only no words
    assert score("contains", "anything", "?") == 0.0


# --- f1 -------------------------------------------------------------------------------


def test_f1() -> None:
    assert score("f1", "The cat sat on the mat.", "the cat sat on the mat") == 1.0
    assert score("f1", "cat sat", "the cat sat on the mat") == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert score("f1", "dog", "cat") == 0.0
    assert score("f1", "Output: cat\nExplanation: felines", "cat") == 1.0
    assert score("f1", "cat cat", "cat") == pytest.approx(2 * 0.5 * 1 / 1.5)  # counts clipped
    assert score("f1", "dog", "cat", "dog house") == pytest.approx(2 / 3)  # best target
    assert score("f1", "", "cat") == 0.0
    assert score("f1", "the", "a") == 1.0  # both empty after removing articles


# --- choice ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "expected"),
    [
        ("C", 1.0),
        ("(C)", 1.0),
        ("C)", 1.0),
        ("C.", 1.0),
        ("c", 1.0),
        ("**C**", 1.0),
        ("The answer is (C).", 1.0),
        ("The answer is C because the others are wrong.", 1.0),
        ("Answer: C", 1.0),
        ("**Answer:** C", 1.0),
        ("A: (C)", 1.0),  # "A:" is a Q/A label, not option A
        ("answer: c.", 1.0),
        ("The correct option is C", 1.0),
        ("C\nExplanation: (A) is wrong because...", 1.0),  # the answer line decides
        ("A) 12 B) 15 C) 18. The answer is C", 1.0),  # explicit answer beats listed options
        ("I think (C) is right", 1.0),
        ("(A) is wrong; C) is right", 0.0),  # otherwise the first marker: A
        ("B", 0.0),
        ("The answer is (B).", 0.0),
        ("The answer is a bit unclear", 0.0),
        ("The answer, I think, is unclear", 0.0),
        ("In the U.S. the answer varies", 0.0),
        ("", 0.0),
        ("None of the above", 0.0),
    ],
)
def test_choice(prediction: str, expected: float) -> None:
    assert score("choice", prediction, "(C)") == expected


def test_choice_target_forms_and_fallback() -> None:
    assert score("choice", "The answer is (B).", "B") == 1.0
    assert score("choice", "The answer is (B).", "b.") == 1.0
    assert score("choice", "The answer is (B).", "[B]") == 1.0
    # A target that is not a letter falls back to exact match.
    assert score("choice", "Paris.", "paris") == 1.0
    assert score("choice", "The answer is (B).", "Paris") == 0.0
    assert score("choice", "B", "Paris", "(B)") == 1.0


def test_choice_letters_option() -> None:
    assert score("choice", "(E) then (B)", "B", letters="ABCD") == 1.0
    assert score("choice", "(E) then (B)", "B") == 0.0
    with pytest.raises(MetricError, match="letters"):
        get_metric("choice", options={"letters": "12"})


# --- regex ----------------------------------------------------------------------------


def test_regex() -> None:
    assert score("regex", "Answer: 42", r"\b42\b") == 1.0
    assert score("regex", "Answer: 420", r"\b42\b") == 0.0
    assert score("regex", "POSITIVE", r"^positive$") == 0.0
    assert score("regex", "POSITIVE", r"^positive$", flags="i") == 1.0
    assert score("regex", "no", r"yes", r"n.") == 1.0  # any target pattern


def test_regex_misconfiguration() -> None:
    with pytest.raises(MetricError, match=r"invalid regular expression '\(unclosed'"):
        score("regex", "text", "(unclosed")
    with pytest.raises(MetricError, match="limit is 500"):
        score("regex", "text", "a" * 501)
    with pytest.raises(MetricError, match="unknown flag 'q'"):
        get_metric("regex", options={"flags": "iq"})
    with pytest.raises(MetricError, match="timeout"):
        get_metric("regex", options={"timeout": "0"})


@pytest.mark.skipif(
    regex_scorer._timeout_regex is None, reason="the `regex` module is not installed"
)
def test_regex_catastrophic_pattern_times_out_as_no_match() -> None:
    metric = get_metric("regex", options={"timeout": "0.05"})
    assert metric.score("a" * 5000 + "!", ex(r"^(a|aa)+$")) == 0.0


# --- numeric --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "target", "expected"),
    [
        ("42", "42", 1.0),
        ("The answer is 42.", "42", 1.0),
        ("First 7, then 12, so the total is 19", "19", 1.0),
        ("19 is what I first thought but it is 20", "19", 0.0),  # the last number counts
        ("It is -3.", "-3", 1.0),
        ("It is \u22123.", "-3", 1.0),  # unicode minus sign
        ("pages 3-5", "5", 1.0),  # a range's dash is not a minus sign
        ("1,234 apples", "1234", 1.0),
        ("1,234 apples", "1,234", 1.0),
        ("$3.50", "3.5", 1.0),
        ("half: 1/2", "0.5", 1.0),
        ("three", "3", 1.0),
        ("Twenty", "20", 1.0),
        ("one or 4", "4", 1.0),  # digits win over number words
        ("3.0000001", "3", 1.0),  # within the default 1e-6
        ("3.01", "3", 0.0),
        ("no number here", "3", 0.0),
        ("", "0", 0.0),
        ("2e3", "2000", 1.0),
        ("1/0", "1", 0.0),
    ],
)
def test_numeric(prediction: str, target: str, expected: float) -> None:
    assert score("numeric", prediction, target) == expected


def test_numeric_tolerances() -> None:
    assert score("numeric", "3.01", "3", tol="0.05") == 1.0
    assert score("numeric", "1010", "1000", rel_tol="0.02") == 1.0
    assert score("numeric", "1030", "1000", rel_tol="0.02") == 0.0
    with pytest.raises(MetricError, match="tol"):
        get_metric("numeric", options={"tol": "-1"})
    with pytest.raises(MetricError, match="tol"):
        get_metric("numeric", options={"tol": "abc"})


def test_numeric_target_without_a_number_is_misconfiguration() -> None:
    with pytest.raises(MetricError, match="'lots' holds no number"):
        score("numeric", "42", "lots")


# --- set ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prediction", "expected"),
    [
        ("red, green, blue", 1.0),
        ("Blue; Red; Green.", 1.0),
        ("red, green and blue", 1.0),
        ("red, green, and blue", 1.0),
        ("green\nblue\nred", 1.0),
        ("- red\n- green\n- blue\n\nThese are all colours.", 1.0),
        ("1. red\n2. green\n3. blue", 1.0),
        ("Output: red, blue, green\nExplanation: primary colours of light", 1.0),
        ("red, green, blue, red", 1.0),  # duplicates are fine
        ("red, green", 0.0),
        ("red, green, blue, yellow", 0.0),
        ("", 0.0),
    ],
)
def test_set(prediction: str, expected: float) -> None:
    assert score("set", prediction, "red, green, blue") == expected


# --- all built-ins: robustness and range ----------------------------------------------

_TARGETS = {
    "exact": "negative",
    "contains": "negative",
    "f1": "negative",
    "choice": "(B)",
    "regex": r"neg\w+",
    "numeric": "42",
    "set": "a, b",
}


def test_every_builtin_is_covered_here() -> None:
    assert set(_TARGETS) == set(BUILTIN_METRICS)


@pytest.mark.parametrize("name", sorted(BUILTIN_METRICS))
@pytest.mark.parametrize("prediction", WEIRD_OUTPUTS, ids=range(len(WEIRD_OUTPUTS)))
def test_builtins_never_raise_on_weird_outputs(name: str, prediction: str) -> None:
    value = score(name, prediction, _TARGETS[name])
    assert 0.0 <= value <= 1.0


@pytest.mark.parametrize("name", sorted(BUILTIN_METRICS))
def test_builtins_are_metrics_named_by_spec(name: str) -> None:
    metric = get_metric(name)
    assert isinstance(metric, Metric)
    assert metric.name == name
    assert get_metric(f"  {name.upper()} ").name == name


@pytest.mark.parametrize("name", sorted(BUILTIN_METRICS))
def test_builtins_reject_unknown_options(name: str) -> None:
    with pytest.raises(MetricError, match="has no option 'bogus'"):
        get_metric(name, options={"bogus": "1"})


def test_non_string_prediction_is_treated_as_text() -> None:
    assert get_metric("exact").score(None, ex("none")) == 0.0  # type: ignore[arg-type]


# --- FunctionMetric -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("returned", "expected"),
    [(True, 1.0), (False, 0.0), (0.25, 0.25), (1, 1.0), (7.5, 1.0), (-2, 0.0)],
)
def test_function_metric_coerces_and_clamps(returned: object, expected: float) -> None:
    metric = FunctionMetric(name="mine", fn=lambda prediction, targets: returned)  # type: ignore[arg-type,return-value]
    assert metric.score("x", ex("y")) == expected


@pytest.mark.parametrize("returned", [math.nan, math.inf, "0.5", None, [1.0]])
def test_function_metric_rejects_bad_returns(returned: object) -> None:
    metric = FunctionMetric(name="mine", fn=lambda prediction, targets: returned)  # type: ignore[arg-type,return-value]
    with pytest.raises(MetricError, match="'mine'"):
        metric.score("x", ex("y"))


def test_function_metric_rejects_async_functions() -> None:
    async def judge(prediction: str, targets: list[str]) -> float:
        return 1.0

    metric = FunctionMetric(name="judge", fn=judge)  # type: ignore[arg-type]
    with pytest.raises(MetricError, match="coroutine"):
        metric.score("x", ex("y"))


def test_function_metric_passes_all_targets_and_lets_errors_through() -> None:
    seen: list[object] = []

    def fn(prediction: str, targets: list[str]) -> float:
        seen.append((prediction, targets))
        raise KeyError("boom")

    metric = FunctionMetric(name="mine", fn=fn)
    with pytest.raises(KeyError) as info:
        metric.score("pred", ex("t1", "t2"))
    assert seen == [("pred", ["t1", "t2"])]
    assert any("'mine'" in note for note in info.value.__notes__)


# --- user functions -------------------------------------------------------------------


def _write_module(directory: Path, name: str) -> Path:
    path = directory / f"{name}.py"
    path.write_text(
        textwrap.dedent(
            """
            def first_char(prediction, targets):
                return any(prediction[:1] == target[:1] for target in targets)

            NOT_CALLABLE = 3
            """
        )
    )
    return path


def test_user_function_from_file(tmp_path: Path) -> None:
    path = _write_module(tmp_path, "my_metric")
    metric = get_metric(f"{path}:first_char")
    assert metric.name == f"{path}:first_char"
    assert metric.score("yes", ex("no", "yay")) == 1.0
    assert metric.score("maybe", ex("no")) == 0.0


def test_user_function_from_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_module(tmp_path, "pp_test_user_metric_mod")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        metric = get_metric("pp_test_user_metric_mod:first_char")
        assert metric.score("yes", ex("yay")) == 1.0
    finally:
        sys.modules.pop("pp_test_user_metric_mod", None)


def test_user_function_errors(tmp_path: Path) -> None:
    path = _write_module(tmp_path, "errs")
    broken = tmp_path / "broken.py"
    broken.write_text("def f(:\n")
    with pytest.raises(MetricError, match="no attribute 'missing'"):
        get_metric(f"{path}:missing")
    with pytest.raises(MetricError, match="not a function"):
        get_metric(f"{path}:NOT_CALLABLE")
    with pytest.raises(MetricError, match="does not exist"):
        get_metric(f"{tmp_path / 'nope.py'}:f")
    with pytest.raises(MetricError, match="SyntaxError"):
        get_metric(f"{broken}:f")
    with pytest.raises(MetricError, match="no module named 'no_such_module_xyz'"):
        get_metric("no_such_module_xyz:f")
    with pytest.raises(MetricError, match="module:function"):
        get_metric("math:")
    with pytest.raises(MetricError, match="built-in metrics only"):
        get_metric("math:isclose", options={"tol": "1"})


def test_unknown_spec_lists_the_choices() -> None:
    with pytest.raises(MetricError) as info:
        get_metric("accuracy")
    message = str(info.value)
    assert all(name in message for name in BUILTIN_METRICS)
    assert "module:function" in message
    assert isinstance(info.value, ValueError)
