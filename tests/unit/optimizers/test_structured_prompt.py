"""StructuredPrompt: the parts of a prompt, their identity, and the messages they render."""

import dataclasses
from typing import Any

import pytest
from langchain_core.language_models import SimpleChatModel
from langchain_core.messages import BaseMessage
from pydantic import Field

from memory.prompt_record import PromptRecord, prompt_id
from memory.prompt_store import PromptStore
from optimizers.base import Candidate, prompt_key
from optimizers.evaluation.chat_calls import ChatBackend, ChatCaller
from optimizers.evaluation.evaluator import Evaluator, concat
from optimizers.evaluation.metrics import get_metric
from optimizers.evaluation.structured_prompt import (
    PART_NAMES,
    Demo,
    StructuredPrompt,
    demos_from,
)
from optimizers.evaluation.templates import PromptTemplate
from optimizers.tasks.example import Example
from tests.fakes import HashEmbedder

INSTRUCTION = "Classify the review."
SPEC = "Answer with exactly one of: negative, positive."
DEMOS = (Demo("it was great", "positive", "t0"), Demo("it was awful", "negative", "t1"))
TEMPLATES = [
    PromptTemplate(),
    PromptTemplate(kind="system"),
    PromptTemplate(kind="custom", text="Task: {prompt}\nQ: {input}\nA:"),
]


def payload(messages: list[BaseMessage]) -> list[tuple[str, str]]:
    return [(message.type, str(message.content)) for message in messages]


def full(layout=None, demos=DEMOS) -> StructuredPrompt:
    return StructuredPrompt(instruction=INSTRUCTION, output_spec=SPEC, demos=demos, layout=layout)


class RecordingChatModel(SimpleChatModel):
    """Records every message list it receives; says "positive" only when the input is great."""

    received: list[list[tuple[str, str]]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "recording-fake"

    def _call(self, messages: list[BaseMessage], stop: Any = None, **kwargs: Any) -> str:
        self.received.append(payload(messages))
        the_input = str(messages[-1].content).rsplit("Input:", 1)[-1]
        return "positive" if "great" in the_input else "negative"


def recording_evaluator(template: PromptTemplate | None = None):
    model = RecordingChatModel()
    backend = ChatBackend(model=model, identity={"base_url": "fake://", "model": "rec"})
    evaluator = Evaluator(
        ChatCaller(backend), metric=get_metric("exact"), template=template or PromptTemplate()
    )
    return evaluator, model


# ------------------------------------------------------------------ plain prompts


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda t: t.kind)
def test_a_plain_structured_prompt_is_the_plain_text(template):
    text = "Classify the review as positive or negative."
    plain = StructuredPrompt.plain(text)
    assert plain.is_plain
    assert plain.text == text
    assert plain.key == prompt_key(text)
    assert payload(plain.render("it was great", template)) == payload(
        template.render(text, "it was great")
    )


def test_a_plain_prompt_with_surrounding_whitespace_is_still_the_plain_text():
    text = "Classify the review.\n"
    plain = StructuredPrompt.plain(text)
    assert plain.key == prompt_key(text)  # holds
    candidate = Candidate.structured(plain, source="s", step=1)
    assert candidate.identity == Candidate(text=text, source="s", step=1).identity
    assert payload(plain.render("x")) == payload(PromptTemplate().render(text, "x"))


def test_the_default_template_is_inline():
    plain = StructuredPrompt.plain("Classify.")
    assert payload(plain.render("x")) == [("human", "Classify.\n\nInput: x\nOutput:")]


def test_the_key_ignores_whitespace_and_origin():
    a = StructuredPrompt(instruction="Classify  the\nreview.", output_spec=SPEC)
    b = StructuredPrompt(instruction="Classify the review.", output_spec=SPEC, origin={"x": "y"})
    assert a.key == b.key
    assert b == StructuredPrompt(instruction="Classify the review.", output_spec=SPEC)


def test_a_bad_layout_is_refused():
    with pytest.raises(ValueError, match="layout must be"):
        StructuredPrompt(instruction="x", layout="sideways")


