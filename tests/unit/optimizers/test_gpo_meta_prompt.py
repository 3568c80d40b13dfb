from optimizers.evaluation.templates import PromptTemplate
from optimizers.gpo import build_meta_prompt, render_exemplar
from optimizers.gpo.meta_prompt import (
    CURRENT_PROMPT,
    EXEMPLARS_HEADER,
    INSTRUCTION,
    TASK_STATEMENT,
    TRAJECTORY_HEADER,
    WRAP_LINE,
    as_percent,
)
from optimizers.tasks.example import Example

EXAMPLES = [
    Example(id="a", input="A moving, beautiful film.", targets=("positive",)),
    Example(id="b", input="Two hours I will never get back.", targets=("negative",)),
    Example(id="c", input="Loved every {minute} of it.", targets=("positive",)),
]


def build(**overrides) -> str:
    template = PromptTemplate()
    arguments = {
        "direction": [
            ("Answer {input} with positive or negative.", 0.625),
            ("Is the review positive or negative?", 0.1),
            ("Classify the review.", 0.0),
        ],
        "current": "Answer {input} with positive or negative.",
        "exemplars": [render_exemplar(template, example) for example in EXAMPLES],
        "step_size": 37,
        "directives": ("at most 30 words", "keep it polite"),
    }
    return build_meta_prompt(**{**arguments, **overrides})


def test_every_part_in_order():
    text = build()
    parts = [
        TASK_STATEMENT,
        "write a prompt to replace <Prompt>",
        TRAJECTORY_HEADER,
        "from 0 to 100",
        "Prompt: Answer {input} with positive or negative.\nScore: 62",
        "Prompt: Is the review positive or negative?\nScore: 10",
        "Prompt: Classify the review.\nScore: 0",
        CURRENT_PROMPT.replace("{prompt}", "Answer {input} with positive or negative."),
        EXEMPLARS_HEADER,
        "<Prompt>\n\nInput: A moving, beautiful film.\nOutput:\nExpected output: positive",
        "<Prompt>\n\nInput: Two hours I will never get back.\nOutput:\nExpected output: negative",
        "<Prompt>\n\nInput: Loved every {minute} of it.\nOutput:\nExpected output: positive",
        INSTRUCTION,
        "Write a new improved prompt",
        "- at most 30 words",
        "- keep it polite",
        "You are allowed to change up to 37 words in the current prompt.",
        WRAP_LINE,
        "Wrap the new prompt with <START> and <END>.",
    ]
    positions = []
    for part in parts:
        assert part in text, part
        positions.append(text.index(part))
    assert positions == sorted(positions)
    assert text.endswith(WRAP_LINE)
    # Braces in prompts and inputs are text, not placeholders.
    assert "{input}" in text
    assert "{minute}" in text


def test_scores_are_on_a_0_to_100_scale():
    assert [as_percent(s) for s in (0.0, 0.25, 0.4667, 1.0)] == ["0", "25", "47", "100"]
    text = build(direction=[("Say it.", 1.0)])
    assert "Score: 100" in text
    assert "Score: 1.0" not in text


def test_optional_parts_are_left_out_cleanly():
    text = build(direction=[], exemplars=[], directives=())
    assert TRAJECTORY_HEADER not in text
    assert EXEMPLARS_HEADER not in text
    assert "constraints" not in text
    assert "\n\n\n" not in text
    assert text.startswith(TASK_STATEMENT)


def test_exemplars_follow_the_task_template():
    example = EXAMPLES[0]
    system = render_exemplar(PromptTemplate(kind="system"), example)
    assert system == ("System: <Prompt>\nUser: A moving, beautiful film.", "positive")
    custom = PromptTemplate(kind="custom", text="Review: {input}\n{prompt}\nLabel:")
    assert render_exemplar(custom, example)[0] == (
        "Review: A moving, beautiful film.\n<Prompt>\nLabel:"
    )


def test_long_exemplars_are_cut():
    long = Example(id="x", input="word " * 400, targets=("y" * 100,))
    text, output = render_exemplar(PromptTemplate(), long, max_chars=50)
    assert len(text) < 100
    assert text.endswith("…\nOutput:")
    assert output == "y" * 50 + " …"
