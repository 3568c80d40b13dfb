"""Writing candidate prompts with the optimizer model: APE induction and paraphrases.

APE (Zhou et al. 2023) shows the model a few input/output demos from train and asks
it to finish "The instruction was to ..."; sampled many times at temperature > 0 this
gives the candidate domain ZOPO searches (docs ALGORITHMS.md, ZOPO step 1).
Paraphrasing an instruction is APE's Monte-Carlo step and also grows the domain.

Small models write poorly (SmolLM2-135M: a few sensible instructions in ten), so every
reply is cleaned into a usable instruction or rejected with a reason, duplicates are
dropped, and the number of calls is bounded (``2 n`` by default): a model that only
answers junk costs a known number of calls and yields fewer prompts, never a loop.
Concurrency is the :class:`~optimizers.evaluation.chat_calls.ChatCaller`'s: the samples
of one round are awaited together and the caller's semaphore bounds them.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from langchain_core.messages import HumanMessage

from optimizers.evaluation.chat_calls import CallFailed, ChatCaller
from optimizers.propose.cleaning import Cleaned, clean_instruction, normalise_key
from optimizers.propose.proposals import constraints_block, parse_proposal
from optimizers.registry import APE
from optimizers.tasks.example import Example

"""A demo input or output this long that appears whole in an instruction is an echo."""

APE_TEMPLATE = (
    "I gave a friend an instruction and {k} inputs. The friend read the instruction and "
    "wrote an output for every one of the inputs. Here are the input-output pairs:\n\n"
    "{demos}\n\n{constraints}"
    'What was the instruction? Answer in one sentence that begins with "The instruction was to".'
)
"""APE's forward template, asked as a question: chat models do not continue a text.

On SmolLM2-135M (16 samples each, sentiment) this wording gave 4 sensible instructions
where the literal "Complete the sentence: The instruction was to" gave none and had the
model echo "complete the sentence" back as the instruction."""

PARAPHRASE_STYLES = (
    "Generate a variation of the following instruction while keeping the semantic meaning.",
    "Rephrase the following instruction in different words, keeping what it asks for.",
    "Rewrite the following instruction so that it is clearer and more specific.",
    "Rewrite the following instruction more simply and briefly, keeping its meaning.",
)
PARAPHRASE_TEMPLATE = (
    "{style} Wrap the new instruction with <START> and <END>.\n\n{constraints}"
    "Input: {prompt}\n\nOutput: <START>"
)
"""APE's resampling template ("Input: ... Output:"), with the tags parse_proposal reads."""


@dataclass(frozen=True)
class GeneratedPrompt:
    """One sample of the optimizer model and what became of it.

    ``text`` is the cleaned instruction (for a rejected sample, as far as cleaning got;
    ``""`` if nothing was left). ``notes`` say what cleaning did and, when ``kept`` is
    False, why the sample was rejected (the last note). ``parents`` are the prompts a
    paraphrase was made from.
    """

    text: str
    source: str  # "ape" or "paraphrase"
    notes: tuple[str, ...] = ()
    kept: bool = True
    sample: int = 0
    raw: str = ""
    parents: tuple[str, ...] = ()

    @property
    def reason(self) -> str:
        """Why it was rejected ('' when kept)."""
        return "" if self.kept or not self.notes else self.notes[-1]