# ------------------------------------------------------------------ rendering


def test_spec_follows_the_instruction_in_one_paragraph():
    prompt = StructuredPrompt(instruction=" Classify the review. ", output_spec=f"{SPEC}\n")
    assert prompt.text == f"Classify the review. {SPEC}"
    assert not prompt.is_plain


def test_inline_demos_are_blocks_before_the_input():
    messages = payload(full("inline").render("it was fine"))
    assert messages == [
        (
            "human",
            f"{INSTRUCTION} {SPEC}\n\n"
            "Input: it was great\nOutput: positive\n\n"
            "Input: it was awful\nOutput: negative\n\n"
            "Input: it was fine\nOutput:",
        )
    ]


def test_layout_none_with_demos_uses_the_tasks_template():
    prompt = full(None)
    inline = payload(prompt.render("it was fine"))
    assert inline == payload(full("inline").render("it was fine"))
    system = payload(prompt.render("it was fine", PromptTemplate(kind="system")))
    assert system == [("system", prompt.text), ("human", "it was fine")]
    assert "Input: it was awful\nOutput: negative" in system[0][1]


def test_system_layout_puts_everything_in_the_system_message():
    prompt = full("system")
    # whatever the task's template, the system layout wins
    for template in TEMPLATES:
        messages = payload(prompt.render("it was fine", template))
        assert [role for role, _ in messages] == ["system", "human"]
        system, user = messages[0][1], messages[1][1]
        assert user == "it was fine"
        assert INSTRUCTION in system
        assert SPEC in system
        assert all(demo.block() in system for demo in DEMOS)


def test_chat_layout_makes_demos_prior_turns():
    messages = payload(full("chat").render("it was fine", PromptTemplate(kind="system")))
    assert messages == [
        ("human", f"{INSTRUCTION} {SPEC}\n\nInput: it was great\nOutput:"),
        ("ai", "positive"),
        ("human", "Input: it was awful\nOutput:"),
        ("ai", "negative"),
        ("human", "Input: it was fine\nOutput:"),
    ]


def test_chat_layout_without_demos_is_one_inline_message():
    prompt = StructuredPrompt(instruction=INSTRUCTION, output_spec=SPEC, layout="chat")
    assert payload(prompt.render("x")) == [("human", f"{INSTRUCTION} {SPEC}\n\nInput: x\nOutput:")]


def test_chat_text_is_the_head_only():
    assert full("chat").text == f"{INSTRUCTION} {SPEC}"
    assert full("inline").text.startswith(f"{INSTRUCTION} {SPEC}\n\nInput: it was great")


def test_rendered_shows_every_message_with_the_input_placeholder():
    shown = full("chat").rendered()
    assert shown.count("[user]") == 3
    assert shown.count("[assistant]") == 2
    assert "[assistant]\npositive" in shown
    assert shown.endswith("[user]\nInput: {input}\nOutput:")
    system = full("system").rendered()
    assert system.startswith("[system]\n" + full("system").text)
    assert system.endswith("[user]\n{input}")


# ------------------------------------------------------------------ identity


def test_keys_differ_between_layouts():
    keys = {layout: full(layout).key for layout in (None, "inline", "system", "chat")}
    assert len(set(keys.values())) == 4
    assert "[layout: chat]" in keys["chat"]
    assert "[demos:" in keys["chat"]
    assert "[layout:" not in keys[None]


@pytest.mark.parametrize("layout", [None, "inline", "system", "chat"])
def test_keys_differ_between_demo_sets(layout):
    keys = {
        full(layout, demos).key
        for demos in (DEMOS, DEMOS[:1], DEMOS[::-1], (Demo("it was ok", "positive"),))
    }
    assert len(keys) == 4


def test_keys_differ_from_the_plain_instruction_when_parts_are_added():
    plain = StructuredPrompt.plain(INSTRUCTION)
    assert plain.key != StructuredPrompt(instruction=INSTRUCTION, output_spec=SPEC).key
    assert plain.key != StructuredPrompt(instruction=INSTRUCTION, layout="system").key


