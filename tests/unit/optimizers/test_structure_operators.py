"""Operators over structured prompts: output specs, demonstrations, layouts, phrase edits."""

import random
import zlib
from collections import Counter

import numpy as np
import pytest

from optimizers.evaluation.structured_prompt import Demo, StructuredPrompt, demos_from
from optimizers.structure import demos as demo_ops
from optimizers.structure import phrases
from optimizers.structure.operators import OPERATORS, Moves, neighbours
from optimizers.structure.output_spec import ONLY_ANSWER, labels, shape_clauses, spec_clauses
from optimizers.tasks.example import Example
from tests.unit.optimizer_fixtures import OPERATOR_CHANGES

WORDS = {
    "positive": ["great", "lovely", "superb", "fine"],
    "negative": ["awful", "bad", "dull"],
    "neutral": ["okay", "average"],
    "mixed": ["uneven"],
}


def split(prefix: str, n: int, names: list[str]) -> tuple[Example, ...]:
    out = []
    for i in range(n):
        label = names[i % len(names)]
        word = WORDS[label][i % len(WORDS[label])]
        text = f"{prefix}-review {i}: it was {word}"
        out.append(Example(id=f"{prefix}{i}", input=text, targets=(label,)))
    return tuple(out)


TRAIN = split("t", 12, ["positive", "negative"])
DEV = split("d", 9, ["positive", "negative", "neutral"])  # a label train lacks
TEST = split("x", 8, ["mixed", "positive"])  # another one
TRAIN_IDS = {example.id for example in TRAIN}
TRAIN_PAIRS = {(example.input, example.target) for example in TRAIN}
HELD_OUT_INPUTS = {example.input for example in DEV + TEST}
SEED = StructuredPrompt.plain("Read the review. Decide its sentiment. Answer the question.")
LABEL_CLAUSE = "Answer with exactly one of: negative, positive."


def ex(target: str, input: str = "some input", id: str = "") -> Example:
    return Example(id=id or f"e-{input}-{target}", input=input, targets=(target,))


def hash_embed(texts):
    """A deterministic bag-of-words embedding (no model)."""
    out = np.zeros((len(texts), 16), np.float32)
    for row, text in enumerate(texts):
        out[row, 0] = 1.0
        for word in text.lower().split():
            out[row, 1 + zlib.crc32(word.encode()) % 15] += 1.0
    return out / np.linalg.norm(out, axis=1, keepdims=True)


def lowered(parts: list[str]) -> list[str]:
    return [part[:1].lower() + part[1:] for part in parts]


# ------------------------------------------------------------------ output spec


def test_the_label_clause_names_exactly_the_train_labels():
    assert labels(TRAIN) == ["negative", "positive"]  # a tie: alphabetical
    clauses = spec_clauses(TRAIN)
    assert clauses[0] == LABEL_CLAUSE
    assert clauses[1] == "Reply with only the word negative or positive."
    assert clauses[-1] == ONLY_ANSWER
    assert len(clauses) == len(set(clauses))
    assert Moves(train=TRAIN).clauses == clauses
    for clause in clauses:
        assert "neutral" not in clause
        assert "mixed" not in clause
    # The labels come from what the function is given: with dev, "neutral" would appear.
    assert "neutral" in labels(TRAIN + DEV)


def test_labels_are_ordered_by_frequency():
    train = [ex("b")] * 3 + [ex("c")] * 2 + [ex("a")] * 5 + [ex(" a ")]
    assert labels(train) == ["a", "b", "c"]
    clauses = spec_clauses(train)
    assert clauses[0] == "Answer with exactly one of: a, b, c."
    assert not any(clause.startswith("Reply with only the word") for clause in clauses)


def test_labels_are_empty_for_free_text_targets():
    free = [ex(f"answer number {i}", f"q{i}") for i in range(8)]
    assert labels(free) == []
    assert not any("exactly one of" in clause for clause in spec_clauses(free))
    # Too many distinct values, even if each repeats, is no label set.
    many = [ex(f"label{i % 11}", f"q{i}") for i in range(33)]
    assert labels(many) == []
    assert labels(many, max_labels=11) == [f"label{i}" for i in sorted(range(11), key=str)]
    # Half the examples or more with distinct values is free text too.
    assert labels([ex("a"), ex("b"), ex("a"), ex("c")]) == []
    assert labels([ex("a"), ex("b"), ex("a"), ex("b")]) == ["a", "b"]
    assert labels([]) == []


