import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from optimizers.evaluation.templates import PromptTemplate, fill, parse_template


def test_inline_is_one_user_message():
    messages = PromptTemplate().render("Classify.", "great film")
    assert messages == [HumanMessage(content="Classify.\n\nInput: great film\nOutput:")]


def test_system_template_splits_prompt_and_input():
    messages = PromptTemplate(kind="system").render("Classify.", "great film")
    assert messages == [SystemMessage(content="Classify."), HumanMessage(content="great film")]


def test_custom_template_and_literal_braces():
    template = parse_template('Q: {input}\\n{prompt} {"json": true}')
    (message,) = template.render("Be brief {input}", "what is {prompt}?")
    assert message.content == 'Q: what is {prompt}?\nBe brief {input} {"json": true}'
    assert template.id.startswith("custom:")


def test_custom_template_must_place_both_parts():
    with pytest.raises(ValueError, match=r"\{input\} missing"):
        parse_template("Just {prompt}")


def test_fill_leaves_unknown_names():
    assert fill("{a} {b} {c}", a="1", b="{c}") == "1 {c} {c}"