# ------------------------------------------------------------------ editing


def test_parts_round_trip():
    for layout in (None, "inline", "system", "chat"):
        prompt = full(layout).with_parts("demos", demos=DEMOS[:1])
        data = prompt.parts()
        assert data["demos"] == [{"input": "it was great", "output": "positive", "id": "t0"}]
        assert data["layout"] == layout
        again = StructuredPrompt.from_parts(data)
        assert again == prompt
        assert again.origin == prompt.origin == {"demos": "demos"}
        assert again.key == prompt.key


def test_from_parts_fills_missing_parts():
    assert StructuredPrompt.from_parts({"instruction": "x"}) == StructuredPrompt.plain("x")


def test_with_parts_records_the_operator_and_leaves_the_original():
    base = StructuredPrompt.plain(INSTRUCTION)
    spec = base.with_parts("spec", output_spec=SPEC)
    chat = spec.with_parts("layout", layout="chat", demos=DEMOS)
    assert base.output_spec == ""
    assert base.origin == {}
    assert spec.origin == {"output_spec": "spec"}
    assert chat.origin == {"output_spec": "spec", "template": "layout", "demos": "layout"}
    assert (chat.layout, chat.demos) == ("chat", DEMOS)


def test_changed_parts_names_exactly_the_changed_parts():
    base = full(None)
    assert base.changed_parts(base) == []
    assert (
        base.changed_parts(full(None).with_parts("x", instruction=" Classify  the review.")) == []
    )
    assert base.with_parts("x", instruction="Judge.").changed_parts(base) == ["instruction"]
    assert base.with_parts("x", output_spec="Be brief.").changed_parts(base) == ["output_spec"]
    assert base.with_parts("x", demos=DEMOS[:1]).changed_parts(base) == ["demos"]
    assert base.with_parts("x", layout="chat").changed_parts(base) == ["template"]
    everything = StructuredPrompt(instruction="Judge.", layout="system")
    assert everything.changed_parts(base) == list(PART_NAMES)


def test_demos_from_takes_the_first_target_and_the_id():
    examples = (Example(id="t7", input="in", targets=("a", "b")),)
    assert demos_from(examples) == (Demo("in", "a", "t7"),)


# ------------------------------------------------------------------ candidates


def test_a_plain_candidate_stays_plain():
    candidate = Candidate.structured(StructuredPrompt.plain(INSTRUCTION), source="s", step=1)
    assert candidate.structure is None
    assert candidate.text == INSTRUCTION
    assert candidate.key == prompt_key(INSTRUCTION)
    assert candidate.prompt == INSTRUCTION
    assert candidate.parts == StructuredPrompt.plain(INSTRUCTION)
    assert candidate.identity == INSTRUCTION


def test_a_structured_candidate_keeps_its_parts():
    prompt = full(None)
    candidate = Candidate.structured(prompt, source="s", step=1)
    assert candidate.structure == prompt
    assert candidate.text == prompt.text
    assert candidate.key == prompt.key
    assert candidate.prompt is prompt
    assert candidate.identity == prompt.text  # no layout of its own: the text is its identity
    chat = Candidate.structured(full("chat"), source="s", step=1)
    assert chat.identity == full("chat").key != chat.text


def test_a_candidate_text_must_be_its_structure_text():
    with pytest.raises(ValueError, match="structure's text"):
        Candidate(text=INSTRUCTION, source="s", step=1, structure=full(None))
    Candidate(text=full(None).text, source="s", step=1, structure=full(None))  # fine


# ------------------------------------------------------------------ evaluator


EXAMPLES = (
    Example(id="e0", input="it was great", targets=("positive",)),
    Example(id="e1", input="it was dull", targets=("negative",)),
    Example(id="e2", input="it was lovely", targets=("positive",)),
)


