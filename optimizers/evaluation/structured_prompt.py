"""A prompt is more than its instruction: instruction, output spec, demonstrations, template.

Small models answer the same instruction very differently depending on what
surrounds it: a clause naming the allowed answers, a few worked examples, and
where the text sits in the chat. :class:`StructuredPrompt` holds those parts and
is the one place they become chat messages (:meth:`StructuredPrompt.render`), so
what is scored, stored, shown and exported is the same prompt.

A structured prompt with no spec, no demonstrations and no template of its own is
exactly the plain instruction: same text, same identity, same messages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from optimizers.evaluation.templates import INLINE_TEXT, PromptTemplate, fill

Layout = Literal["inline", "system", "chat"]
"""Where the parts go: one user message (``inline``), the prompt as the system message
(``system``), or each demonstration as a prior user/assistant turn (``chat``)."""

PART_NAMES = ("instruction", "output_spec", "demos", "template")


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


@dataclass(frozen=True)
class Demo:
    """A labelled train example shown to the model; ``id`` says which one (lineage)."""

    input: str
    output: str
    id: str = ""

    def block(self) -> str:
        """The demonstration as the inline template writes an example."""
        return f"Input: {self.input}\nOutput: {self.output}"


@dataclass(frozen=True, kw_only=True)
class StructuredPrompt:
    """The parts of a prompt; ``layout`` None means the task's own template."""

    instruction: str
    output_spec: str = ""
    demos: tuple[Demo, ...] = ()
    layout: Layout | None = None
    origin: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    """Where each part came from (part name -> operator), for lineage; not part of identity."""

    def __post_init__(self) -> None:
        if self.layout not in (None, "inline", "system", "chat"):
            raise ValueError(f"layout must be inline, system, chat or None, got {self.layout!r}")

    # ----------------------------------------------------------------------- text

    @property
    def head(self) -> str:
        """Instruction and output spec as one paragraph (a lone instruction exactly as written)."""
        if not self.output_spec:
            return self.instruction
        return " ".join(part.strip() for part in (self.instruction, self.output_spec) if part)

    @property
    def text(self) -> str:
        """The prompt as one text: the head, then the demonstrations (what a person pastes)."""
        if self.layout == "chat" or not self.demos:
            return self.head
        return "\n\n".join([self.head, *(demo.block() for demo in self.demos)])

    @property
    def key(self) -> str:
        """Identity for de-duplication: whitespace-insensitive, the layout and demos included."""
        base = _squash(self.text)
        if self.layout == "chat" and self.demos:
            base += " [demos: " + " | ".join(_squash(d.block()) for d in self.demos) + "]"
        return base if self.layout is None else f"{base} [layout: {self.layout}]"

    @property
    def is_plain(self) -> bool:
        """True when this is just an instruction (no spec, demos or layout of its own)."""
        return not self.output_spec and not self.demos and self.layout is None

    # ------------------------------------------------------------------ rendering

    def render(self, input: str, template: PromptTemplate | None = None) -> list[BaseMessage]:
        """The chat messages for one input; ``template`` is the task's, used when layout is None."""
        template = template or PromptTemplate()
        if self.layout is None:
            return template.render(self.text, input)
        if self.layout == "system":
            return PromptTemplate(kind="system").render(self.text, input)
        if self.layout == "inline" or not self.demos:
            return [HumanMessage(content=fill(INLINE_TEXT, prompt=self.text, input=input))]
        first, *rest = self.demos
        messages: list[BaseMessage] = [
            HumanMessage(content=fill(INLINE_TEXT, prompt=self.head, input=first.input)),
            AIMessage(content=first.output),
        ]
        for demo in rest:
            turn = HumanMessage(content=f"Input: {demo.input}\nOutput:")
            messages += [turn, AIMessage(content=demo.output)]
        return [*messages, HumanMessage(content=f"Input: {input}\nOutput:")]

    def rendered(self, template: PromptTemplate | None = None) -> str:
        """The whole prompt as a person can copy it: every message, ``{input}`` where it goes."""
        lines = []
        for message in self.render("{input}", template):
            role = {"human": "user", "ai": "assistant"}.get(message.type, message.type)
            lines.append(f"[{role}]\n{message.content}")
        return "\n\n".join(lines)

    # -------------------------------------------------------------------- editing

    def with_parts(self, operator: str, **parts: Any) -> StructuredPrompt:
        """A copy with some parts replaced; ``operator`` is recorded as their origin."""
        names = ("template" if name == "layout" else name for name in parts)
        origin = {**self.origin, **dict.fromkeys(names, operator)}
        return replace(self, origin=origin, **parts)

    def changed_parts(self, other: StructuredPrompt) -> list[str]:
        """Names of the parts that differ from ``other`` (``PART_NAMES`` order)."""
        changed = []
        if _squash(self.instruction) != _squash(other.instruction):
            changed.append("instruction")
        if _squash(self.output_spec) != _squash(other.output_spec):
            changed.append("output_spec")
        if self.demos != other.demos:
            changed.append("demos")
        if self.layout != other.layout:
            changed.append("template")
        return changed

    def parts(self) -> dict[str, Any]:
        """The parts as JSON (what the report, the UI and the prompt memory keep)."""
        return {
            "instruction": self.instruction,
            "output_spec": self.output_spec,
            "demos": [{"input": d.input, "output": d.output, "id": d.id} for d in self.demos],
            "layout": self.layout,
            "origin": dict(self.origin),
        }

    @classmethod
    def from_parts(cls, data: dict[str, Any]) -> StructuredPrompt:
        """Rebuild what :meth:`parts` wrote."""
        return cls(
            instruction=str(data["instruction"]),
            output_spec=str(data.get("output_spec", "")),
            demos=tuple(
                Demo(str(d["input"]), str(d["output"]), str(d.get("id", "")))
                for d in data.get("demos", ())
            ),
            layout=data.get("layout"),
            origin={str(k): str(v) for k, v in dict(data.get("origin", {})).items()},
        )

    @classmethod
    def plain(cls, instruction: str) -> StructuredPrompt:
        """The structured form of a plain instruction."""
        return cls(instruction=instruction)


def demos_from(examples: Sequence[Any]) -> tuple[Demo, ...]:
    """Demonstrations from train examples (their first acceptable target)."""
    return tuple(Demo(example.input, example.targets[0], example.id) for example in examples)
