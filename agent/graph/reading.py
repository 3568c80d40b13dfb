"""What a chat message is: a greeting, a question, data, a prompt, steering, feedback, a yes.

One reader serves the chat and the graph. It must work with the smallest model, so
it reads deterministically: the situation (is a run live, has one finished, does a
prompt wait for a yes) decides what the same words mean ("carry on" resumes a live
run and continues a finished one; "stop" with nothing running starts nothing). A
message it cannot place is read as the likeliest kind and marked ``unsure``, with
``understood`` saying in plain words what it took the message for, so the chat can
ask instead of acting. A new prompt is never started without a yes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from agent.graph.steering import FollowUp, Steering, read_follow_up, read_steering
from optimizers.tasks import BUILTIN_TASKS

Intent = Literal[
    "greeting",
    "question",
    "data",
    "prompt",
    "steer",
    "feedback",
    "confirm",
    "decline",
    "fix",
    "unclear",
]
Topic = Literal["abilities", "zero", "cost", "status", "words", "other"]


@dataclass(frozen=True)
class Situation:
    """What the chat knows when a message arrives."""

    has_data: bool = False
    live: bool = False  # a run is going on
    finished: bool = False  # the attached run has finished with a best prompt
    awaiting_start: bool = False  # a prompt waits for "yes"
    directives: tuple[str, ...] = ()  # the live run's standing rules
    fixes: int = 0  # fixes offered for a prompt that scored zero ("fix 1" …)


@dataclass(frozen=True)
class Reading:
    """One message, understood."""

    intent: Intent
    text: str
    understood: str  # what the reader took it for, in plain words
    unsure: bool = False
    steering: Steering | None = None  # intent "steer"
    follow_up: FollowUp | None = None  # intent "feedback"
    topic: Topic | None = None  # intent "question"
    builtin: str | None = None  # intent "data"
    rule: str | None = None  # feedback "refine": the rule the prompt should follow next
    choice: int | None = None  # intent "fix": which offered fix (1-based)


_END = r"\s*[.!?]*\s*(?:[:;][-)(DP]|[\U0001F300-\U0001FAFF☀-➿])?\s*$"
_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|hiya|howdy|yo|hallo|good (?:morning|afternoon|evening|day)|"
    r"greetings|thanks?(?: you)?(?: (?:so|very) much)?|thx|cheers|bye|goodbye)"
    r"(?:\s+(?:there|all|everyone|promptpilot|again))?" + _END,
    re.IGNORECASE,
)
_YES_WORD = (
    r"(?:y|yes|yeah|yep|yup|sure|ok|okay|go|go ahead|start|start it|do it|please do|"
    r"let'?s go|let'?s do it|sounds good|fine|please|run it|good)"
)
_YES = re.compile(rf"^\s*{_YES_WORD}(?:[\s,!.]+{_YES_WORD})*" + _END, re.IGNORECASE)
_NO = re.compile(
    r"^\s*(?:n|no|nope|nah|cancel|not now|don'?t|do not|never ?mind|wait|hold on|not yet)" + _END,
    re.IGNORECASE,
)
_BUILTIN = re.compile(
    r"^\s*(?:please\s+)?(?:use|load|open|try|pick)\s+(?:the\s+)?(?:built-?in\s+)?([a-z_]+)"
    r"(?:\s+(?:task|data|dataset|example))?\s*[.!]?\s*$",
    re.IGNORECASE,
)
_ABILITIES = re.compile(
    r"^\s*(?:help|\?+|what can (?:you|i) (?:do|say)|what do you do|how does (?:this|it) work|"
    r"how do i (?:start|begin|use (?:this|you|it))|who are you|what are you|what is this)\b",
    re.IGNORECASE,
)
_ZERO = re.compile(
    r"\b(?:zero|zeros|0(?:\.0+)?|nothing (?:works|scores)|all wrong|no score|so (?:low|bad))\b",
    re.IGNORECASE,
)
_COST = re.compile(r"\b(?:how long|how much|cost|price|pay|time will|minutes)\b", re.IGNORECASE)
_STATUS = re.compile(
    r"\b(?:how is it going|how'?s it going|status|progress|what'?s happening|are you done|"
    r"still running|where are we)\b",
    re.IGNORECASE,
)
_WORDS = re.compile(
    r"\b(?:what (?:is|are|does|do) (?:a |an |the )?(?:dev|test|train|split|metric|evaluation|"
    r"llm call|call|budget|optimizer|zopo|gpo|textgrad|ape|structure)s?)\b",
    re.IGNORECASE,
)
# A question to the assistant speaks to it or about the run; "Is this review positive?"
# speaks about the input and is a prompt to improve.
_TO_ASSISTANT = re.compile(
    r"\b(?:you|your|i|me|my|we|our|us|score[sd]?|scoring|run|runs|prompts?|optimi[sz]\w*|dev|"
    r"test|calls?|budget|data|upload\w*|works?|working|metric)\b",
    re.IGNORECASE,
)
_QUESTION_START = re.compile(
    r"^\s*(?:why|how|what|when|where|who|which|can|could|would|will|should|do|does|did|is|are)\b",
    re.IGNORECASE,
)
_ABOUT_PROMPT = re.compile(
    r"\b(?:the|my|this|your) (?:prompt|instruction)\b|\bmake it\b", re.IGNORECASE
)
_FIRST_PERSON = re.compile(r"\b(?:i|i'm|i'd|i've|my|we|we're)\b", re.IGNORECASE)
_MIN_PROMPT_WORDS = 3
_FIX = re.compile(r"^\s*(?:please\s+)?(?:apply |use |try |take )?fix\s*#?\s*(\d+)" + _END, re.I)


def read_message(text: str, situation: Situation) -> Reading:
    """What ``text`` asks for in ``situation``."""
    text = text.strip()
    if not text:
        return Reading("unclear", text, "an empty message", unsure=True)
    if situation.awaiting_start and (found := _answer_to_start(text)) is not None:
        return found
    if _GREETING.match(text):
        return Reading("greeting", text, "a greeting")
    if situation.fixes and (match := _FIX.match(text)) is not None:
        choice = int(match.group(1))
        return Reading("fix", text, f"apply fix {choice}", choice=choice)
    steering = read_steering(text, list(situation.directives))
    if (match := _BUILTIN.match(text)) and (
        match.group(1).lower() in BUILTIN_TASKS or re.search(r"built-?in|task\b", text, re.I)
    ):
        name = match.group(1).lower()  # an unknown name is answered with the known ones
        return Reading("data", text, f"the built-in task {name}", builtin=name)
    if situation.live:
        return _while_live(text, steering)
    if (question := _question(text)) is not None:
        return question
    if situation.finished and (follow_up := read_follow_up(text)) is not None:
        said = {"continue": "carry on from the best prompt", "wait": "hold on",
                "refine": "a change to the best prompt"}[follow_up]  # fmt: skip
        rule = text if follow_up == "refine" else None
        return Reading("feedback", text, said, follow_up=follow_up, rule=rule)
    if steering.command:
        return Reading("steer", text, "a command for a run (none is going on)", steering=steering)
    return _prompt_or_unclear(text, situation)


def _answer_to_start(text: str) -> Reading | None:
    if _YES.match(text):
        return Reading("confirm", text, "yes, start")
    if _NO.match(text):
        return Reading("decline", text, "no, do not start")
    return None


def _while_live(text: str, steering: Steering) -> Reading:
    """During a run every message goes to it; questions are answered besides."""
    if steering.understood:
        return Reading("steer", text, _steering_words(steering), steering=steering)
    if (question := _question(text)) is not None:
        return question
    return Reading("steer", text, "a note for the planner", unsure=True, steering=steering)


def _steering_words(steering: Steering) -> str:
    if steering.stop:
        return "stop the run"
    if steering.pause:
        return "pause the run"
    if steering.accept:
        return f"end on candidate {steering.accept}"
    if steering.roll_back:
        return f"roll back to {steering.roll_back}"
    if steering.remove_asked is not None:
        return f"drop the rule {steering.remove_asked!r}"
    said = []
    if steering.resume:
        said.append("resume")
    if steering.optimizer:
        said.append(f"switch to {steering.optimizer}")
    if steering.budget_queries:
        said.append(f"budget {steering.budget_queries}")
    if steering.add_directives:
        said.append("a new rule for the prompts")
    return ", ".join(said)


def _question(text: str) -> Reading | None:
    """A question to the assistant (not a prompt that happens to be a question)."""
    if _ABILITIES.match(text):
        return Reading("question", text, "a question about what I can do", topic="abilities")
    asks = text.rstrip().endswith("?") or _QUESTION_START.match(text) is not None
    if not asks:
        return None
    if _ZERO.search(text) and re.search(r"\b(?:why|what|how)\b", text, re.IGNORECASE):
        return Reading("question", text, "why the scores are zero", topic="zero")
    if _WORDS.search(text):
        return Reading("question", text, "what a word means", topic="words")
    if _STATUS.search(text):
        return Reading("question", text, "how the run is going", topic="status")
    if _COST.search(text):
        return Reading("question", text, "what a run costs", topic="cost")
    if _TO_ASSISTANT.search(text):
        return Reading("question", text, "a question", topic="other", unsure=True)
    return None


def _prompt_or_unclear(text: str, situation: Situation) -> Reading:
    words = len(text.split())
    if _ABOUT_PROMPT.search(text) and words <= 12:
        return Reading(
            "unclear", text, "a change to a prompt, but no run has finished to apply it to",
            unsure=True,
        )  # fmt: skip
    if _FIRST_PERSON.search(text) and words <= 15 and "\n" not in text:  # talk, not a prompt
        if situation.finished:
            return Reading(
                "feedback", text, "a wish about the best prompt", unsure=True,
                follow_up="refine", rule=text,
            )  # fmt: skip
        return Reading("unclear", text, "a remark, not a prompt", unsure=True)
    if words < _MIN_PROMPT_WORDS and "\n" not in text:
        return Reading("unclear", text, "too short to be a prompt", unsure=True)
    said = "a prompt to improve" if situation.has_data else "a prompt to improve (no data yet)"
    return Reading("prompt", text, said)