@pytest.mark.parametrize("layout", [None, "inline", "system", "chat"])
@pytest.mark.parametrize("template", TEMPLATES[:2], ids=lambda t: t.kind)
async def test_the_evaluator_sends_exactly_the_rendered_messages(layout, template):
    evaluator, model = recording_evaluator(template)
    prompt = full(layout)
    result = await evaluator.evaluate(prompt, EXAMPLES, split="dev")
    expected = [payload(prompt.render(example.input, template)) for example in EXAMPLES]
    assert sorted(model.received) == sorted(expected)
    assert [evaluator.render(prompt, e.input) for e in EXAMPLES] == [
        prompt.render(e.input, template) for e in EXAMPLES
    ]
    assert result.prompt == prompt.text
    assert result.template == (layout or template.id)
    assert result.scores == [1.0, 1.0, 0.0]  # the fake answers "positive" only to "great"


async def test_the_evaluator_sends_a_chat_prompt_as_turns():
    evaluator, model = recording_evaluator()
    await evaluator.evaluate(full("chat"), EXAMPLES[:1], split="dev")
    assert model.received == [
        [
            ("human", f"{INSTRUCTION} {SPEC}\n\nInput: it was great\nOutput:"),
            ("ai", "positive"),
            ("human", "Input: it was awful\nOutput:"),
            ("ai", "negative"),
            ("human", "Input: it was great\nOutput:"),
        ]
    ]


async def test_a_plain_string_and_its_plain_structure_send_the_same():
    evaluator, model = recording_evaluator(PromptTemplate(kind="system"))
    await evaluator.evaluate(INSTRUCTION, EXAMPLES, split="dev")
    as_text = sorted(model.received)
    model.received.clear()
    await evaluator.evaluate(StructuredPrompt.plain(INSTRUCTION), EXAMPLES, split="dev")
    assert sorted(model.received) == as_text
    assert as_text[0][0] == ("system", INSTRUCTION)


async def test_concat_joins_blocks_in_order():
    evaluator, _model = recording_evaluator()
    prompt = full("inline")
    whole = await evaluator.evaluate(prompt, EXAMPLES, split="dev")
    first = await evaluator.evaluate(prompt, EXAMPLES[:1], split="dev")
    rest = await evaluator.evaluate(prompt, EXAMPLES[1:], split="dev")
    joined = concat([first, rest])
    assert [r.example_id for r in joined.examples] == ["e0", "e1", "e2"]
    assert joined.scores == whole.scores
    assert joined.mean == pytest.approx(whole.mean)
    assert joined.usage.calls == first.usage.calls + rest.usage.calls == 3
    assert (joined.prompt, joined.template, joined.split) == (prompt.text, "inline", "dev")
    with pytest.raises(ValueError, match="at least one"):
        concat([])


# ------------------------------------------------------------------ prompt memory


def test_parts_round_trip_through_the_prompt_store(tmp_path):
    prompt = full("chat").with_parts("layout", layout="chat")
    candidate = Candidate.structured(prompt, source="structure", step=2)
    record = PromptRecord(
        id=prompt_id("r1", candidate.identity),
        text=candidate.text,
        task="t",
        run="r1",
        step=2,
        source="structure",
        dev_score=0.5,
        parts=prompt.parts(),
    )
    plain = PromptRecord(text=INSTRUCTION, task="t", run="r1", step=0, source="seed")
    with PromptStore.embedded(tmp_path / "prompts", HashEmbedder()) as store:
        store.add([plain, record])
        stored = store.get(record.id)
        assert stored is not None
        assert stored.parts == prompt.parts()
        assert StructuredPrompt.from_parts(stored.parts) == prompt
        assert StructuredPrompt.from_parts(stored.parts).origin == {"template": "layout"}
        assert store.get(plain.id).parts is None
        # Writing the same prompt again without parts keeps the stored ones.
        rescored = dataclasses.replace(record, parts=None, dev_score=0.75)
        store.add([rescored])
        again = store.get(record.id)
        assert (again.parts, again.dev_score) == (prompt.parts(), 0.75)