@pytest.mark.parametrize(
    ("targets", "clause"),
    [
        (["12", "-3", "4.5", "7", "1,5"], "Answer with the number only."),
        (["a", "b", "c", "d"], "Answer with a single lowercase letter."),
        (["A", "B", "C", "D"], "Answer with a single letter."),
        (["cold", "short", "dark", "slow"], "Answer with one word only."),
        (["the big dog", "a red car", "my old hat"], "Answer with a few words only."),
        (
            ["It is a long answer of many words.", "Another long answer with plenty of words."],
            "Answer with one short sentence.",
        ),
    ],
)
def test_shape_clauses(targets, clause):
    train = [ex(target, f"input number {i}") for i, target in enumerate(targets)]
    assert shape_clauses(train) == [clause]
    assert clause in spec_clauses(train)


def test_a_rewrite_is_asked_for_as_the_changed_input():
    train = [
        ex("the cats sit on the mat today", "the cats sits on the mat today"),
        ex("she goes to the shop every day", "she go to the shop every day"),
        ex("they were at home all week", "they was at home all week"),
    ]
    assert shape_clauses(train) == [
        "Output the input sentence with the change made, and nothing else."
    ]


def test_no_targets_no_shape():
    assert shape_clauses([]) == []
    assert spec_clauses([]) == [ONLY_ANSWER]


# ------------------------------------------------------------------ demonstrations


def all_demos_of(prompts):
    return [demo for prompt in prompts for demo in prompt.demos]


def assert_from_train(demos):
    assert demos, "the test should see some demonstrations"
    for demo in demos:
        assert demo.id in TRAIN_IDS
        assert (demo.input, demo.output) in TRAIN_PAIRS
        assert demo.input not in HELD_OUT_INPUTS
        assert demo.output not in ("neutral", "mixed")


def test_opening_demos_come_from_train_only():
    moves = Moves(train=TRAIN, embed=hash_embed)
    seen = []
    for seed in range(40):
        opening = moves.opening(SEED, random.Random(seed))
        seen += all_demos_of(prompt for prompt, _ in opening)
        assert "neutral" not in " ".join(prompt.output_spec for prompt, _ in opening)
    assert_from_train(seen)
    assert {demo.id for demo in seen} == TRAIN_IDS  # many seeds reach every train example


def test_every_operator_takes_demos_from_train_only():
    moves = Moves(train=TRAIN, embed=hash_embed)
    seen = []
    for seed in range(30):
        rng = random.Random(seed)
        prompt = rng.choice(moves.opening(SEED, rng))[0]
        for _ in range(12):
            for name in OPERATORS:
                move = moves.neighbour(prompt, name, rng)
                if move is not None:
                    seen += move[0].demos
            found = neighbours(moves, prompt, rng, count=6)
            seen += all_demos_of(p for p, _ in found)
            if found:
                prompt = rng.choice(found)[0]
    assert_from_train(seen)


def test_balanced_demos_show_each_label_in_turn():
    rng = random.Random(3)
    for k in range(1, 9):
        demos = demo_ops.balanced(TRAIN, k, rng)
        assert len(demos) == k
        assert len({demo.id for demo in demos}) == k
        counts = Counter(demo.output for demo in demos)
        assert abs(counts["positive"] - counts["negative"]) <= 1
        assert {(d.input, d.output) for d in demos} <= TRAIN_PAIRS
    three = split("t", 9, ["positive", "negative", "neutral"])
    for seed in range(10):
        picked = demo_ops.balanced(three, 3, random.Random(seed))
        assert sorted(d.output for d in picked) == ["negative", "neutral", "positive"]
    assert len(demo_ops.balanced(TRAIN[:3], 10, rng)) == 3  # no more than there is
    assert demo_ops.balanced((), 4, rng) == ()


def test_two_label_balance_holds_for_every_k():
    for seed in range(20):
        rng = random.Random(seed)
        for k in (2, 4, 6):
            counts = Counter(d.output for d in demo_ops.balanced(TRAIN, k, rng))
            assert counts["positive"] == counts["negative"] == k // 2