@dataclass(frozen=True)
class Sampling:
    """How one sampler (:func:`induce_instructions`, :func:`paraphrase`) draws its prompts.

    One value for what both samplers take, so that callers and the shared sampling loop
    pass it whole instead of repeating the same keywords. ``n`` prompts are wanted; ``rng``
    draws the demos or styles. Every sample uses its own ``sample`` index,
    ``start_sample``, ``start_sample + 1``, ...: the cache would otherwise answer
    identical requests once. At most ``max_attempts`` calls (default ``2 n``, see
    :attr:`attempts`) are made, ``start_sample + attempts`` being the next free index.
    ``directives`` are the constraints every request lists. Texts in ``exclude``
    (already known prompts) count as duplicates. Every sample, kept or rejected, is
    appended to ``log`` (when given) with its notes.

    Raises ``ValueError`` for a negative ``n`` or ``max_attempts``.
    """

    n: int
    rng: random.Random
    start_sample: int = 0
    directives: Sequence[str] = ()
    exclude: Iterable[str] = ()
    max_attempts: int | None = None
    log: list[GeneratedPrompt] | None = None

    def __post_init__(self) -> None:
        if self.n < 0:
            raise ValueError(f"n must be >= 0, got {self.n}")
        if self.attempts < 0:
            raise ValueError(f"max_attempts must be >= 0, got {self.max_attempts}")

    @property
    def attempts(self) -> int:
        """The most calls the sampler may make: ``max_attempts``, by default ``2 n``."""
        return 2 * self.n if self.max_attempts is None else self.max_attempts


# ------------------------------------------------------------------------------ cleaning


def format_demos(demos: Sequence[Example]) -> str:
    """Demos as ``Input: ...`` / ``Output: ...`` pairs, one blank line apart."""
    return "\n\n".join(f"Input: {demo.input}\nOutput: {demo.target}" for demo in demos)


def ape_message(demos: Sequence[Example], directives: Sequence[str] = ()) -> str:
    """The APE forward-generation request for these demos."""
    constraints = constraints_block(directives)
    return APE_TEMPLATE.format(
        k=len(demos),
        demos=format_demos(demos),
        constraints=f"{constraints}\n" if constraints else "",
    )


def paraphrase_message(prompt: str, style: str, directives: Sequence[str] = ()) -> str:
    """The paraphrase request for ``prompt`` in one of :data:`PARAPHRASE_STYLES`."""
    constraints = constraints_block(directives)
    return PARAPHRASE_TEMPLATE.format(
        style=style, prompt=prompt, constraints=f"{constraints}\n" if constraints else ""
    )


@dataclass(frozen=True)
class _Request:
    sample: int
    message: str
    demos: tuple[Example, ...] = ()


async def _ask(caller: ChatCaller, request: _Request) -> tuple[str | None, str | None]:
    """The reply text, or ``None`` and why (one failed request costs one sample)."""
    try:
        completion = await caller.complete([HumanMessage(request.message)], sample=request.sample)
    except CallFailed as exc:
        return None, f"call failed: {exc}"
    return completion.text, None


async def _sample_until(
    caller: ChatCaller,
    sampling: Sampling,
    *,
    make_request: Callable[[int], _Request],
    judge: Callable[[_Request, str | None, str | None], GeneratedPrompt],
    also_exclude: Iterable[str] = (),
) -> list[GeneratedPrompt]:
    """Sample in rounds until ``sampling.n`` prompts are kept or its calls are spent.

    ``make_request`` gets the sample index of each request; texts in ``also_exclude``
    count as duplicates as those in ``sampling.exclude`` do.
    """
    n, max_attempts, log = sampling.n, sampling.attempts, sampling.log
    seen = {normalise_key(text) for text in (*also_exclude, *sampling.exclude)}
    kept: list[GeneratedPrompt] = []
    attempts = 0
    while len(kept) < n and attempts < max_attempts:
        size = min(n - len(kept), max_attempts - attempts)
        # Requests (and so the rng draws) are made in sample order before any await, so
        # the same rng state gives the same requests whatever order replies arrive in.
        requests = [make_request(sampling.start_sample + attempts + i) for i in range(size)]
        attempts += size
        replies = await asyncio.gather(*(_ask(caller, request) for request in requests))
        for request, (reply, failure) in zip(requests, replies, strict=True):
            record = judge(request, reply, failure)
            if record.kept:
                key = normalise_key(record.text)
                if key in seen:
                    record = _reject(record, "duplicate of an earlier prompt")
                else:  # a round asks for no more than are missing: never too many
                    seen.add(key)
                    kept.append(record)
            if log is not None:
                log.append(record)
    return kept


