"""APE induction and paraphrasing with the real embedded model (SmolLM2-135M).

The model writes poor instructions (a few sensible ones in ten), so these tests check
structure, not quality: no crash, the call bound holds, and whatever is kept is a
cleaned, distinct instruction; every rejected sample says why.
"""

from __future__ import annotations

import random

import pytest

from agent.llm.models import make_backend
from agent.llm.settings import ModelSettings
from optimizers.evaluation.chat_calls import ChatCaller
from optimizers.propose.cleaning import MAX_WORDS, MIN_WORDS, normalise_key
from optimizers.propose.generation import Sampling, induce_instructions, paraphrase
from optimizers.tasks import load_builtin_task

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def real_caller(base_url: str) -> ChatCaller:
    # No response cache: every sample is a real call, so the call count is checkable.
    return ChatCaller(
        make_backend(ModelSettings(base_url=base_url, temperature=0.9, max_tokens=64))
    )


def check_kept(prompts, log) -> None:
    assert [p for p in log if p.kept] == prompts
    assert len({normalise_key(p.text) for p in prompts}) == len(prompts)
    for p in prompts:
        assert MIN_WORDS <= len(p.text.split()) <= MAX_WORDS
        assert p.text[0].isupper() or not p.text[0].isalpha()
        assert p.text[-1] in ".!?"
        assert "\n" not in p.text
        assert not p.text.lower().startswith("the instruction was to")
        assert "<START>" not in p.text.upper()
    for p in log:
        if not p.kept:
            assert p.reason


async def test_induce_ten_instructions_from_reviews(llm_server):
    caller = real_caller(llm_server.base_url)
    train = load_builtin_task("review_sentiment").examples[:60]
    log = []
    prompts = await induce_instructions(
        caller, train, Sampling(n=10, rng=random.Random(0), log=log)
    )
    assert caller.usage.calls == len(log) <= 20
    assert len(prompts) <= 10
    assert all(p.source == "ape" for p in prompts)
    check_kept(prompts, log)
    for p in log:
        print(f"{'KEPT' if p.kept else 'DROP'} {p.text!r} <- {p.raw[:80]!r} {p.notes}")


async def test_paraphrase_a_prompt(llm_server):
    caller = real_caller(llm_server.base_url)
    log = []
    seed = "Decide whether the review is positive or negative."
    prompts = await paraphrase(caller, seed, Sampling(n=3, rng=random.Random(0), log=log))
    assert caller.usage.calls == len(log) <= 6
    assert all(p.parents == (seed,) for p in log)
    check_kept(prompts, log)
    for p in log:
        print(f"{'KEPT' if p.kept else 'DROP'} {p.text!r} <- {p.raw[:80]!r} {p.notes}")