def test_the_two_demo_opening_move_shows_both_labels():
    moves = Moves(train=TRAIN)
    for seed in range(50):
        opening = moves.opening(SEED, random.Random(seed))
        two = [p for p, op in opening if op == "demos" and len(p.demos) == 2]
        assert two
        assert {d.output for d in two[0].demos} == {"positive", "negative"}, seed


def test_typical_demos_are_the_nearest_the_centroid():
    train = (
        ex("positive", "zebra xylophone quartz", "outlier"),
        ex("positive", "a good film", "a"),
        ex("negative", "a good film", "b"),
        ex("negative", "a good movie", "c"),
    )
    assert [d.id for d in demo_ops.typical(train, 2, hash_embed)] == ["a", "b"]
    assert [d.id for d in demo_ops.typical(train, 3, hash_embed)] == ["a", "b", "c"]
    assert demo_ops.typical((), 2, hash_embed) == ()


def test_add_one_adds_exactly_one_unused_demo_of_the_rarest_label():
    shown = demos_from([e for e in TRAIN if e.target == "positive"][:3])
    for seed in range(20):
        added = demo_ops.add_one(TRAIN, shown, random.Random(seed))
        assert added[:-1] == shown
        assert len(added) == len(shown) + 1
        assert added[-1].id not in {d.id for d in shown}
        assert added[-1].output == "negative"  # the label shown least
    assert demo_ops.add_one(TRAIN, demos_from(TRAIN), random.Random(0)) is None


def test_drop_one_drops_exactly_one():
    shown = demos_from(TRAIN[:4])
    dropped = set()
    for seed in range(30):
        fewer = demo_ops.drop_one(shown, random.Random(seed))
        assert len(fewer) == 3
        missing = [d for d in shown if d not in fewer]
        assert len(missing) == 1
        assert [d for d in shown if d in fewer] == list(fewer)  # order kept
        dropped.add(missing[0].id)
    assert dropped == {d.id for d in shown}
    assert demo_ops.drop_one((), random.Random(0)) is None


def test_swap_one_replaces_exactly_one_with_an_unused_same_label_demo():
    shown = demos_from(TRAIN[:4])
    for seed in range(30):
        swapped = demo_ops.swap_one(TRAIN, shown, random.Random(seed))
        assert len(swapped) == len(shown)
        changed = [i for i, (a, b) in enumerate(zip(shown, swapped, strict=True)) if a != b]
        assert len(changed) == 1
        i = changed[0]
        assert swapped[i].output == shown[i].output
        assert swapped[i].id not in {d.id for d in shown}
    assert demo_ops.swap_one(TRAIN, (), random.Random(0)) is None
    assert demo_ops.swap_one(TRAIN, demos_from(TRAIN), random.Random(0)) is None
    # With no unused example of the same label, any unused one.
    other = demo_ops.swap_one(TRAIN[:3], demos_from(TRAIN[:2]), random.Random(0))
    assert [d.id for d in other].count("t2") == 1


def test_fits_bounds_the_demo_characters():
    demo = Demo("x" * 10, "y")  # block "Input: xxxxxxxxxx\nOutput: y": 27 characters
    assert len(demo.block()) == 27
    assert demo_ops.fits([demo, demo], max_chars=58)  # each block counts 2 more
    assert not demo_ops.fits([demo, demo], max_chars=57)
    assert demo_ops.fits([], max_chars=0)
    assert demo_ops.MAX_DEMO_CHARS == 2400


def test_moves_keep_demos_within_their_space():
    long_train = tuple(
        ex("positive" if i % 2 else "negative", f"review {i} " + "word " * 30, f"L{i}")
        for i in range(10)
    )
    limit = 400  # room for two of these demonstrations, not three
    moves = Moves(train=long_train, max_demo_chars=limit)
    for seed in range(10):
        rng = random.Random(seed)
        opening = moves.opening(SEED, rng)
        assert max(len(p.demos) for p, _ in opening) == 2
        for prompt, _ in opening:
            assert demo_ops.fits(prompt.demos, limit)
            for found, _ in neighbours(moves, prompt, rng, count=10):
                assert demo_ops.fits(found.demos, limit)
                assert len(found.demos) <= 2
        two = next(p for p, _ in opening if len(p.demos) == 2)
        for _ in range(10):
            assert moves.neighbour(two, "demo_add", rng) is None


