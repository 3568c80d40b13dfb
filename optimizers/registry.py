"""The one list of optimizers: names, where each class lives, and how to speak of it.

Every other list of optimizer names (the graph's actions, the planner's choices,
the CLI and form options, the chat's words, the plots' colours) derives from
:data:`REGISTRY`. Classes are imported on first use, so one optimizer's import
cost (torch and gpytorch for ZOPO) is not everyone's.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

from optimizers.base import Optimizer

AUTO = "auto"
"""Not an optimizer: the planner chooses, step by step, among the rotation."""

STRUCTURE, GPO, ZOPO = "structure", "gpo", "zopo"
TEXTGRAD, APE, RANDOM = "textgrad", "ape", "random"
"""The names, as constants for the code that means one optimizer (its class, its plots)."""


@dataclass(frozen=True)
class OptimizerInfo:
    """One registered optimizer."""

    name: str
    """The word a person types ("try gpo now") and every record stores."""
    target: str
    """``module:Class``, imported on use."""
    title: str
    """How it is named in prose ("GPO", "textual gradients")."""
    summary: str
    """What one step does, in a few plain words (planner prompt, chat, help)."""
    color: str
    """Its colour in every plot."""
    rotation: bool = False
    """Whether the automatic run tries it when a method stops improving (in this order)."""
    aliases: tuple[str, ...] = ()
    """Other words a person may use for it."""
    advice: str = ""
    """When the planner should choose it."""


REGISTRY: tuple[OptimizerInfo, ...] = (
    OptimizerInfo(
        name=STRUCTURE,
        target="optimizers.structure.optimizer:StructureSearch",
        title="structured search",
        summary="an answer format, worked examples from the training data, another layout, "
        "phrase edits; needs no writing model",
        color="#ff7f0e",
        rotation=True,
        aliases=("structured",),
        advice="best first, and on small models",
    ),
    OptimizerInfo(
        name=GPO,
        target="optimizers.gpo.optimizer:GPO",
        title="GPO",
        summary="an LLM rewrites the current prompt using the best prompts so far",
        color="#1f77b4",
        rotation=True,
        advice="good early and when small edits help",
    ),
    OptimizerInfo(
        name=ZOPO,
        target="optimizers.zopo.optimizer:ZOPOOptimizer",
        title="ZOPO",
        summary="a Gaussian-process search over many generated candidate prompts",
        color="#d62728",
        rotation=True,
        advice="good when GPO stagnates",
    ),
    OptimizerInfo(
        name=TEXTGRAD,
        target="optimizers.textgrad:TextGrad",
        title="textual gradients",
        summary="critiques of the errors on training examples, then edits",
        color="#2ca02c",
        rotation=True,
        aliases=("text grad", "textual gradient", "textual gradients"),
    ),
    OptimizerInfo(
        name=APE,
        target="optimizers.baselines.ape:APE",
        title="APE",
        summary="instructions induced from the training examples",
        color="#9467bd",
        advice="a baseline",
    ),
    OptimizerInfo(
        name=RANDOM,
        target="optimizers.baselines.random_search:RandomSearch",
        title="random search",
        summary="random picks among generated candidates",
        color="#8c564b",
        advice="a baseline",
    ),
)

NAMES: tuple[str, ...] = tuple(info.name for info in REGISTRY)
"""Every optimizer's name, in the registry's order."""
CHOICES: tuple[str, ...] = (AUTO, *NAMES)
"""What a person may choose to run: the automatic run or one optimizer alone."""
ROTATION: tuple[str, ...] = tuple(info.name for info in REGISTRY if info.rotation)
"""The automatic run's methods, in the order it tries them."""

_BY_NAME = {info.name: info for info in REGISTRY}


def info(name: str) -> OptimizerInfo:
    """The registered optimizer ``name`` (``ValueError`` naming the choices otherwise)."""
    if name not in _BY_NAME:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(NAMES)}")
    return _BY_NAME[name]


def optimizer_class(name: str) -> type[Optimizer]:
    """The class registered under ``name``, imported now."""
    module, cls = info(name).target.split(":")
    return getattr(importlib.import_module(module), cls)


def name_pattern() -> str:
    """A regex alternation matching any optimizer's name or alias (longest first)."""
    words = [word for item in REGISTRY for word in (item.name, *item.aliases)]
    words.sort(key=len, reverse=True)
    return "|".join(re.escape(word).replace(r"\ ", r"\s?") for word in words)


def canonical(word: str) -> str | None:
    """The optimizer a word names ("Text grad" → "textgrad"), or None.

    Spaces do not count, as in :func:`name_pattern` (which lets each be left out).
    """
    squeezed = re.sub(r"\s+", "", word.lower())
    for item in REGISTRY:
        if squeezed in {spoken.replace(" ", "") for spoken in (item.name, *item.aliases)}:
            return item.name
    return None