def _reject(record: GeneratedPrompt, why: str) -> GeneratedPrompt:
    return GeneratedPrompt(
        record.text,
        record.source,
        (*record.notes, why),
        False,
        record.sample,
        record.raw,
        record.parents,
    )


async def induce_instructions(
    caller: ChatCaller,
    train: Sequence[Example],
    sampling: Sampling,
    *,
    demos_per_prompt: int = 5,
) -> list[GeneratedPrompt]:
    """Induce up to ``sampling.n`` distinct instructions from ``train`` demos (APE forward).

    Each sample shows ``demos_per_prompt`` random train examples (drawn with
    ``sampling.rng``); indices, the bound on calls, known prompts and the log are as
    :class:`Sampling` says.
    """
    if not train:
        raise ValueError("APE needs train examples to show as demos; the train split is empty")
    if demos_per_prompt < 1:
        raise ValueError(f"demos_per_prompt must be >= 1, got {demos_per_prompt}")
    k = min(demos_per_prompt, len(train))

    def make_request(sample: int) -> _Request:
        demos = tuple(sampling.rng.sample(list(train), k))
        return _Request(sample, ape_message(demos, sampling.directives), demos)

    def judge(request: _Request, reply: str | None, failure: str | None) -> GeneratedPrompt:
        if reply is None:
            return GeneratedPrompt("", APE, (failure or "no reply",), False, request.sample)
        cleaned = clean_instruction(reply, demos=request.demos)
        return _record(cleaned, APE, request.sample, reply)

    return await _sample_until(caller, sampling, make_request=make_request, judge=judge)


async def paraphrase(
    caller: ChatCaller,
    prompt: str,
    sampling: Sampling,
) -> list[GeneratedPrompt]:
    """Up to ``sampling.n`` distinct paraphrases of ``prompt`` (APE's Monte-Carlo resampling).

    Each sample asks in one of :data:`PARAPHRASE_STYLES` (chosen with ``sampling.rng``;
    "keep the meaning", "clearer", "simpler", ...) for the new text between ``<START>``
    and ``<END>``, read with :func:`optimizers.propose.proposals.parse_proposal` and
    cleaned like an induced instruction. ``prompt`` itself and ``sampling.exclude`` count
    as duplicates. Bounded like :func:`induce_instructions`, as :class:`Sampling` says.
    """

    def make_request(sample: int) -> _Request:
        style = sampling.rng.choice(PARAPHRASE_STYLES)
        return _Request(sample, paraphrase_message(prompt, style, sampling.directives))

    def judge(request: _Request, reply: str | None, failure: str | None) -> GeneratedPrompt:
        parents = (prompt,)
        if reply is None:
            return GeneratedPrompt(
                "", "paraphrase", (failure or "no reply",), False, request.sample, "", parents
            )
        parsed = parse_proposal(reply)
        if parsed.text is None:
            reason = parsed.problem or "no prompt found"
            return GeneratedPrompt(
                "", "paraphrase", (reason,), False, request.sample, reply, parents
            )
        cleaned = clean_instruction(parsed.text)
        cleaned = Cleaned(
            cleaned.text, (f"parsed ({parsed.rule})", *cleaned.notes), cleaned.problem
        )
        return _record(cleaned, "paraphrase", request.sample, reply, parents)

    return await _sample_until(
        caller, sampling, make_request=make_request, judge=judge, also_exclude=(prompt,)
    )


def _record(
    cleaned: Cleaned, source: str, sample: int, raw: str, parents: tuple[str, ...] = ()
) -> GeneratedPrompt:
    notes = cleaned.notes if cleaned.ok else (*cleaned.notes, str(cleaned.problem))
    return GeneratedPrompt(cleaned.text, source, notes, cleaned.ok, sample, raw, parents)