def test_opening_moves_are_distinct_prompts_when_few_demos_fit():
    long_train = tuple(
        ex("positive" if i % 2 else "negative", f"review {i} " + "word " * 30, f"L{i}")
        for i in range(10)
    )
    opening = Moves(train=long_train, max_demo_chars=400).opening(SEED, random.Random(0))
    keys = [prompt.key for prompt, _ in opening]
    assert len(keys) == len(set(keys))


def test_opening_moves_in_order():
    opening = Moves(train=TRAIN, embed=hash_embed).opening(SEED, random.Random(0))
    operators = [op for _, op in opening]
    assert operators[:3] == ["spec", "demos", "demos"]
    spec, four, two = (p for p, _ in opening[:3])
    assert spec.output_spec == LABEL_CLAUSE
    assert spec.demos == ()
    assert (four.output_spec, len(four.demos)) == (LABEL_CLAUSE, 4)
    assert (two.output_spec, len(two.demos)) == (LABEL_CLAUSE, 2)
    assert {d.output for d in two.demos} == {"positive", "negative"}
    assert "layout" in operators
    chat = next(p for p, op in opening if op == "layout")
    assert (chat.layout, chat.demos) == ("chat", four.demos)
    assert all(p.instruction == SEED.instruction for p, _ in opening)
    keys = [p.key for p, _ in opening]
    assert len(keys) == len(set(keys))
    assert SEED.key not in keys


# ------------------------------------------------------------------ phrases


INSTRUCTION = "Read the review. Decide its sentiment. Answer with one word."


def test_phrases_are_sentences_and_clauses():
    assert phrases.phrases(INSTRUCTION) == [
        "Read the review.",
        "Decide its sentiment.",
        "Answer with one word.",
    ]
    assert phrases.phrases("Task: read it, then answer!") == ["Task:", "read it,", "then answer!"]
    # a phrase edit keeps sentences whole: no dangling comma, a full stop at the end
    assert phrases.delete("Read the review, then answer.", random.Random(0)) in (
        "Then answer.",
        "Read the review.",
    )


def test_delete_removes_one_phrase():
    original = phrases.phrases(INSTRUCTION)
    removed = set()
    for seed in range(30):
        result = phrases.delete(INSTRUCTION, random.Random(seed))
        left = phrases.phrases(result)
        assert len(left) == len(original) - 1
        gone = [p for p in original if p not in left]
        assert len(gone) == 1
        assert [p for p in original if p in left] == left  # the others in their order
        removed.add(gone[0])
    assert removed == set(original)
    assert phrases.delete("Answer the question.", random.Random(0)) is None


def test_swap_keeps_the_same_phrases_in_another_order():
    original = phrases.phrases(INSTRUCTION)
    for seed in range(30):
        result = phrases.swap(INSTRUCTION, random.Random(seed))
        assert result != INSTRUCTION
        parts = phrases.phrases(result)
        assert sorted(lowered(parts)) == sorted(lowered(original))
        assert sum(a != b for a, b in zip(parts, original, strict=True)) == 2
        assert result[0].isupper()
    assert phrases.swap("Answer the question.", random.Random(0)) is None


def test_add_uses_a_phrase_from_the_shipped_bank():
    bank = phrases.default_bank()
    assert len(bank.add) >= 5
    assert len(bank.lead_ins) >= 2
    original = phrases.phrases(INSTRUCTION)
    used = set()
    for seed in range(40):
        result = phrases.add(INSTRUCTION, random.Random(seed))
        parts = phrases.phrases(result)
        assert len(parts) == len(original) + 1
        new = parts[0] if parts[1:] == original else parts[-1]
        assert parts[1:] == original or parts[:-1] == original
        assert new in bank.add
        used.add(new)
    assert len(used) > 3
    # A phrase the instruction has already is not added again.
    present = "Be concise. Answer the question."
    for seed in range(20):
        assert phrases.add(present, random.Random(seed)).count("Be concise") == 1
    full = phrases.PhraseBank(add=("Be concise.",), lead_ins=("Task:",))
    assert phrases.add(present, random.Random(0), full) is None


def test_lead_in_puts_a_bank_lead_in_first_once():
    bank = phrases.default_bank()
    result = phrases.lead_in(INSTRUCTION, random.Random(0))
    lead = result[: -len(INSTRUCTION) - 1]
    assert lead in bank.lead_ins
    assert result == f"{lead} {INSTRUCTION}"
    assert phrases.lead_in(result, random.Random(1)) is None


