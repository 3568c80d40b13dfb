"""The optimizer registry is the one list of names; everything else derives from it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from optimizers.registry import (
    CHOICES,
    NAMES,
    REGISTRY,
    ROTATION,
    canonical,
    info,
    name_pattern,
    optimizer_class,
)

ROOT = Path(__file__).resolve().parents[3]
PACKAGES = ("agent", "optimizers", "memory", "ui")


@pytest.mark.parametrize("name", NAMES)
def test_every_entry_loads_the_class_of_that_name(name):
    assert optimizer_class(name).name == name


def test_the_derived_lists():
    assert ("auto", *NAMES) == CHOICES
    assert ROTATION == ("structure", "gpo", "zopo", "textgrad")
    assert len({item.color for item in REGISTRY}) == len(REGISTRY)


def test_unknown_names_are_refused_with_the_choices():
    with pytest.raises(ValueError, match="choose one of structure, gpo"):
        info("dspy")


@pytest.mark.parametrize(
    ("word", "name"),
    [("GPO", "gpo"), ("Text grad", "textgrad"), ("textual gradients", "textgrad"),
     ("textgrad", "textgrad"), ("structured", "structure"), ("banana", None)],
)  # fmt: skip
def test_canonical_reads_names_and_aliases(word, name):
    assert canonical(word) == name


def test_the_pattern_matches_every_name_and_alias_whole():
    pattern = re.compile(rf"^(?:{name_pattern()})$", re.IGNORECASE)
    for item in REGISTRY:
        for word in (item.name, *item.aliases):
            assert pattern.match(word), word
    assert pattern.match("text  grad") is None  # one optional space, as people type it
    assert not pattern.match("zopo2")


def test_no_module_spells_an_optimizer_name_but_the_registry():
    """The names appear in one place: a string literal equal to one is a second list."""
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "optimizers" / "registry.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and node.value in NAMES:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert not found, "spell these through optimizers.registry:\n" + "\n".join(found)
