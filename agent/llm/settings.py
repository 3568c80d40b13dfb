"""How PromptPilot reaches its two models: explicit settings, never globals.

The *task model* runs the prompt being optimised; the *optimizer model* writes
new prompts (and judges, when an LLM judge is the metric). Each has its own
endpoint, so a cheap local model can run the task while a stronger one
proposes prompts, or the other way round.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from optimizers.evaluation.concurrency import LimitPolicy

Role = Literal["task", "optimizer"]

EMBEDDED_MODEL_ALIAS = "smollm2"
_KEY = re.compile(r"[!-~]+")  # printable ASCII, no spaces: what an HTTP header can carry


@dataclass(frozen=True, kw_only=True)
class ModelSettings:
    """Settings for one model role.

    ``base_url=None`` means the embedded llama.cpp server. The API key is kept
    out of ``repr`` and out of :meth:`public`, which is what runs record. Spaces and
    line breaks around it are dropped (a key read from a file ends in one); a key with
    others inside is refused here, because the HTTP library would reject the header
    later with an error that quotes the whole key.
    """

    base_url: str | None = None
    model: str = EMBEDDED_MODEL_ALIAS
    api_key: str | None = field(default=None, repr=False)
    temperature: float = 0.0
    max_tokens: int = 48
    timeout_s: float = 60.0
    max_retries: int = 4
    concurrency: int | None = None
    """Requests in flight at once; None: follow what the endpoint sustains (1-16)."""

    def __post_init__(self) -> None:
        if self.api_key is not None:
            key = self.api_key.strip()
            object.__setattr__(self, "api_key", key or None)
            if key and not _KEY.fullmatch(key):
                raise ValueError(
                    "the API key holds a space, a line break, a control or a non-ASCII "
                    "character (the key is not shown); set it again without them"
                )
        if self.max_tokens < 1:
            raise ValueError(f"max_tokens must be >= 1, got {self.max_tokens}")
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"temperature must be in [0, 2], got {self.temperature}")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")
        if self.timeout_s <= 0:
            raise ValueError(f"timeout_s must be > 0, got {self.timeout_s}")
        if self.max_retries < 0:
            raise ValueError(f"max_retries must be >= 0, got {self.max_retries}")

    @property
    def embedded(self) -> bool:
        """True when no endpoint is configured and the local server is used."""
        return self.base_url is None

    def public(self) -> dict[str, Any]:
        """The settings as recorded in a run's config: everything but the key."""
        data = asdict(self)
        data.pop("api_key")
        data["api_key_set"] = self.api_key is not None
        return data

    def limit_policy(self) -> LimitPolicy:
        """A fixed ``concurrency``, or the adaptive default."""
        if self.concurrency is None:
            return LimitPolicy.auto()
        return LimitPolicy.fixed(self.concurrency)

    def with_base_url(self, base_url: str) -> ModelSettings:
        """Point this role at a concrete endpoint (e.g. the started embedded server)."""
        return replace(self, base_url=base_url)


DEFAULT_TASK_SETTINGS = ModelSettings(temperature=0.0, max_tokens=48)
DEFAULT_OPTIMIZER_SETTINGS = ModelSettings(temperature=0.9, max_tokens=160)


def settings_from_env(role: Role, environ: Mapping[str, str]) -> ModelSettings:
    """Read ``PROMPTPILOT_<ROLE>_{BASE_URL,MODEL,API_KEY,...}`` from ``environ``.

    ``OPENAI_API_KEY`` is the fallback key, as every OpenAI-compatible client
    expects. Unset variables keep the role's defaults.
    """
    defaults = DEFAULT_TASK_SETTINGS if role == "task" else DEFAULT_OPTIMIZER_SETTINGS
    prefix = f"PROMPTPILOT_{role.upper()}_"

    def get(name: str) -> str | None:
        value = environ.get(prefix + name)
        return value if value else None

    converters: dict[str, tuple[str, Callable[[str], Any]]] = {
        "base_url": ("BASE_URL", str),
        "model": ("MODEL", str),
        "temperature": ("TEMPERATURE", float),
        "max_tokens": ("MAX_TOKENS", int),
        "timeout_s": ("TIMEOUT", float),
        "max_retries": ("MAX_RETRIES", int),
        "concurrency": ("CONCURRENCY", _count_or_auto),
    }
    overrides: dict[str, Any] = {}
    for attr, (name, kind) in converters.items():
        raw = get(name)
        if raw is None:
            continue
        try:
            overrides[attr] = kind(raw)
        except ValueError as exc:
            what = getattr(kind, "expected", kind.__name__)
            raise ValueError(f"{prefix}{name}={raw!r} is not a valid {what}") from exc
    key = get("API_KEY") or environ.get("OPENAI_API_KEY") or None
    if key is not None:
        overrides["api_key"] = key
    return replace(defaults, **overrides)


def _count_or_auto(raw: str) -> int | None:
    """``auto`` (adapt to the endpoint) or a whole number."""
    return None if raw.strip().lower() == "auto" else int(raw)


_count_or_auto.expected = "whole number or 'auto'"  # type: ignore[attr-defined]