# ------------------------------------------------------------------ operators


def test_each_operator_changes_its_own_part():
    assert set(OPERATORS) == set(OPERATOR_CHANGES)
    moves = Moves(train=TRAIN)
    start = SEED.with_parts("x", output_spec=LABEL_CLAUSE, demos=demos_from(TRAIN[:2]))
    applied = Counter()
    for seed in range(20):
        rng = random.Random(seed)
        for prompt in (start, start.with_parts("layout", layout="chat")):
            for name in OPERATORS:
                move = moves.neighbour(prompt, name, rng)
                if move is None:
                    continue
                made, operator = move
                assert operator == name
                assert made.key != prompt.key
                assert made.changed_parts(prompt) in OPERATOR_CHANGES[name], name
                applied[name] += 1
    assert set(applied) == set(OPERATORS)  # every operator applies to such a prompt


def test_dropping_the_last_chat_demo_leaves_the_chat_layout():
    prompt = SEED.with_parts("x", demos=demos_from(TRAIN[:1]), layout="chat")
    made, _ = Moves(train=TRAIN).neighbour(prompt, "demo_drop", random.Random(0))
    assert (made.demos, made.layout) == ((), None)


def test_the_layout_operator_offers_chat_only_with_demos():
    moves = Moves(train=TRAIN)
    for seed in range(20):
        made, _ = moves.neighbour(SEED, "layout", random.Random(seed))
        assert made.layout == "system"


def test_the_spec_operator_can_remove_a_spec():
    moves = Moves(train=TRAIN)
    prompt = SEED.with_parts("x", output_spec=LABEL_CLAUSE)
    specs = {moves.neighbour(prompt, "spec", random.Random(s))[0].output_spec for s in range(40)}
    assert "" in specs
    assert LABEL_CLAUSE not in specs
    assert specs - {""} <= set(spec_clauses(TRAIN))


def test_same_seed_same_neighbours():
    moves = Moves(train=TRAIN, embed=hash_embed)
    prompt = SEED.with_parts("x", output_spec=LABEL_CLAUSE, demos=demos_from(TRAIN[:3]))
    weights = {"spec": 3.0, "demo_add": 0.5}
    for seed in range(10):
        first = neighbours(moves, prompt, random.Random(seed), count=6, weights=weights)
        again = neighbours(moves, prompt, random.Random(seed), count=6, weights=weights)
        assert [(p.key, op) for p, op in first] == [(p.key, op) for p, op in again]
        assert [p.origin for p, _ in first] == [p.origin for p, _ in again]
    one = moves.opening(SEED, random.Random(5))
    assert [p.key for p, _ in one] == [p.key for p, _ in moves.opening(SEED, random.Random(5))]
    one_seed = neighbours(moves, prompt, random.Random(1), count=6)
    another = neighbours(moves, prompt, random.Random(2), count=6)
    assert [p.key for p, _ in one_seed] != [p.key for p, _ in another]


def test_neighbours_are_new_distinct_and_never_excluded():
    moves = Moves(train=TRAIN)
    prompt = SEED.with_parts("x", output_spec=LABEL_CLAUSE, demos=demos_from(TRAIN[:3]))
    for seed in range(20):
        rng = random.Random(seed)
        first = neighbours(moves, prompt, rng, count=8)
        keys = [p.key for p, _ in first]
        assert len(first) == 8
        assert len(keys) == len(set(keys))
        assert prompt.key not in keys
        exclude = keys[:5]
        second = neighbours(moves, prompt, rng, count=8, exclude=exclude)
        assert second
        assert not {p.key for p, _ in second} & {prompt.key, *exclude}


def test_weights_steer_the_operators():
    moves = Moves(train=TRAIN)
    prompt = SEED.with_parts("x", output_spec=LABEL_CLAUSE, demos=demos_from(TRAIN[:3]))
    only_phrases = {name: (1.0 if name.startswith("phrase_") else 0.0) for name in OPERATORS}
    found = neighbours(moves, prompt, random.Random(0), count=6, weights=only_phrases)
    assert found
    # a zero weight is floored at 1e-3: such operators are rare, not impossible
    assert sum(op.startswith("phrase_") for _, op in found) >= len(found) - 1
